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

    def to_dict(self) -> dict:
        """Both kinds under one mapping, column -> figures, as the report expects."""
        merged = {**self.numeric, **self.categorical}
        out = {name: dist.to_dict() for name, dist in merged.items()}
        for name in self.numeric:
            out[name]["kind"] = "numeric"
        for name in self.categorical:
            out[name]["kind"] = "categorical"
        return out


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
