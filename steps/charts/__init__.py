"""Plotly figures for every step, built from aggregates the steps already computed.

No figure here ever receives raw rows by the million: box plots take quantiles, histograms take
binned counts, scatter plots take a bounded sample (thinned further if a caller passes more),
so what the browser receives stays small whatever the file size. Each function takes plain
values rather than result classes, so the figures do not depend on how a step stores them.

One module per step (`overview`, `quality`, `statistics`, `recommendations`) and `common`
for what they share (template, escaping, labels, colours, the empty figure, traces drawn
from aggregates); the chart builder draws with the same `common` pieces.
"""

from steps.charts.common import (
    HOVER_MAX_CHARS,
    LABEL_MAX_CHARS,
    TEMPLATE,
    escape,
    no_data_figure,
    rows_axis,
    short_label,
)
from steps.charts.overview import MISSING_BAR_TOP, kind_pie, missing_bar
from steps.charts.quality import (
    BOX_GRID_WIDTH,
    BOX_MAX_COLUMNS,
    BoxStats,
    box_from_quantiles,
    quality_bar,
)
from steps.charts.recommendations import PriorityItem, completion_status, priority_matrix
from steps.charts.statistics import (
    HEATMAP_CELL_TEXT_MAX,
    SCATTER_MAX_POINTS,
    SCATTER_SEED,
    correlation_heatmap,
    histogram_from_bins,
    scatter_points,
)
from steps.errors import ChartError

__all__ = [
    "BOX_GRID_WIDTH",
    "BOX_MAX_COLUMNS",
    "HEATMAP_CELL_TEXT_MAX",
    "HOVER_MAX_CHARS",
    "LABEL_MAX_CHARS",
    "MISSING_BAR_TOP",
    "SCATTER_MAX_POINTS",
    "SCATTER_SEED",
    "TEMPLATE",
    "BoxStats",
    "ChartError",
    "PriorityItem",
    "box_from_quantiles",
    "completion_status",
    "correlation_heatmap",
    "escape",
    "histogram_from_bins",
    "kind_pie",
    "missing_bar",
    "no_data_figure",
    "priority_matrix",
    "quality_bar",
    "rows_axis",
    "scatter_points",
    "short_label",
]
