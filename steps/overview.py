"""Step 1 Overview: what the table holds, column by column, computed inside DuckDB.

All per-column figures except the value counts come from one multi-column aggregate query;
the value counts (top values and exact distinct counts) come from one UNION ALL query of
per-column GROUP BYs. A single aggregate with one `count(DISTINCT ...)` per column was
measured at 3.1 s on 1M rows x 22 columns against 0.9 s for the GROUP BYs, and `SUMMARIZE`
is slow on text, hence this shape.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import duckdb

from steps import column_detail
from steps.column_detail import CategoryDetail, DateDetail, NumericDetail, TextDetail
from steps.engine import Column, columns, present_sql, quote_ident, row_count
from steps.missingness import Missingness, missingness
from steps.numeric import is_integer, numeric_from, numeric_select, pilots
from steps.results import NOT_REPORTED, ToDict
from steps.statistics.results import COUNTED_VALUES, ValueCounts

Kind = Literal["numeric", "categorical", "datetime", "boolean", "text", "identifier"]

TOP_VALUES = 5
# Past this many columns, per-column aggregates come from unpivoted data (`_long_aggregates`).
WIDE_TABLE_COLUMNS = 200
NO_DATA_ROWS = "no data rows"

# Identifiers: every value present and unique, in a table large enough for that to mean
# something, and (for strings) short tokens without spaces.
IDENTIFIER_MIN_ROWS = 20
IDENTIFIER_MAX_LENGTH = 64
# Categorical text: few distinct values, each repeated on average.
CATEGORICAL_MAX_DISTINCT = 50
_BOOLEAN_TOKENS = frozenset({"true", "false", "yes", "no", "y", "n", "t", "f"})
_ID_NAME = re.compile(r"(^|[^a-z])(id|key|uuid|guid)$|^(id|key)([^a-z]|$)", re.IGNORECASE)

# Logical bytes per value by DuckDB type, for the memory estimate.
_WIDTHS = {
    "BOOLEAN": 1,
    "TINYINT": 1,
    "UTINYINT": 1,
    "SMALLINT": 2,
    "USMALLINT": 2,
    "INTEGER": 4,
    "UINTEGER": 4,
    "FLOAT": 4,
    "DATE": 4,
    "HUGEINT": 16,
    "UHUGEINT": 16,
    "UUID": 16,
    "INTERVAL": 16,
}
_DEFAULT_WIDTH = 8
_STRING_HEADER_BYTES = 16
MEMORY_METHOD = (
    "estimated logical size: rows x type width for fixed-width columns, plus a 16-byte "
    "header and the UTF-8 bytes of every non-missing string (DuckDB's compressed storage "
    "is usually smaller)"
)


@dataclass(frozen=True)
class ColumnSummary(ToDict):
    """One column's figures; numeric statistics are None for non-numeric columns.

    The `*_detail` figures are those of the column's kind (`steps.column_detail`), None
    for the other kinds: numeric for numeric types, date for dates and timestamps, text for
    kind `text`, category for kinds `categorical` and `boolean`.
    """

    name: str
    dtype: str
    kind: Kind
    count: int
    n_missing: int
    n_distinct: int
    mean: float | None
    std: float | None
    min: Any
    q1: float | None
    median: float | None
    q3: float | None
    max: Any
    top_values: tuple[tuple[str, int], ...]
    numeric_detail: NumericDetail | None = None
    date_detail: DateDetail | None = None
    text_detail: TextDetail | None = None
    category_detail: CategoryDetail | None = None


@dataclass(frozen=True)
class Overview(ToDict):
    """Step 1: the table's shape, per-column summaries, and where values are missing.

    `value_counts` is not in the report (its first `TOP_VALUES` are each column's
    `top_values`): it is what Step 3 reads its top values from.
    """

    n_rows: int
    n_columns: int
    memory_bytes: int
    memory_method: str
    columns: tuple[ColumnSummary, ...]
    kind_counts: dict[str, int]
    missing_by_column: dict[str, int]
    notes: tuple[str, ...]
    missingness: Missingness
    value_counts: dict[str, ValueCounts] = field(
        default_factory=dict, repr=False, metadata={NOT_REPORTED: True}
    )

    def column(self, name: str) -> ColumnSummary:
        return next(c for c in self.columns if c.name == name)


def fresh_name(taken: list[str], base: str) -> str:
    """A helper column name that no column of the table already has."""
    name = base
    while name in taken:
        name += "_"
    return name


# Steps 1 and 2, cleaning and the outlier methods read columns through this name.
value_expr = present_sql


def _general_select(
    column: Column,
    pilot: Any | None,
    *,
    pilot_sql: str | None = None,
    raw: str | None = None,
) -> list[str]:
    """Aggregates for one column: numeric statistics, or count/min/max/string facts, then
    its kind's detail (`raw`: the values as stored)."""
    v = value_expr(column)
    if column.is_numeric:
        base = numeric_select(column, pilot, pilot_sql=pilot_sql)
    elif column.is_text:
        base = [f"count({v})", f"sum(strlen({v}))", f"max(length({v}))"]
    else:
        base = [f"count({v})", f"min({v})", f"max({v})"]
    raw = quote_ident(column.name) if raw is None else raw
    return base + column_detail.detail_sql(column, v, raw)


def _value_counts_query(table: str, cols: list[Column]) -> str:
    """Top values and exact distinct count per column, one GROUP BY each, in one query."""
    source = quote_ident(table)
    parts = []
    for i, column in enumerate(cols):
        v = value_expr(column)
        parts.append(
            f"(SELECT {i} AS col, CAST(v AS VARCHAR) AS v, n, nd, least FROM ("
            f"SELECT {v} AS v, count(*) AS n, count(*) OVER () AS nd, "
            f"min(count(*)) OVER () AS least FROM {source} "
            f"WHERE {v} IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT {COUNTED_VALUES}))"
        )
    return " UNION ALL ".join(parts)


def value_counts(
    con: duckdb.DuckDBPyConnection, table: str, cols: list[Column]
) -> tuple[list[int], list[tuple[tuple[str, int], ...]], list[int | None]]:
    """Exact distinct counts, top values (most frequent first, ties by value) and the count
    of the least frequent value."""
    distinct = [0] * len(cols)
    least: list[int | None] = [None] * len(cols)
    tops: list[list[tuple[str, int]]] = [[] for _ in cols]
    if len(cols) > WIDE_TABLE_COLUMNS:
        position = {c.name: i for i, c in enumerate(cols)}
        by_type: dict[str, list[Column]] = {}
        for column in cols:
            by_type.setdefault(column.dtype, []).append(column)
        rows = [
            (position[name], *found)
            for group in by_type.values()
            for name, *found in con.execute(_long_value_counts_query(table, group)).fetchall()
        ]
    else:
        rows = con.execute(_value_counts_query(table, cols)).fetchall() if cols else []
    for col, v, n, nd, fewest in rows:
        distinct[col] = int(nd)
        least[col] = int(fewest)
        tops[col].append((v, int(n)))
    return distinct, [tuple(t) for t in tops], least


def _width(column: Column) -> int:
    dtype = column.dtype.upper()
    return _WIDTHS.get(dtype, 16 if dtype.startswith("DECIMAL") else _DEFAULT_WIDTH)


def _unique_and_full(n_rows: int, count: int, n_distinct: int) -> bool:
    return n_rows >= IDENTIFIER_MIN_ROWS and count == n_rows == n_distinct


def _identifier_shaped(n_rows: int, count: int, n_distinct: int, max_length: int | None) -> bool:
    """Unique, full, short text: an identifier unless a value holds whitespace."""
    short = (max_length or 0) <= IDENTIFIER_MAX_LENGTH
    return short and _unique_and_full(n_rows, count, n_distinct)


def _kind(
    column: Column,
    *,
    n_rows: int,
    count: int,
    n_distinct: int,
    tops: tuple[tuple[str, int], ...],
    lo: Any,
    hi: Any,
    max_length: int | None,
    spaced: bool,
) -> Kind:
    """The column's kind, from its type and a few counted facts about its values."""
    if column.is_boolean:
        return "boolean"
    if column.is_temporal:
        return "datetime"
    if column.is_numeric:
        if is_integer(column) and n_distinct == 2 and (lo, hi) == (0, 1):
            return "boolean"
        dense = hi is not None and hi - lo + 1 == n_distinct
        unique_and_full = _unique_and_full(n_rows, count, n_distinct)
        if is_integer(column) and unique_and_full and (dense or _ID_NAME.search(column.name)):
            return "identifier"
        return "numeric"
    if not column.is_text:
        return "categorical"
    # The loader keeps `Yes`/`No` as written, so the kind is told from the labels: at most
    # two once case and spaces are set aside (`TRUE`, `true`, `False`), all of them tokens.
    labels = {v.strip().lower() for v, _ in tops}
    if 0 < n_distinct <= len(tops) and len(labels) <= 2 and labels <= _BOOLEAN_TOKENS:
        return "boolean"
    if _identifier_shaped(n_rows, count, n_distinct, max_length) and not spaced:
        return "identifier"
    if 0 < n_distinct <= CATEGORICAL_MAX_DISTINCT and n_distinct * 2 <= count:
        return "categorical"
    return "text"


def _may_be_text_identifier(
    column: Column, values: tuple[Any, ...], *, n_rows: int, n_distinct: int
) -> bool:
    """Text that `_kind` calls an identifier unless a value holds whitespace."""
    return column.is_text and _identifier_shaped(n_rows, int(values[0]), n_distinct, values[2])


_WHITESPACE = "count_if(regexp_matches({v}, '\\s'))"


def _with_whitespace(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> set[str]:
    """Which of these text columns hold whitespace in some value.

    Asked only of identifier candidates: a regular expression over every string of every
    text column was 40 % of Step 1's main scan on the 200 MB bench file. (A table too wide
    for one SELECT counts it in its unpivoted scan instead, where it costs nothing extra.)
    """
    if not names:
        return set()
    checks = ", ".join(_WHITESPACE.format(v=quote_ident(n)) for n in names)
    [found] = con.execute(f"SELECT {checks} FROM {quote_ident(table)}").fetchall()
    return {n for n, count in zip(names, found, strict=True) if count}


def _summary(
    column: Column,
    values: tuple[Any, ...],
    *,
    n_rows: int,
    n_distinct: int,
    tops: tuple[tuple[str, int], ...],
    spaced: bool,
) -> tuple[ColumnSummary, int]:
    """The column's summary and its estimated logical size in bytes."""
    numeric = numeric_from(values) if column.is_numeric else None
    count = int(values[0])
    max_length, lo, hi = None, None, None
    size = n_rows * _width(column)
    if column.is_text:
        size = count * _STRING_HEADER_BYTES + int(values[1] or 0)
        max_length = values[2]
    elif numeric is not None:
        lo, hi = numeric.min, numeric.max
    else:
        lo, hi = values[1], values[2]
    kind = _kind(
        column,
        n_rows=n_rows,
        count=count,
        n_distinct=n_distinct,
        tops=tops,
        lo=lo,
        hi=hi,
        max_length=max_length,
        spaced=spaced,
    )
    summary = ColumnSummary(
        name=column.name,
        dtype=column.dtype,
        kind=kind,
        count=count,
        n_missing=n_rows - count,
        n_distinct=n_distinct,
        mean=numeric.mean if numeric else None,
        std=numeric.std if numeric else None,
        min=lo,
        q1=numeric.q1 if numeric else None,
        median=numeric.median if numeric else None,
        q3=numeric.q3 if numeric else None,
        max=hi,
        top_values=tops,
    )
    return summary, size


def _wide_aggregates(
    con: duckdb.DuckDBPyConnection, table: str, cols: list[Column]
) -> list[tuple[Any, ...]]:
    """Every column's aggregates from one SELECT with a few expressions per column."""
    numeric = [c for c in cols if c.is_numeric]
    shift = dict(zip((c.name for c in numeric), pilots(con, table, numeric), strict=True))
    selects = [_general_select(c, shift.get(c.name)) for c in cols]
    flat = [s for group in selects for s in group]
    if not flat:
        return []
    (row,) = con.execute(f"SELECT {', '.join(flat)} FROM {quote_ident(table)}").fetchall()
    out, start = [], 0
    for group in selects:
        out.append(tuple(row[start : start + len(group)]))
        start += len(group)
    return out


def _long_source(table: str, group: list[Column]) -> str:
    """The columns of one type as (col, v) rows: one GROUP BY then serves them all."""
    body = ", ".join(quote_ident(c.name) for c in group)
    v = value_expr(Column(name="v", dtype=group[0].dtype))
    return (
        f"(SELECT col, {v} AS v, v AS raw FROM (UNPIVOT (SELECT {body} FROM "
        f"{quote_ident(table)}) ON COLUMNS(*) INTO NAME col VALUE v))"
    )


def _long_group(
    con: duckdb.DuckDBPyConnection, table: str, group: list[Column]
) -> tuple[dict[str, tuple[Any, ...]], set[str]]:
    """The aggregates of `_general_select` for same-typed columns, one row per column, and
    which of them (if text) hold whitespace.

    Each column's pilot comes from a join, so the exact shifted sums work as in the wide
    query. A column without a value has no row in the unpivoted data; it gets none here.
    """
    v = Column(name="v", dtype=group[0].dtype)
    source = _long_source(table, group)
    if v.is_numeric:
        pilot = "SELECT col, coalesce(any_value(v), 0) AS pilot FROM long GROUP BY col"
        exprs = _general_select(v, None, pilot_sql="pilot", raw="raw")
        sql = (
            f"WITH long AS (SELECT * FROM {source}), p AS ({pilot}) "
            f"SELECT col, {', '.join(exprs)} FROM long JOIN p USING (col) GROUP BY col, pilot"
        )
        return {row[0]: tuple(row[1:]) for row in con.execute(sql).fetchall()}, set()
    # Whitespace (for the identifier rule) is counted in this same scan at no extra cost.
    spaces = _WHITESPACE.format(v="v") if v.is_text else "0"
    exprs = _general_select(v, None, raw="raw")
    sql = f"SELECT col, {spaces}, {', '.join(exprs)} FROM {source} GROUP BY col"
    rows = con.execute(sql).fetchall()
    return {r[0]: tuple(r[2:]) for r in rows}, {r[0] for r in rows if r[1]}


def _long_aggregates(
    con: duckdb.DuckDBPyConnection, table: str, cols: list[Column]
) -> tuple[list[tuple[Any, ...]], set[str]]:
    """The same figures as `_wide_aggregates`, for tables too wide for one SELECT, and the
    text columns that hold whitespace.

    DuckDB's planning time grows faster than linearly with the number of expressions
    (measured: 1 000 columns, 6 000 aggregates, 21 s on 20 rows), so past
    `WIDE_TABLE_COLUMNS` the columns are unpivoted per type and grouped instead (10 000
    columns in well under a second).
    """
    by_type: dict[str, list[Column]] = {}
    for column in cols:
        by_type.setdefault(column.dtype, []).append(column)
    found: dict[str, tuple[Any, ...]] = {}
    spaced: set[str] = set()
    for group in by_type.values():
        figures, with_space = _long_group(con, table, group)
        found.update(figures)
        spaced |= with_space
    # A column with no value at all: count 0, every other figure missing.
    missing = [(0,) + (None,) * (len(_general_select(c, 0)) - 1) for c in cols]
    return [found.get(c.name, empty) for c, empty in zip(cols, missing, strict=True)], spaced


def _long_value_counts_query(table: str, group: list[Column]) -> str:
    return (
        f"SELECT col, CAST(v AS VARCHAR), n, nd, least FROM (SELECT col, v, count(*) AS n, "
        "count(*) OVER (PARTITION BY col) AS nd, min(count(*)) OVER (PARTITION BY col) AS least, "
        "row_number() OVER (PARTITION BY col "
        f"ORDER BY count(*) DESC, v) AS rank FROM {_long_source(table, group)} "
        f"WHERE v IS NOT NULL GROUP BY col, v) WHERE rank <= {COUNTED_VALUES} "
        "ORDER BY col, rank"
    )


def _detail_notes(n_columns: int) -> tuple[str, ...]:
    if n_columns <= WIDE_TABLE_COLUMNS:
        return ()
    return (
        f"Monotonic order, MAD, date histograms and gaps, and the words of text cover the "
        f"first {WIDE_TABLE_COLUMNS} of {n_columns:,} columns.",
    )


def _base_width(column: Column) -> int:
    """How many of `_general_select`'s values come before the kind's detail."""
    return 6 if column.is_numeric else 3


def _with_details(
    con: duckdb.DuckDBPyConnection,
    table: str,
    cols: list[Column],
    rows: list[tuple[Any, ...]],
    summaries: list[ColumnSummary],
    least: list[int | None],
    n_rows: int,
    has_rowid: bool,
) -> list[ColumnSummary]:
    """Each summary with its kind's detail: the main scan's values, then one query each
    for the columns that need more (`steps.column_detail`), among the first
    `WIDE_TABLE_COLUMNS` (one SELECT over more columns plans too slowly)."""
    pairs = list(zip(cols, summaries, strict=True))[:WIDE_TABLE_COLUMNS]
    ordered = [(c, s) for c, s in pairs if c.is_numeric or c.is_temporal]
    # Only a base table's rows have an order (a view has no rowid).
    ends = column_detail.ends(con, table, [c for c, _ in ordered]) if has_rowid else {}
    candidates = [
        c
        for c, s in ordered
        if c.name in ends and column_detail.monotonic_candidate(s.min, s.max, *ends[c.name])
    ]
    monotonic = column_detail.monotonic(con, table, candidates)
    dates = column_detail.date_counts(
        con, table, [(c, s.min, s.max) for c, s in pairs if c.is_temporal]
    )
    numeric = [c for c, s in pairs if s.kind == "numeric"]
    texts = [c for c, s in pairs if s.kind == "text"]
    sampled = column_detail.sampled(con, table, numeric, texts, n_rows=n_rows, has_rowid=has_rowid)
    out = []
    for column, values, s, fewest in zip(cols, rows, summaries, least, strict=True):
        tail = values[_base_width(column) :]
        details: dict[str, Any] = {}
        if column.is_numeric:
            stats = numeric_from(values)
            details["numeric_detail"] = column_detail.numeric_detail(
                tail,
                p05=stats.p05,
                p95=stats.p95,
                mean=s.mean,
                std=s.std,
                mad=sampled.mad.get(column.name),
                sample_rows=sampled.sample_rows if column.name in sampled.mad else None,
                monotonic=monotonic.get(column.name),
            )
        elif column.is_temporal:
            details["date_detail"] = column_detail.date_detail(
                tail,
                dates.get(column.name),
                lo=s.min,
                hi=s.max,
                count=s.count,
                n_distinct=s.n_distinct,
                monotonic=monotonic.get(column.name),
            )
        if s.kind == "text":
            details["text_detail"] = column_detail.text_detail(
                column.name, tail, count=s.count, length_max=values[2], found=sampled
            )
        if s.kind in ("categorical", "boolean"):
            details["category_detail"] = column_detail.category_detail(
                s.count, s.top_values, fewest
            )
        out.append(replace(s, **details))
    return out


def overview(con: duckdb.DuckDBPyConnection, table: str = "data") -> Overview:
    """Step 1: rows, columns, kinds, memory and per-column summaries of `table`."""
    cols = columns(con, table)
    n_rows = row_count(con, table)
    if len(cols) > WIDE_TABLE_COLUMNS:
        rows, spaced = _long_aggregates(con, table, cols)
    else:
        rows, spaced = _wide_aggregates(con, table, cols), None
    distinct, tops, least = value_counts(con, table, cols)
    if spaced is None:
        candidates = [
            c.name
            for c, values, nd in zip(cols, rows, distinct, strict=True)
            if _may_be_text_identifier(c, values, n_rows=n_rows, n_distinct=nd)
        ]
        spaced = _with_whitespace(con, table, candidates)
    summaries, memory = [], 0
    for i, (column, values) in enumerate(zip(cols, rows, strict=True)):
        summary, size = _summary(
            column,
            values,
            n_rows=n_rows,
            n_distinct=distinct[i],
            tops=tops[i][:TOP_VALUES],
            spaced=column.name in spaced,
        )
        summaries.append(summary)
        memory += size
    has_rowid = column_detail.has_rowid(con, table)
    summaries = _with_details(con, table, cols, rows, summaries, least, n_rows, has_rowid)
    missing = {s.name: s.n_missing for s in summaries}
    return Overview(
        n_rows=n_rows,
        n_columns=len(cols),
        memory_bytes=memory,
        memory_method=MEMORY_METHOD,
        columns=tuple(summaries),
        kind_counts=dict(Counter(s.kind for s in summaries)),
        missing_by_column=missing,
        notes=(NO_DATA_ROWS,) * (n_rows == 0) + _detail_notes(len(cols)),
        missingness=missingness(con, table, cols, missing, n_rows=n_rows, has_rowid=has_rowid),
        value_counts={
            s.name: ValueCounts(s.count, s.n_distinct, top)
            for s, top in zip(summaries, tops, strict=True)
        },
    )
