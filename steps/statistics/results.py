"""Step 3 result types: frozen dataclasses whose `to_dict()` is the report's JSON."""

from __future__ import annotations

from dataclasses import dataclass

from steps.results import ToDict


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


# Step 1 counts this many of each column's most frequent values and shows the first five;
# Step 3's top values are read from the same counts (`Overview.value_counts`), so the table
# is grouped by value once, not once per step (0.4 s of Step 3 on the 200 MB bench file).
COUNTED_VALUES = 10


@dataclass(frozen=True)
class ValueCounts:
    """One column's present values, distinct values and up to `COUNTED_VALUES` most
    frequent ones (as text, most frequent first, ties by value), as Step 1 counted them."""

    present: int
    distinct: int
    top: tuple[tuple[str, int], ...]


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
class Association(ToDict):
    """One measure of how two columns go together, over the `n` rows where both have a value.

    `measure` is `pearson`, `spearman` or `kendall` (τ-b) for two numeric or datetime
    columns, `cramers_v` for two categorical ones, `correlation_ratio` (η) for a categorical
    and a numeric one (`a` is then the categorical column). None where undefined.
    """

    a: str
    b: str
    measure: str
    value: float | None
    n: int


@dataclass(frozen=True)
class AssociationMatrix(ToDict):
    """Every column against every other whatever its kind, one measure per cell.

    `measures[i][j]` names the measure in `matrix[i][j]` (None on the diagonal): the
    numeric one chosen for Step 3 between numeric and datetime columns, Cramér's V between
    categorical ones, η between a categorical and a numeric one. `kinds[i]` is `numeric`,
    `datetime` (taking part as epoch seconds) or `categorical`.
    """

    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    measures: tuple[tuple[str | None, ...], ...]
    matrix: tuple[tuple[float | None, ...], ...]
    n: tuple[tuple[int, ...], ...]
    numeric_measure: str
    cramers_v_bias_corrected: bool
    rank_exact: bool
    rank_sample_rows: int | None
    basis: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statistics(ToDict):
    n_rows: int
    correlation: CorrelationMatrix
    strong_correlations: tuple[StrongPair, ...]
    threshold: float
    distributions: Distributions
    scatter_pairs: tuple[StrongPair, ...]
    associations: tuple[Association, ...]
    association_matrix: AssociationMatrix
    strong_associations: tuple[Association, ...]
    notes: tuple[str, ...] = ()
