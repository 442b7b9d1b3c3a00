"""Step 3 — Statistics: correlations, strong pairs, distributions and scatter samples.

Every figure is computed in DuckDB over all rows, in two scans however many columns there
are: a profile scan (counts, means, min, max) and a moment scan that sums products of
values *centred on those means*. Centring first is what keeps the results exact: DuckDB's
own `corr` and `skewness` lose up to six digits on data far from zero. The only
sample-based figure is Spearman's correlation when missing values differ between columns
(ranks would then have to be recomputed for every pair); the result says so.

Sums use DuckDB's compensated `fsum`/`favg`: besides the extra digits, the result is then
the same run after run whatever order the threads finish in (plain `sum` differs in the
last bits), which matters because an approval is bound to a digest of these results.
Non-finite values (NaN, ±inf) count as missing, like NULL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import duckdb
import numpy as np
import pandas as pd

from steps.engine import SAMPLE_ROWS, SAMPLE_SEED, Column, columns, quote_ident
from steps.errors import StatisticsError
from steps.results import ToDict

Method = Literal["pearson", "spearman"]
METHODS: tuple[str, ...] = ("pearson", "spearman")
NORMALITY_TEST = "D'Agostino-Pearson K²"
NORMALITY_MIN_ROWS = 20
SCATTER_PAIRS = 4
# Step 3 covers at most this many numeric (and categorical) columns, in table order: the
# correlation matrix grows as k², and a 10 000-column table would otherwise mean 50 million
# co-moments, a heatmap no browser can draw and one histogram per column. The result says so.
MAX_COLUMNS = 100
_EPS = float(np.finfo(float).eps)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CorrelationMatrix(ToDict):
    """Pairwise-complete correlations: `matrix[i][j]` is None where undefined.

    `n[i][j]` is the number of rows where both columns have a value. `exact` is False only
    when the matrix comes from a seeded sample of `sample_rows` rows.
    """

    method: str
    columns: tuple[str, ...]
    matrix: tuple[tuple[float | None, ...], ...]
    n: tuple[tuple[int, ...], ...]
    exact: bool
    sample_rows: int | None
    basis: str


@dataclass(frozen=True)
class StrongPair(ToDict):
    """One pair at or above the threshold; the p-value tests r = 0 (t distribution)."""

    a: str
    b: str
    r: float
    n: int
    p_value: float | None


@dataclass(frozen=True)
class Histogram(ToDict):
    """Equal-width bins between min and max (`len(edges) == len(counts) + 1`)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Normality(ToDict):
    """A normality indication; `p_value < 0.05` rejects normality at the 5 % level.

    With hundreds of thousands of rows any tiny departure rejects it: read the skewness
    and kurtosis alongside.
    """

    test: str
    statistic: float | None
    p_value: float | None
    n: int
    sample_based: bool
    looks_normal: bool | None
    note: str


@dataclass(frozen=True)
class NumericDistribution(ToDict):
    """Shape of one numeric column over its non-missing values."""

    n: int
    missing: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    skewness: float | None
    kurtosis: float | None
    histogram: Histogram
    normality: Normality


@dataclass(frozen=True)
class CategoricalDistribution(ToDict):
    """Cardinality and the most frequent values (as text, ties broken alphabetically)."""

    n: int
    missing: int
    cardinality: int
    top: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Distributions(ToDict):
    n_rows: int
    numeric: dict[str, NumericDistribution]
    categorical: dict[str, CategoricalDistribution]


@dataclass(frozen=True)
class ScatterSample(ToDict):
    """Points for a scatter plot: every complete row, or a seeded sample of them."""

    x: str
    y: str
    points: tuple[tuple[float, float], ...]
    n_total: int
    sampled: bool
    seed: int


@dataclass(frozen=True)
class Statistics(ToDict):
    n_rows: int
    correlation: CorrelationMatrix
    strong_correlations: tuple[StrongPair, ...]
    threshold: float
    distributions: Distributions
    scatter_pairs: tuple[StrongPair, ...]
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- SQL helpers


def value_sql(column: Column) -> str:
    """The column as SQL fit for arithmetic: numbers as DOUBLE with NaN/inf made NULL."""
    ident = quote_ident(column.name)
    if not column.is_numeric:
        return ident
    if column.dtype.upper().startswith(("FLOAT", "DOUBLE")):
        return f"CASE WHEN isfinite({ident}) THEN {ident}::DOUBLE END"
    return f"{ident}::DOUBLE"


def double_sql(value: float) -> str:
    """A DOUBLE literal that round-trips exactly (a bare decimal would parse as DECIMAL)."""
    return f"'{value!r}'::DOUBLE"


class _Aggregates:
    """Aggregate expressions for one scan, each computed once however often it is asked for."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}

    def add(self, sql: str) -> int:
        return self._index.setdefault(sql, len(self._index))

    def run(self, con: duckdb.DuckDBPyConnection, source: str) -> tuple:
        if not self._index:
            return ()
        select = ",\n  ".join(self._index)
        row = con.execute(f"SELECT\n  {select}\nFROM {source}").fetchall()[0]
        return tuple(row)


@dataclass(frozen=True)
class _Profile:
    """Per-column count, mean, min and max over a relation of cleaned values `v0..vk`."""

    n_rows: int
    names: tuple[str, ...]
    counts: tuple[int, ...]
    means: tuple[float | None, ...]
    mins: tuple[float | None, ...]
    maxs: tuple[float | None, ...]

    def complete(self, i: int) -> bool:
        return self.counts[i] == self.n_rows


def _clean_source(table_cols: Sequence[Column], table: str) -> str:
    """A subquery exposing the numeric columns as `v0..vk` (DOUBLE, NaN/inf as NULL)."""
    body = ", ".join(f"{value_sql(c)} AS v{i}" for i, c in enumerate(table_cols))
    # With no numeric column there is still a row count to take.
    return f"(SELECT {body or 'NULL AS no_numeric_column'} FROM {quote_ident(table)})"


def _profile(con: duckdb.DuckDBPyConnection, source: str, names: Sequence[str]) -> _Profile:
    parts = ["count(*)"]
    for i in range(len(names)):
        parts += [f"count(v{i})", f"favg(v{i})", f"min(v{i})", f"max(v{i})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchall()[0]
    k = len(names)
    return _Profile(
        n_rows=int(row[0]),
        names=tuple(names),
        counts=tuple(int(row[1 + 4 * i]) for i in range(k)),
        means=tuple(row[2 + 4 * i] for i in range(k)),
        mins=tuple(row[3 + 4 * i] for i in range(k)),
        maxs=tuple(row[4 + 4 * i] for i in range(k)),
    )


def _centred(profile: _Profile, i: int) -> str:
    """`v_i` minus its mean: sums of products of these stay exact where raw sums do not."""
    mean = profile.means[i]
    return f"(v{i} - {double_sql(mean)})" if mean is not None else f"v{i}"


def _numeric_columns(
    con: duckdb.DuckDBPyConnection, table: str, names: Sequence[str] | None
) -> list[Column]:
    """The requested columns (default: every numeric one), refusing unknown or non-numeric."""
    cols = columns(con, table)
    if names is None:
        return [c for c in cols if c.is_numeric]
    by_name = {c.name: c for c in cols}
    chosen = []
    for name in names:
        col = by_name.get(name)
        if col is None:
            raise StatisticsError(f"There is no column named {name!r} in the table.")
        if not col.is_numeric:
            raise StatisticsError(f"Column {name!r} is {col.dtype}, not numeric.")
        chosen.append(col)
    return chosen


# --------------------------------------------------------------------------- correlation


def _plan_correlation(
    aggs: _Aggregates, profile: _Profile
) -> Callable[[tuple], tuple[tuple[tuple[float | None, ...], ...], tuple[tuple[int, ...], ...]]]:
    """Register the co-moment sums for every pair; return how to turn them into r and n.

    For each pair, over the rows where both have a value: n, Σa, Σb, Σa², Σb², Σab of the
    centred values. When both columns are complete the filtered sums are the per-column
    ones and are computed once.
    """
    k = len(profile.names)
    d = [_centred(profile, i) for i in range(k)]

    def where_present(expr: str, j: int) -> str:
        """`expr` made NULL where v_j is: adding 0·v_j (v_j is finite) is exact, and several
        times faster in DuckDB than one `FILTER (WHERE ...)` clause per aggregate."""
        return expr if profile.complete(j) else f"{expr} + 0 * v{j}"

    slots: dict[tuple[int, int], tuple[int, ...]] = {}
    for i in range(k):
        for j in range(i + 1, k):
            both = profile.complete(i) and profile.complete(j)
            slots[i, j] = (
                aggs.add("count(*)" if both else f"count(v{i} * v{j})"),
                aggs.add(f"fsum({where_present(d[i], j)})"),
                aggs.add(f"fsum({where_present(d[j], i)})"),
                aggs.add(f"fsum({where_present(f'{d[i]} * {d[i]}', j)})"),
                aggs.add(f"fsum({where_present(f'{d[j]} * {d[j]}', i)})"),
                aggs.add(f"fsum({d[i]} * {d[j]})"),
            )
    own = [aggs.add(f"fsum({d[i]} * {d[i]})") for i in range(k)]
    own_sum = [aggs.add(f"fsum({d[i]})") for i in range(k)]

    def assemble(values: tuple):
        matrix = [[None] * k for _ in range(k)]
        counts = [[0] * k for _ in range(k)]
        for i in range(k):
            counts[i][i] = profile.counts[i]
            n_i = profile.counts[i]
            if n_i > 1 and _variance(n_i, values[own_sum[i]], values[own[i]]) is not None:
                matrix[i][i] = 1.0
        for (i, j), slot in slots.items():
            n, sa, sb, qa, qb, p = (values[s] for s in slot)
            counts[i][j] = counts[j][i] = int(n)
            matrix[i][j] = matrix[j][i] = _pearson(int(n), sa, sb, qa, qb, p)
        return tuple(map(tuple, matrix)), tuple(map(tuple, counts))

    return assemble


def _variance(n: int, s: float | None, q: float | None) -> float | None:
    """n·variance from centred sums, or None when it is zero up to rounding.

    `q - s²/n` loses the digits that the centring offset takes; once it is below a few
    ulps of `q` the column is constant on these rows and r is undefined.
    """
    if n < 2 or s is None or q is None:
        return None
    v = q - s * s / n
    return v if v > 64 * _EPS * q else None


def _pearson(
    n: int, sa: float | None, sb: float | None, qa: float | None, qb: float | None, p: float | None
) -> float | None:
    va, vb = _variance(n, sa, qa), _variance(n, sb, qb)
    if va is None or vb is None or p is None:
        return None
    r = (p - sa * sb / n) / math.sqrt(va * vb)
    return max(-1.0, min(1.0, r))


def _rank_source(clean: str, k: int) -> str:
    """Average ranks (ties share their mean rank) as `v0..vk`, NULL kept NULL.

    Each column's distinct values are ranked once (running count minus half the ties) and
    joined back: a window over the whole table per column would sort every row, carrying
    all k columns, and is four to five times slower.
    """
    lookups = " ".join(
        f"LEFT JOIN (SELECT v{i} AS x, sum(count(*)) OVER (ORDER BY v{i}) - (count(*) - 1) / 2 "
        f"AS r FROM {clean} WHERE v{i} IS NOT NULL GROUP BY v{i}) l{i} ON c.v{i} = l{i}.x"
        for i in range(k)
    )
    ranks = ", ".join(f"l{i}.r::DOUBLE AS v{i}" for i in range(k))
    return f"(SELECT {ranks} FROM {clean} c {lookups})"


def _rank_profile(profile: _Profile) -> _Profile:
    """Average ranks of n values have mean (n+1)/2 exactly: no scan needed to centre them."""
    means = tuple((c + 1) / 2 if c else None for c in profile.counts)
    return _Profile(profile.n_rows, profile.names, profile.counts, means, means, means)


def _same_rows_everywhere(con: duckdb.DuckDBPyConnection, clean: str, profile: _Profile) -> bool:
    """True when all columns are missing on exactly the same rows, so one ranking per
    column is also the ranking within every pair's complete rows."""
    if len(set(profile.counts)) > 1:
        return False
    if all(profile.complete(i) for i in range(len(profile.names))):
        return True
    k = range(len(profile.names))
    some = " OR ".join(f"v{i} IS NULL" for i in k)
    every = " AND ".join(f"v{i} IS NULL" for i in k)
    (differ,) = con.execute(
        f"SELECT count(*) FROM {clean} WHERE ({some}) AND NOT ({every})"
    ).fetchall()[0]
    return differ == 0


def _spearman_on_sample(
    con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[Column], n_rows: int
) -> CorrelationMatrix:
    """Spearman with ranks recomputed per pair (pandas) on a bounded, seeded sample.

    The sample comes from `sample_rows`, not `engine.sample_frame`: it needs the columns as
    cleaned numbers (`value_sql`: NaN and infinities as NULL), not as stored.
    """
    rows, _ = sample_rows(
        con,
        quote_ident(table),
        [value_sql(c) for c in cols],
        [],
        max_rows=SAMPLE_ROWS,
        seed=SAMPLE_SEED,
    )
    values = pd.DataFrame(rows, columns=[c.name for c in cols], dtype=float)
    present = values.notna().to_numpy(dtype=np.int64)
    counts = present.T @ present
    with np.errstate(invalid="ignore", divide="ignore"):
        r = values.corr(method="spearman").to_numpy()
    names = tuple(c.name for c in cols)
    matrix = tuple(
        tuple(None if not math.isfinite(v) else max(-1.0, min(1.0, float(v))) for v in row)
        for row in r
    )
    whole = len(values) >= n_rows
    return CorrelationMatrix(
        method="spearman",
        columns=names,
        matrix=matrix,
        n=tuple(tuple(int(c) for c in row) for row in counts),
        exact=whole,
        sample_rows=None if whole else len(values),
        basis=(
            f"Spearman on all {n_rows:,} rows, ranks per pair of complete rows."
            if whole
            else f"Spearman on a seeded sample of {len(values):,} of {n_rows:,} rows "
            "(missing values differ between columns, so ranks are recomputed per pair)."
        ),
    )


def _spearman(
    con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[Column], profile: _Profile
) -> CorrelationMatrix:
    clean = _clean_source(cols, table)
    if not _same_rows_everywhere(con, clean, profile):
        return _spearman_on_sample(con, table, cols, profile.n_rows)
    ranks = _rank_profile(profile)
    aggs = _Aggregates()
    assemble = _plan_correlation(aggs, ranks)
    matrix, n = assemble(aggs.run(con, _rank_source(clean, len(cols))))
    return CorrelationMatrix(
        "spearman",
        profile.names,
        matrix,
        n,
        True,
        None,
        f"Spearman on all {profile.n_rows:,} rows, average ranks computed in DuckDB.",
    )


def _pearson_result(profile: _Profile, matrix, n) -> CorrelationMatrix:
    return CorrelationMatrix(
        "pearson",
        profile.names,
        matrix,
        n,
        True,
        None,
        f"Pearson on all {profile.n_rows:,} rows, pairwise-complete.",
    )


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise StatisticsError(f"Unknown correlation method {method!r}; use pearson or spearman.")


def correlation_matrix(
    con: duckdb.DuckDBPyConnection,
    table: str = "data",
    *,
    method: Method = "pearson",
    columns: Sequence[str] | None = None,
) -> CorrelationMatrix:
    """Correlations of the numeric columns (or `columns`), all pairs in one scan."""
    _check_method(method)
    cols = _numeric_columns(con, table, columns)
    clean = _clean_source(cols, table)
    profile = _profile(con, clean, [c.name for c in cols])
    if method == "spearman":
        return _spearman(con, table, cols, profile)
    aggs = _Aggregates()
    assemble = _plan_correlation(aggs, profile)
    return _pearson_result(profile, *assemble(aggs.run(con, clean)))


def _check_threshold(threshold: float) -> None:
    if not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
        raise StatisticsError(f"The threshold must be a number between 0 and 1, not {threshold!r}.")


def p_values(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-values for H0: ρ = 0 from the t distribution with n − 2 degrees of freedom.

    NaN where n < 3; 0 where |r| = 1.
    """
    r = np.asarray(r, dtype=float)
    dof = np.asarray(n, dtype=float) - 2
    out = np.full(r.shape, np.nan)
    usable = dof > 0
    perfect = usable & (np.abs(r) >= 1)
    regular = usable & ~perfect
    out[perfect] = 0.0
    # scipy.special, not scipy.stats (whose t.sf is this same stdtr): 0.2 s to import, not 0.6.
    from scipy import special

    rr, df = r[regular], dof[regular]
    t = np.abs(rr) * np.sqrt(df / ((1 - rr) * (1 + rr)))
    out[regular] = 2 * special.stdtr(df, -t)
    return out


def strong_correlations(matrix: CorrelationMatrix, threshold: float) -> tuple[StrongPair, ...]:
    """Pairs with |r| ≥ threshold, strongest first, from the cached matrix (no query).

    This is what the threshold slider re-runs, so it stays a few milliseconds for 50
    columns: one pass over the upper triangle and one vectorised p-value call.
    """
    _check_threshold(threshold)
    names, rows, counts = matrix.columns, matrix.matrix, matrix.n
    found = [
        (abs(r), names[i], names[j], r, counts[i][j])
        for i, row in enumerate(rows)
        for j in range(i + 1, len(row))
        if (r := row[j]) is not None and abs(r) >= threshold
    ]
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    ps = p_values(np.array([f[3] for f in found]), np.array([f[4] for f in found]))
    return tuple(
        StrongPair(a, b, r, n, None if math.isnan(p) else float(p))
        for (_, a, b, r, n), p in zip(found, ps, strict=True)
    )


# --------------------------------------------------------------------------- distributions


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
    aggs: _Aggregates, profile: _Profile, bins: int
) -> Callable[[tuple], dict[str, NumericDistribution]]:
    """Register centred power sums and a histogram per column; return how to read them."""
    plans = []
    for i in range(len(profile.names)):
        d = _centred(profile, i)
        sums = tuple(aggs.add(f"fsum({' * '.join([d] * p)})") for p in (1, 2, 3, 4))
        lo, hi = profile.mins[i], profile.maxs[i]
        binning = Bins.over(lo, hi, bins) if lo is not None else None
        hist = aggs.add(f"histogram({binning.index_sql(f'v{i}')})") if binning else None
        plans.append((sums, binning, hist))

    def assemble(values: tuple) -> dict[str, NumericDistribution]:
        out = {}
        for i, (sums, binning, hist) in enumerate(plans):
            power_sums = tuple(values[s] for s in sums)
            histogram = _histogram(binning, values[hist] if hist is not None else None)
            out[profile.names[i]] = _numeric_distribution(profile, i, power_sums, histogram)
        return out

    return assemble


def _histogram(binning: Bins | None, counts_by_bin: dict | None) -> Histogram:
    if binning is None:
        return Histogram((), ())
    found = counts_by_bin or {}
    return Histogram(binning.edges(), tuple(int(found.get(b, 0)) for b in range(binning.count)))


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
    if n == 0:
        return NumericDistribution(
            0, missing, None, None, None, None, None, None, histogram, _normality(None)
        )
    moments = _Moments.from_sums(n, profile.means[i], sums)
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


def _categorical_columns(cols: Sequence[Column]) -> list[Column]:
    return [c for c in cols if c.dtype.upper().startswith(_CATEGORICAL_TYPES)]


def _categorical(
    con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[Column], n_rows: int, top_k: int
) -> dict[str, CategoricalDistribution]:
    """Top-k values and cardinality of every categorical column, in one statement."""
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
    """What the shared scans found: the numeric profile, distributions, maybe Pearson."""

    numeric_columns: tuple[Column, ...]
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
    con: duckdb.DuckDBPyConnection, table: str, *, bins: int, top_k: int, pearson: bool
) -> _Scan:
    """Profile scan, then one moment scan serving distributions (and Pearson, if asked)."""
    _check_bins(bins, top_k)
    all_cols = columns(con, table)
    cols, notes = _capped(
        [c for c in all_cols if c.is_numeric], "numeric", "Correlations and distributions"
    )
    texts, text_notes = _capped(_categorical_columns(all_cols), "categorical", "Top values")
    clean = _clean_source(cols, table)
    profile = _profile(con, clean, [c.name for c in cols])
    aggs = _Aggregates()
    moments = _plan_moments(aggs, profile, bins)
    correlation = _plan_correlation(aggs, profile) if pearson else None
    values = aggs.run(con, clean)
    categorical = _categorical(con, table, texts, profile.n_rows, top_k)
    return _Scan(
        numeric_columns=cols,
        profile=profile,
        distributions=Distributions(profile.n_rows, moments(values), categorical),
        pearson=_pearson_result(profile, *correlation(values)) if correlation else None,
        notes=tuple(notes + text_notes),
    )


def distributions(
    con: duckdb.DuckDBPyConnection, table: str = "data", *, bins: int = 30, top_k: int = 10
) -> Distributions:
    """Histogram, skewness, kurtosis and normality per numeric column; top-k per categorical."""
    return _scan(con, table, bins=bins, top_k=top_k, pearson=False).distributions


# --------------------------------------------------------------------------- scatter


def sample_rows(
    con: duckdb.DuckDBPyConnection,
    source: str,
    select: Sequence[str],
    required: Sequence[str],
    *,
    max_rows: int,
    seed: int,
) -> tuple[list[tuple], int]:
    """Rows of `select` where every `required` expression has a value: all, or a seeded sample.

    Returns the rows and how many qualified. The sample is DuckDB's reservoir with a fixed
    seed, so the same data and seed give the same points.
    """
    where = " AND ".join(f"({r}) IS NOT NULL" for r in required) or "TRUE"
    body = ", ".join(f"{e} AS s{i}" for i, e in enumerate(select))
    filtered = f"(SELECT {body} FROM {source} WHERE {where})"
    (total,) = con.execute(f"SELECT count(*) FROM {filtered}").fetchall()[0]
    if total <= max_rows:
        return con.execute(f"SELECT * FROM {filtered}").fetchall(), int(total)
    sample = f"reservoir({int(max_rows)} ROWS) REPEATABLE ({int(seed)})"
    rows = con.execute(f"SELECT * FROM {filtered} USING SAMPLE {sample}").fetchall()
    return rows, int(total)


def scatter_sample(
    con: duckdb.DuckDBPyConnection,
    table: str,
    x: str,
    y: str,
    *,
    max_points: int = 2000,
    seed: int = 42,
) -> ScatterSample:
    """At most `max_points` (x, y) points from rows where both are present."""
    if max_points < 1:
        raise StatisticsError(f"max_points must be at least 1, not {max_points!r}.")
    cx, cy = _numeric_columns(con, table, [x, y])
    select = [value_sql(cx), value_sql(cy)]
    rows, total = sample_rows(
        con, quote_ident(table), select, select, max_rows=max_points, seed=seed
    )
    return ScatterSample(
        x=x,
        y=y,
        points=tuple((float(a), float(b)) for a, b in rows),
        n_total=total,
        sampled=total > len(rows),
        seed=seed,
    )


# --------------------------------------------------------------------------- step 3


def statistics(
    con: duckdb.DuckDBPyConnection,
    table: str = "data",
    *,
    threshold: float = 0.7,
    method: Method = "pearson",
    bins: int = 30,
    top_k: int = 10,
) -> Statistics:
    """Step 3 in two scans of the table (three for Spearman) plus one for categories.

    Pearson co-moments and the distribution moments share one scan; the profile scan
    (counts, means, ranges) comes first because everything is centred on its means.
    """
    _check_method(method)
    _check_threshold(threshold)
    scan = _scan(con, table, bins=bins, top_k=top_k, pearson=method == "pearson")
    correlation = scan.pearson or _spearman(con, table, scan.numeric_columns, scan.profile)
    strong = strong_correlations(correlation, threshold)
    return Statistics(
        n_rows=scan.profile.n_rows,
        correlation=correlation,
        strong_correlations=strong,
        threshold=float(threshold),
        distributions=scan.distributions,
        scatter_pairs=strong[:SCATTER_PAIRS],
        notes=scan.notes,
    )


def with_threshold(stats: Statistics, threshold: float) -> Statistics:
    """The same Step 3 result at another threshold, from the cached matrix (no query).

    This is what the slider calls: only the strong pairs and the pairs to plot change.
    """
    _check_threshold(threshold)
    strong = strong_correlations(stats.correlation, threshold)
    return replace(
        stats,
        threshold=float(threshold),
        strong_correlations=strong,
        scatter_pairs=strong[:SCATTER_PAIRS],
    )
