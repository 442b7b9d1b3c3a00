"""Step 3 — Statistics: correlations, strong pairs, distributions and scatter samples.

Every figure is computed in DuckDB over all rows, in three scans however many columns
there are: a profile scan (counts, means, min, max), a moment scan that sums products of
values *centred on those means*, and one counting each column's histogram bins. Centring
first is what keeps the results exact: DuckDB's own `corr` and `skewness` lose up to six
digits on data far from zero. The only sample-based figure is Spearman's correlation when
missing values differ between columns (ranks would then have to be recomputed for every
pair); the result says so.

Sums use DuckDB's compensated `fsum`/`favg`: besides the extra digits, the result is then
the same run after run whatever order the threads finish in (plain `sum` differs in the
last bits), which matters because an approval is bound to a digest of these results.
Non-finite values (NaN, ±inf) count as missing, like NULL.
"""

from steps.errors import StatisticsError
from steps.statistics.associations import MAX_LEVELS, MEASURES, strong_associations
from steps.statistics.correlation import (
    METHODS,
    Method,
    correlation_matrix,
    p_values,
    strong_correlations,
)
from steps.statistics.distribution import (
    MAX_COLUMNS,
    NORMALITY_MIN_ROWS,
    NORMALITY_TEST,
    Bins,
    distributions,
)
from steps.statistics.ranks import import_scipy_in_background
from steps.statistics.results import (
    Association,
    AssociationMatrix,
    CategoricalDistribution,
    CorrelationMatrix,
    Distributions,
    Histogram,
    Normality,
    NumericDistribution,
    ScatterSample,
    Statistics,
    StrongPair,
)
from steps.statistics.scatter import sample_rows, scatter_sample
from steps.statistics.sql import double_sql, value_sql
from steps.statistics.step import SCATTER_PAIRS, statistics, with_threshold

__all__ = [
    "MAX_COLUMNS",
    "MAX_LEVELS",
    "MEASURES",
    "METHODS",
    "NORMALITY_MIN_ROWS",
    "NORMALITY_TEST",
    "SCATTER_PAIRS",
    "Association",
    "AssociationMatrix",
    "Bins",
    "CategoricalDistribution",
    "CorrelationMatrix",
    "Distributions",
    "Histogram",
    "Method",
    "Normality",
    "NumericDistribution",
    "ScatterSample",
    "Statistics",
    "StatisticsError",
    "StrongPair",
    "correlation_matrix",
    "distributions",
    "double_sql",
    "import_scipy_in_background",
    "p_values",
    "sample_rows",
    "scatter_sample",
    "statistics",
    "strong_associations",
    "strong_correlations",
    "value_sql",
    "with_threshold",
]
