"""Distributions: histogram, moments, normality per numeric column; top values per categorical."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np

from steps.engine import Column, columns, quote_ident
from steps.errors import StatisticsError
from steps.statistics.correlation import _pearson_result, _plan_correlation
from steps.statistics.results import (
    COUNTED_VALUES,
    CategoricalDistribution,
    CorrelationMatrix,
    Distributions,
    Histogram,
    Normality,
    NumericDistribution,
    ValueCounts,
)
from steps.statistics.sql import (
    _EPS,
    _Aggregates,
    _centred,
    _clean_source,
    _Profile,
    _profile,
    _Totals,
    double_sql,
)

NORMALITY_TEST = "D'Agostino-Pearson K²"
NORMALITY_MIN_ROWS = 20
# Step 3 covers at most this many numeric (and categorical) columns, in table order: the
# correlation matrix grows as k², and a 10 000-column table would otherwise mean 50 million
# co-moments, a heatmap no browser can draw and one histogram per column. The result says so.
MAX_COLUMNS = 100


@dataclass(frozen=True)
class Bins:
    """Equal-width bins over [lo, hi] with numpy.histogram's exact edge rules.

    A constant column's bins span [v − 0.5, v + 0.5], as numpy does for an empty range.
    """

    lo: float
    hi: float
    count: int

    @classmethod
    def over(cls, lo: float, hi: float, count: int) -> Bins:
        if count < 1:
            raise StatisticsError(f"The number of bins must be at least 1, not {count!r}.")
        if lo == hi:
            return cls(lo - 0.5, hi + 0.5, int(count))
        return cls(float(lo), float(hi), int(count))

    def edges(self) -> tuple[float, ...]:
        return tuple(float(e) for e in np.linspace(self.lo, self.hi, self.count + 1))

    def index_sql(self, value: str) -> str:
        """Bin index of a non-NULL value: truncate, then nudge by one where an edge disagrees.

        These are numpy.histogram's steps (it nudges down, then up from the lowered index;
        both can never apply, so both tests read the truncated index), so counts match it
        bin for bin, also for values sitting exactly on an edge.
        """
        lo, step = double_sql(self.lo), double_sql((self.hi - self.lo) / self.count)
        norm = double_sql(self.count / (self.hi - self.lo))
        last = self.count - 1
        first = f"least(trunc(({value} - {lo}) * {norm})::BIGINT, {last})"
        below = f"({value} < {first} * {step} + {lo})"
        above = f"({first} <> {last} AND {value} >= ({first} + 1) * {step} + {lo})"
        return f"({first} - {below}::BIGINT + {above}::BIGINT)"


def _plan_moments(
    aggs: _Aggregates, profile: _Profile, k: int
) -> Callable[[_Totals, dict[int, Histogram]], dict[str, NumericDistribution]]:
    """Register centred power sums for each of the first `k` profiled columns (the numeric
    ones); return how to read them, with the columns' histograms, into distributions."""
    plans = []
    for i in range(k):
        d = _centred(profile, i)
        plans.append(tuple(aggs.add(f"fsum({' * '.join([d] * p)})") for p in (1, 2, 3, 4)))

    def assemble(
        totals: _Totals, histograms: dict[int, Histogram]
    ) -> dict[str, NumericDistribution]:
        out = {}
        for i, sums in enumerate(plans):
            power_sums = tuple(totals.total(s) for s in sums)
            histogram = histograms.get(i, Histogram((), ()))
            out[profile.names[i]] = _numeric_distribution(profile, i, power_sums, histogram)
        return out

    return assemble


def _histograms(
    con: duckdb.DuckDBPyConnection, source: str, profile: _Profile, bins: int, k: int
) -> dict[int, Histogram]:
    """The histogram of each of the first `k` profiled columns that has a value, from one
    scan grouped by each column's bin index (GROUPING SETS).

    Why not DuckDB's `histogram()` in the moment scan: its map per group cost 0.7 s of
    that scan's 1.3 s on the 200 MB bench file; grouping by the bin indices takes 0.4 s.
    """
    binnings = {
        i: Bins.over(lo, hi, bins)
        for i, (lo, hi) in enumerate(zip(profile.mins[:k], profile.maxs[:k], strict=True))
        if lo is not None and hi is not None
    }
    if not binnings:
        return {}
    chosen = list(binnings)
    keys = [f"h{i}" for i in chosen]
    body = ", ".join(f"{b.index_sql(f'v{i}')} AS h{i}" for i, b in binnings.items())
    flags = ", ".join(f"GROUPING({key})" for key in keys)
    sets = ", ".join(f"({key})" for key in keys)
    rows = con.execute(
        f"SELECT {flags}, {', '.join(keys)}, count(*) FROM (SELECT {body} FROM {source}) "
        f"GROUP BY GROUPING SETS ({sets})"
    ).fetchall()
    width = len(keys)
    counts: dict[int, dict[int, int]] = {i: {} for i in chosen}
    for row in rows:
        slot = row[:width].index(0)
        index = row[width + slot]
        if index is not None:  # the column's missing values
            counts[chosen[slot]][index] = int(row[-1])
    return {i: _histogram(b, counts[i]) for i, b in binnings.items()}


def _histogram(binning: Bins, counts_by_bin: dict[int, int]) -> Histogram:
    counts = tuple(counts_by_bin.get(b, 0) for b in range(binning.count))
    return Histogram(binning.edges(), counts)


@dataclass(frozen=True)
class _Moments:
    """Central moments m2, m3, m4 (divided by n) of n values, from centred power sums."""

    n: int
    mean: float
    m2: float
    m3: float
    m4: float

    @classmethod
    def from_sums(cls, n: int, centre: float, s: tuple[float, float, float, float]) -> _Moments:
        s1, s2, s3, s4 = (x / n for x in s)
        return cls(
            n=n,
            mean=centre + s1,
            m2=s2 - s1**2,
            m3=s3 - 3 * s1 * s2 + 2 * s1**3,
            m4=s4 - 4 * s1 * s3 + 6 * s1**2 * s2 - 3 * s1**4,
        )

    def constant(self) -> bool:
        """Zero variance, by scipy's own rule (m2 ≤ (ε·mean)²), so None matches its NaN."""
        return self.m2 <= 0 or self.m2 <= (_EPS * self.mean) ** 2

    def skewness(self) -> float | None:
        """scipy.stats.skew(bias=False): the adjusted Fisher-Pearson coefficient G1."""
        if self.n < 3 or self.constant():
            return None
        n = self.n
        return math.sqrt(n * (n - 1)) / (n - 2) * self.m3 / self.m2**1.5

    def kurtosis(self) -> float | None:
        """scipy.stats.kurtosis(bias=False): the unbiased-estimator excess kurtosis G2."""
        if self.n < 4 or self.constant():
            return None
        n = self.n
        ratio = self.m4 / self.m2**2
        return ((n * n - 1) * ratio - 3 * (n - 1) ** 2) / ((n - 2) * (n - 3))


def _numeric_distribution(
    profile: _Profile, i: int, sums: tuple, histogram: Histogram
) -> NumericDistribution:
    n = profile.counts[i]
    missing = profile.n_rows - n
    mean = profile.means[i]
    if n == 0 or mean is None:
        return NumericDistribution(
            0, missing, None, None, None, None, None, None, histogram, _normality(None)
        )
    moments = _Moments.from_sums(n, mean, sums)
    std = math.sqrt(max(moments.m2, 0.0) * n / (n - 1)) if n > 1 else None
    return NumericDistribution(
        n=n,
        missing=missing,
        mean=moments.mean,
        std=0.0 if std is not None and moments.constant() else std,
        min=profile.mins[i],
        max=profile.maxs[i],
        skewness=moments.skewness(),
        kurtosis=moments.kurtosis(),
        histogram=histogram,
        normality=_normality(moments),
    )


def _skew_z(n: int, g1: float) -> float:
    """D'Agostino (1970) transform of the sample skewness to a standard normal Z."""
    y = g1 * math.sqrt((n + 1) * (n + 3) / (6.0 * (n - 2)))
    beta2 = (
        3.0 * (n * n + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2) * (n + 5) * (n + 7) * (n + 9))
    )
    w2 = -1 + math.sqrt(2 * (beta2 - 1))
    delta = 1 / math.sqrt(0.5 * math.log(w2))
    alpha = math.sqrt(2.0 / (w2 - 1))
    return delta * math.asinh(y / alpha)


def _kurtosis_z(n: int, b2: float) -> float | None:
    """Anscombe & Glynn (1983) transform of the sample kurtosis to a standard normal Z."""
    mean = 3.0 * (n - 1) / (n + 1)
    var = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    x = (b2 - mean) / math.sqrt(var)
    root_beta1 = (
        6.0
        * (n * n - 5 * n + 2)
        / ((n + 7) * (n + 9))
        * math.sqrt(6.0 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3)))
    )
    a = 6.0 + 8.0 / root_beta1 * (2.0 / root_beta1 + math.sqrt(1 + 4.0 / root_beta1**2))
    denom = 1 + x * math.sqrt(2 / (a - 4.0))
    if denom == 0:
        return None
    term2 = math.copysign(((1 - 2.0 / a) / abs(denom)) ** (1 / 3), denom)
    return (1 - 2 / (9.0 * a) - term2) / math.sqrt(2 / (9.0 * a))


def _normality(moments: _Moments | None) -> Normality:
    """D'Agostino-Pearson K² from the exact moments of all rows (no sample needed)."""
    n = moments.n if moments else 0
    if moments is None or n < NORMALITY_MIN_ROWS or moments.constant():
        reason = "constant values" if moments and moments.constant() else f"{n} values"
        note = f"Not tested: needs at least {NORMALITY_MIN_ROWS} non-constant values ({reason})."
        return Normality(NORMALITY_TEST, None, None, n, False, None, note)
    g1 = moments.m3 / moments.m2**1.5
    zk = _kurtosis_z(n, moments.m4 / moments.m2**2)
    if zk is None:
        return Normality(NORMALITY_TEST, None, None, n, False, None, "Not tested: degenerate.")
    k2 = _skew_z(n, g1) ** 2 + zk**2
    from scipy import special

    p = float(special.chdtrc(2, k2))
    note = f"{NORMALITY_TEST} on all {n:,} values" + (
        "; with this many rows even slight departures reject normality." if n > 5000 else "."
    )
    return Normality(NORMALITY_TEST, k2, p, n, False, p >= 0.05, note)


_CATEGORICAL_TYPES = ("VARCHAR", "BOOLEAN", "ENUM")
_SAME_ORDER = frozenset({"VARCHAR", "BOOLEAN"})


def _categorical_columns(cols: Sequence[Column]) -> list[Column]:
    return [c for c in cols if c.dtype.upper().startswith(_CATEGORICAL_TYPES)]


def _categorical(
    con: duckdb.DuckDBPyConnection,
    table: str,
    cols: Sequence[Column],
    n_rows: int,
    top_k: int,
    counted: Mapping[str, ValueCounts],
) -> dict[str, CategoricalDistribution]:
    """Top-k values and cardinality of every categorical column: read from Step 1's counts
    of the same table where they cover the column, counted here (in one statement) where not.

    Step 1 orders ties by the value itself and Step 3 by its text, which agree for text
    and booleans, so only those are read from Step 1.
    """
    reused = {
        c.name: counted[c.name]
        for c in cols
        if c.name in counted and top_k <= COUNTED_VALUES and c.dtype.upper() in _SAME_ORDER
    }
    found = {
        name: CategoricalDistribution(
            n=v.present, missing=n_rows - v.present, cardinality=v.distinct, top=v.top[:top_k]
        )
        for name, v in reused.items()
    }
    found.update(
        _count_categorical(con, table, [c for c in cols if c.name not in reused], n_rows, top_k)
    )
    return {c.name: found[c.name] for c in cols}


def _count_categorical(
    con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[Column], n_rows: int, top_k: int
) -> dict[str, CategoricalDistribution]:
    if not cols:
        return {}
    parts = []
    for i, col in enumerate(cols):
        ident = quote_ident(col.name)
        parts.append(
            f"(SELECT {i} AS col, CAST({ident} AS VARCHAR) AS value, count(*) AS c, "
            "count(*) OVER () AS cardinality, sum(count(*)) OVER () AS present "
            f"FROM {quote_ident(table)} WHERE {ident} IS NOT NULL GROUP BY {ident} "
            f"ORDER BY c DESC, value LIMIT {int(top_k)})"
        )
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    found: dict[int, list] = {}
    for col, value, c, cardinality, present in rows:
        found.setdefault(col, []).append((value, int(c), int(cardinality), int(present)))
    out = {}
    for i, col in enumerate(cols):
        entries = sorted(found.get(i, []), key=lambda e: (-e[1], e[0]))
        present = entries[0][3] if entries else 0
        out[col.name] = CategoricalDistribution(
            n=present,
            missing=n_rows - present,
            cardinality=entries[0][2] if entries else 0,
            top=tuple((v, c) for v, c, _, _ in entries),
        )
    return out


def _check_bins(bins: int, top_k: int) -> None:
    if not isinstance(bins, int) or bins < 1:
        raise StatisticsError(f"The number of bins must be a positive integer, not {bins!r}.")
    if not isinstance(top_k, int) or top_k < 1:
        raise StatisticsError(f"top_k must be a positive integer, not {top_k!r}.")


@dataclass(frozen=True)
class _Scan:
    """What the shared scans found: numeric (then datetime) profile, distributions, Pearson.

    `clean` is the relation of the profiled columns as `v0..vk`; the first `n_numeric` of
    them are the numeric columns, the rest (only when associations were asked for) datetime.
    """

    columns: tuple[Column, ...]
    n_numeric: int
    categorical: tuple[Column, ...]
    clean: str
    profile: _Profile
    distributions: Distributions
    pearson: CorrelationMatrix | None
    notes: tuple[str, ...]


def _capped(cols: Sequence[Column], kind: str, what: str) -> tuple[tuple[Column, ...], list[str]]:
    """The first `MAX_COLUMNS` of `cols`, and a sentence saying so when some are left out."""
    if len(cols) <= MAX_COLUMNS:
        return tuple(cols), []
    note = (
        f"{what} cover the first {MAX_COLUMNS} of {len(cols):,} {kind} columns "
        "(in table order); the rest are left out of Step 3."
    )
    return tuple(cols[:MAX_COLUMNS]), [note]


def _scan(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    bins: int,
    top_k: int,
    pearson: bool,
    counted: Mapping[str, ValueCounts],
) -> _Scan:
    """Profile scan, then one moment scan serving distributions (and, if asked, Pearson
    over the numeric and datetime columns), then top values."""
    _check_bins(bins, top_k)
    all_cols = columns(con, table)
    numeric, notes = _capped(
        [c for c in all_cols if c.is_numeric], "numeric", "Correlations and distributions"
    )
    dates, date_notes = (
        _capped([c for c in all_cols if c.is_temporal], "datetime", "Associations")
        if pearson
        else ((), [])
    )
    texts, text_notes = _capped(
        _categorical_columns(all_cols), "categorical", "Top values and associations"
    )
    cols = numeric + dates
    clean = _clean_source(cols, table)
    profile = _profile(con, clean, [c.name for c in cols])
    aggs = _Aggregates(profile)
    moments = _plan_moments(aggs, profile, len(numeric))
    correlation = _plan_correlation(aggs, profile) if pearson else None
    values = aggs.run(con, clean)
    histograms = _histograms(con, clean, profile, bins, len(numeric))
    categorical = _categorical(con, table, texts, profile.n_rows, top_k, counted)
    return _Scan(
        columns=cols,
        n_numeric=len(numeric),
        categorical=texts,
        clean=clean,
        profile=profile,
        distributions=Distributions(profile.n_rows, moments(values, histograms), categorical),
        pearson=_pearson_result(profile, *correlation(values)) if correlation else None,
        notes=tuple(notes + date_notes + text_notes),
    )


def distributions(
    con: duckdb.DuckDBPyConnection,
    table: str = "data",
    *,
    bins: int = 30,
    top_k: int = 10,
    counted: Mapping[str, ValueCounts] | None = None,
) -> Distributions:
    """Histogram, skewness, kurtosis and normality per numeric column; top-k per categorical
    (`counted`: Step 1's value counts of the same table, `Overview.value_counts`)."""
    return _scan(
        con, table, bins=bins, top_k=top_k, pearson=False, counted=counted or {}
    ).distributions
