"""Chart builder: x / y / colour over any table, with bounded payloads whatever its size.

Each chart kind accepts only sensible column kinds per role (`options`), so the dropdowns
offer nothing that cannot be drawn; a combination that still cannot be drawn comes back as
a `ChartProblem` with one sentence, never an exception. The data behind a chart is always
aggregated or sampled in DuckDB first: bars are counts or means per category, histograms
are binned counts, box plots are quartiles per group, lines are means per x (or per bin of
x), scatter plots a seeded sample. At most `MAX_GROUPS` colour groups and `MAX_BARS` bars
are drawn; the rest are merged into "(other)", and the chart's note says so.

One module per job: `data` (spec, data and problem types), `kinds` (column kinds), `rules`
(what each chart kind takes, validation), `groups` (top values and "(other)" in SQL),
`builders` (one per chart kind, and `build`), `draw` (the plotly figure).
"""

from steps.chart_builder.builders import (
    HISTOGRAM_BINS,
    MAX_BARS,
    MAX_GROUPS,
    MAX_LINE_POINTS,
    MAX_POINTS,
    build,
)
from steps.chart_builder.data import (
    BinnedSeries,
    BoxSeries,
    ChartData,
    ChartProblem,
    ChartSpec,
    XYSeries,
)
from steps.chart_builder.draw import figure
from steps.chart_builder.groups import MISSING, OTHER
from steps.chart_builder.kinds import (
    CATEGORICAL_MAX_DISTINCT,
    COLUMN_KINDS,
    IDENTIFIER_MAX_LENGTH,
    IDENTIFIER_MIN_ROWS,
    ColumnKind,
    column_kinds,
)
from steps.chart_builder.rules import CHART_KINDS, BuilderOptions, ChartKind, options, problem
from steps.errors import ChartBuilderError

__all__ = [
    "CATEGORICAL_MAX_DISTINCT",
    "CHART_KINDS",
    "COLUMN_KINDS",
    "HISTOGRAM_BINS",
    "IDENTIFIER_MAX_LENGTH",
    "IDENTIFIER_MIN_ROWS",
    "MAX_BARS",
    "MAX_GROUPS",
    "MAX_LINE_POINTS",
    "MAX_POINTS",
    "MISSING",
    "OTHER",
    "BinnedSeries",
    "BoxSeries",
    "BuilderOptions",
    "ChartBuilderError",
    "ChartData",
    "ChartKind",
    "ChartProblem",
    "ChartSpec",
    "ColumnKind",
    "XYSeries",
    "build",
    "column_kinds",
    "figure",
    "options",
    "problem",
]
