"""Step 1's detail per kind of column: what a reviewer browses column by column.

Cheap figures ride on Step 1's one aggregate scan (`detail_sql`): the 5 % and 95 %
quantiles (with the quartiles, in one `quantile_cont`), zeros, negatives, infinities,
string lengths and empty strings. The rest costs a pass of its own, so each runs over the
few columns that need it: dates are counted per hour, day or month (exact) for the period
histogram and the gaps of a time index; only a column whose first and last values (by row)
are its extremes is checked for being monotonic (one ordered window); and the median
absolute deviation and the words and length histogram of free text come from one query
over a sample of about `SAMPLE_ROWS` rows (the whole table when smaller), labelled so:
exact MAD over every row cost more than all of Step 1's quantiles (measured on the 200 MB
bench file), and a regular expression over every string was 40 % of Step 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from steps.engine import (
    SAMPLE_ROWS,
    Column,
    hash_sample,
    may_be_non_finite,
    present_sql,
    quote_ident,
    seeded_sample,
)
from steps.results import ToDict
from steps.statistics.results import Histogram

LENGTH_BINS = 20
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")
# Period bins for a date histogram: the first period giving at most this many bins.
DATE_MAX_BINS = 60
# Dates are counted per the finest of hour, day and month giving at most this many keys.
DATE_MAX_KEYS = 20_000
# Rows at each end of the table in which a column's first and last present values are sought.
END_ROWS = 1000
_PERIODS = (
    ("hour", dt.timedelta(hours=1)),
    ("day", dt.timedelta(days=1)),
    ("week", dt.timedelta(weeks=1)),
    ("month", dt.timedelta(days=30.44)),
    ("quarter", dt.timedelta(days=91.31)),
    ("year", dt.timedelta(days=365.25)),
)


@dataclass(frozen=True)
class NumericDetail(ToDict):
    """Tails, special values and spread of a numeric column (over its present values).

    `cv` = std / |mean|; `mad` = median absolute deviation from the median, on a seeded
    sample of `mad_sample_rows` rows when that is set; `monotonic`: `increasing` or
    `decreasing` when the values never go against row order (ties allowed), else None.
    `date_shaped`: integer values that read as a YYYYMMDD date (month 1-12, day 1-31, years
    1800-2200), counted so an integer date column is not taken for a measurement.
    """

    p05: float | None
    p95: float | None
    zeros: int
    negatives: int
    infinite: int
    cv: float | None
    mad: float | None
    mad_sample_rows: int | None
    monotonic: str | None
    date_shaped: int = 0


@dataclass(frozen=True)
class Gaps(ToDict):
    """Spacing of the distinct values of a date column, at the histogram's `resolution`.

    `largest_seconds` is the widest step between consecutive values (after `largest_after`);
    `typical_seconds` the most common step; `irregular_share` the share of steps that differ
    from it (0: a regular time index).
    """

    resolution: str
    largest_seconds: float | None
    largest_after: str | None
    typical_seconds: float | None
    irregular_share: float | None


@dataclass(frozen=True)
class DateDetail(ToDict):
    """Range, a histogram by period, gaps and repeats of a date or timestamp column."""

    span_seconds: float | None
    period: str | None
    bins: tuple[tuple[str, int], ...]
    gaps: Gaps
    duplicates: int
    infinite: int
    monotonic: str | None


@dataclass(frozen=True)
class TextDetail(ToDict):
    """Lengths (in characters) and words of a free-text column; `empty`: empty strings.

    Lengths and `empty` are over every row; the length histogram and the words (runs of
    non-space characters) over a seeded sample of `sample_rows` rows when that is set.
    """

    length_min: int | None
    length_mean: float | None
    length_max: int | None
    empty: int
    length_histogram: Histogram
    words_min: int | None
    words_mean: float | None
    words_max: int | None
    sample_rows: int | None


@dataclass(frozen=True)
class CategoryDetail(ToDict):
    """How unevenly a categorical or boolean column's values are spread.

    `top_share`: the most frequent value's share of the present values; `ratio`: its count
    over the least frequent value's; `other`: values outside the top values shown.
    """

    top_share: float | None
    ratio: float | None
    other: int


def _infinite_sql(column: Column, raw: str) -> str:
    return f"count_if(isinf({raw}))" if may_be_non_finite(column) else "0"


def _date_shaped_sql(column: Column, v: str) -> str:
    """Integer values that read as YYYYMMDD (the arithmetic stays in the integer type)."""
    if not column.dtype.upper().startswith(_INTEGER_TYPES):
        return "0"
    return (
        f"count_if({v} BETWEEN 18000101 AND 22001231 AND ({v} // 100) % 100 BETWEEN 1 AND 12 "
        f"AND {v} % 100 BETWEEN 1 AND 31)"
    )


def detail_sql(column: Column, v: str, raw: str) -> list[str]:
    """The expressions this column adds to Step 1's scan (`v`: present values, `raw`: as
    stored)."""
    if column.is_numeric:
        return [
            f"count_if({v} = 0)",
            f"count_if({v} < 0)",
            _infinite_sql(column, raw),
            _date_shaped_sql(column, v),
        ]
    if column.is_temporal:
        return [_infinite_sql(column, raw)]
    if column.is_text:
        return [f"min(length({v}))", f"sum(length({v}))", f"count_if({v} = '')"]
    return []


def ends(
    con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[Column]
) -> dict[str, tuple[Any, Any]]:
    """Each column's first and last present value by row, sought among the first and last
    `END_ROWS` rows (None where none is there)."""
    if not cols:
        return {}
    picks = ", ".join(
        f"arg_min({present_sql(c)}, rowid), arg_max({present_sql(c)}, rowid)" for c in cols
    )
    source = quote_ident(table)
    # Filters on rowid skip straight to those rows; an ORDER BY ... LIMIT would carry every
    # column of every row through a top-N heap.
    [(lo, hi)] = con.execute(f"SELECT min(rowid), max(rowid) FROM {source}").fetchall()
    if lo is None:
        return {}
    edges = f"rowid < {lo + END_ROWS} OR rowid > {hi - END_ROWS}"
    [row] = con.execute(f"SELECT {picks} FROM {source} WHERE {edges}").fetchall()
    return {c.name: (row[2 * i], row[2 * i + 1]) for i, c in enumerate(cols)}


def monotonic_candidate(lo: Any, hi: Any, first: Any, last: Any) -> bool:
    """Whether the values may be sorted by row: they start at one extreme, end at the other."""
    return first is not None and lo != hi and (first, last) in ((lo, hi), (hi, lo))


def monotonic(
    con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[Column]
) -> dict[str, str | None]:
    """`increasing` or `decreasing` (never against row order, ties allowed), else None."""
    if not cols:
        return {}
    lags = ", ".join(
        f"{present_sql(c)} AS v{i}, lag({present_sql(c)} IGNORE NULLS) OVER (ORDER BY rowid) "
        f"AS p{i}"
        for i, c in enumerate(cols)
    )
    checks = ", ".join(f"bool_and(v{i} >= p{i}), bool_and(v{i} <= p{i})" for i in range(len(cols)))
    [row] = con.execute(
        f"SELECT {checks} FROM (SELECT {lags} FROM {quote_ident(table)})"
    ).fetchall()
    out: dict[str, str | None] = {}
    for i, c in enumerate(cols):
        up, down = row[2 * i], row[2 * i + 1]
        out[c.name] = "increasing" if up else "decreasing" if down else None
    return out


def numeric_detail(
    values: Sequence[Any],
    *,
    p05: float | None,
    p95: float | None,
    mean: float | None,
    std: float | None,
    mad: float | None,
    sample_rows: int | None,
    monotonic: str | None,
) -> NumericDetail:
    zeros, negatives, infinite, date_shaped = values[:4]
    return NumericDetail(
        p05=p05,
        p95=p95,
        zeros=int(zeros or 0),
        negatives=int(negatives or 0),
        infinite=int(infinite or 0),
        cv=std / abs(mean) if std is not None and mean else None,
        mad=None if mad is None else float(mad),
        mad_sample_rows=sample_rows,
        monotonic=monotonic,
        date_shaped=int(date_shaped or 0),
    )


def _period(span: dt.timedelta) -> str:
    return next(
        (name for name, width in _PERIODS if span / width <= DATE_MAX_BINS), _PERIODS[-1][0]
    )


def _period_start(moment: dt.datetime, period: str) -> dt.datetime:
    if period == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    quarter = 3 * ((moment.month - 1) // 3) + 1
    return day.replace(day=1, month={"month": moment.month, "quarter": quarter}.get(period, 1))


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime(value.year, value.month, value.day)


def _gaps(moments: list[dt.datetime], unit: str) -> Gaps:
    if len(moments) < 2:
        return Gaps(unit, None, None, None, None)
    steps = np.diff(np.array(moments, dtype="datetime64[s]")).astype(np.int64)
    largest = int(steps.argmax())
    values, counts = np.unique(steps, return_counts=True)
    typical = int(values[counts.argmax()])
    return Gaps(
        resolution=unit,
        largest_seconds=float(steps[largest]),
        largest_after=moments[largest].isoformat(),
        typical_seconds=float(typical),
        irregular_share=float((steps != typical).mean()),
    )


def _unit(column: Column, span: dt.timedelta) -> str:
    """The finest of hour, day and month counting `span` in at most `DATE_MAX_KEYS` keys
    (dates start at days)."""
    units = (("hour", dt.timedelta(hours=1)), ("day", dt.timedelta(days=1)))
    for name, width in units[column.dtype.upper() == "DATE" :]:
        if span / width <= DATE_MAX_KEYS:
            return name
    return "month"


def _span(lo: Any, hi: Any) -> dt.timedelta | None:
    return None if lo is None or hi is None else _as_datetime(hi) - _as_datetime(lo)


def date_counts(
    con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[tuple[Column, Any, Any]]
) -> dict[str, tuple[str, dict[dt.datetime, int]]]:
    """Exact counts per hour, day or month of each (column, min, max), in one query."""
    found = [(c, _unit(c, span)) for c, lo, hi in cols if (span := _span(lo, hi)) is not None]
    if not found:
        return {}
    parts = [
        f"(SELECT {i} AS col, date_trunc('{unit}', {present_sql(c)}) AS k, count(*) AS n "
        f"FROM {quote_ident(table)} WHERE {present_sql(c)} IS NOT NULL GROUP BY 2)"
        for i, (c, unit) in enumerate(found)
    ]
    out: dict[str, tuple[str, dict[dt.datetime, int]]] = {c.name: (unit, {}) for c, unit in found}
    for i, key, n in con.execute(" UNION ALL ".join(parts)).fetchall():
        out[found[i][0].name][1][_as_datetime(key)] = int(n)
    return out


def date_detail(
    values: Sequence[Any],
    counts: tuple[str, dict[dt.datetime, int]] | None,
    *,
    lo: Any,
    hi: Any,
    count: int,
    n_distinct: int,
    monotonic: str | None,
) -> DateDetail:
    unit, by_unit = counts or ("day", {})
    span = _span(lo, hi)
    period = _period(span) if span is not None else None
    bins: dict[dt.datetime, int] = {}
    for key, n in by_unit.items():
        start = _period_start(key, period or unit)
        bins[start] = bins.get(start, 0) + n
    return DateDetail(
        span_seconds=None if span is None else span.total_seconds(),
        period=period,
        bins=tuple((start.isoformat(), n) for start, n in sorted(bins.items())),
        gaps=_gaps(sorted(by_unit), unit),
        duplicates=count - n_distinct,
        infinite=int(values[0] or 0),
        monotonic=monotonic,
    )


def category_detail(
    count: int, tops: Sequence[tuple[str, int]], least: int | None
) -> CategoryDetail:
    if not tops or count == 0:
        return CategoryDetail(None, None, 0)
    top = tops[0][1]
    return CategoryDetail(
        top_share=top / count,
        ratio=top / least if least else None,
        other=count - sum(n for _, n in tops),
    )


def _length_histogram(lengths: Mapping[int, int]) -> Histogram:
    """At most `LENGTH_BINS` bins of whole lengths, `[edges[i], edges[i + 1])`, from exact
    counts per length."""
    if not lengths:
        return Histogram((), ())
    lo, hi = min(lengths), max(lengths)
    width = -(-(hi - lo + 1) // LENGTH_BINS)
    counts = [0] * -(-(hi - lo + 1) // width)
    for length, n in lengths.items():
        counts[(length - lo) // width] += int(n)
    edges = tuple(float(lo + width * i) for i in range(len(counts) + 1))
    return Histogram(edges, tuple(counts))


@dataclass(frozen=True)
class Sampled:
    """What Step 1 reads from a sample: MAD per numeric column, words and length counts
    per free-text column; `sample_rows` None when the sample is the whole table."""

    mad: dict[str, float | None]
    words: dict[str, tuple[Any, Any, Any]]
    lengths: dict[str, dict[int, int]]
    sample_rows: int | None


def _sample_clause(n_rows: int, has_rowid: bool) -> str:
    """About `SAMPLE_ROWS` rows: in a base table by a hash of the rowid (as cheap as a
    plain scan); in a view, which has no rowid, DuckDB's seeded reservoir (a costlier scan;
    a hash of whole rows of text cost as much)."""
    if n_rows <= SAMPLE_ROWS:
        return ""
    if has_rowid:
        return f"WHERE {hash_sample('rowid', SAMPLE_ROWS, n_rows)}"
    return seeded_sample(SAMPLE_ROWS)


def sampled(
    con: duckdb.DuckDBPyConnection,
    table: str,
    numeric: Sequence[Column],
    text: Sequence[Column],
    *,
    n_rows: int,
    has_rowid: bool,
) -> Sampled:
    """MAD of `numeric` and the words and lengths of `text`, on one seeded sample."""
    parts = [f"mad(CAST({present_sql(c)} AS DOUBLE))" for c in numeric]
    for c in text:
        v = present_sql(c)
        split = f"len(regexp_split_to_array(trim({v}), '\\s+'))"
        words = f"CASE WHEN trim({v}) = '' THEN 0 ELSE {split} END"
        parts += [f"min({words})", f"avg({words})", f"max({words})", f"histogram(length({v}))"]
    if not parts:
        return Sampled({}, {}, {}, None)
    sample = _sample_clause(n_rows, has_rowid)
    sql = f"SELECT count(*), {', '.join(parts)} FROM {quote_ident(table)} {sample}"
    [(rows, *row)] = con.execute(sql).fetchall()
    k = len(numeric)
    texts = [row[k + 4 * i : k + 4 * i + 4] for i in range(len(text))]
    return Sampled(
        mad={c.name: row[i] for i, c in enumerate(numeric)},
        words={c.name: tuple(t[:3]) for c, t in zip(text, texts, strict=True)},
        lengths={c.name: dict(t[3] or {}) for c, t in zip(text, texts, strict=True)},
        sample_rows=int(rows) if sample else None,
    )


def text_detail(
    name: str, values: Sequence[Any], *, count: int, length_max: int | None, found: Sampled
) -> TextDetail:
    """A free-text column's detail from its main-scan values and the sample."""
    lo, total, empty = values[:3]
    words = found.words.get(name, (None, None, None))
    return TextDetail(
        length_min=lo,
        length_mean=total / count if count else None,
        length_max=length_max,
        empty=int(empty or 0),
        length_histogram=_length_histogram(found.lengths.get(name, {})),
        words_min=words[0],
        words_mean=words[1],
        words_max=words[2],
        sample_rows=found.sample_rows,
    )


def has_rowid(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `table` is a base table (its rows have a `rowid`); a view's rows have none."""
    [(found,)] = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]
    ).fetchall()
    return bool(found)
