"""The figures each step shows, built from the step's results (never from raw rows).

One place serves both the app's Charts tabs and the HTML report, so they always agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from steps import charts, column_charts
from steps.charts import BoxStats
from steps.overview import Overview
from steps.quality import Quality
from steps.recommend import Recommendations
from steps.record import Record
from steps.statistics import ScatterSample, Statistics


def overview_figures(ov: Overview) -> dict[str, go.Figure]:
    """Step 1: column kinds, missing values per column, and how missing values go together
    (pairs of columns, and blocks of rows: a gap in one stretch of the file shows)."""
    m = ov.missingness
    return {
        "Column kinds": charts.kind_pie(ov.kind_counts),
        "Missing values": charts.missing_bar(ov.missing_by_column, ov.n_rows),
        "Missing together": column_charts.co_missing_heatmap(m.columns, m.co_missing, ov.n_rows),
        "Missing values by row": column_charts.missingness_matrix(
            m.columns, m.block_starts, m.block_rows, m.by_block
        ),
    }


def quality_boxes(ov: Overview, q: Quality) -> tuple[BoxStats, ...]:
    """Box plots from Step 1's quantiles; whiskers at the IQR fences, pulled in to min/max."""
    boxes = []
    for column in ov.columns:
        counts = q.outliers.get(column.name)
        if column.q1 is None or counts is None:
            continue
        boxes.append(
            BoxStats(
                name=column.name,
                q1=column.q1,
                median=column.median,
                q3=column.q3,
                lower_fence=_inner(counts.iqr_lower, column.min, max),
                upper_fence=_inner(counts.iqr_upper, column.max, min),
                mean=column.mean,
                beyond=counts.iqr,
            )
        )
    return tuple(boxes)


def _inner(fence: float | None, extreme: float | None, pick) -> float | None:
    """The whisker end: the fence, or the extreme value when no value reaches the fence."""
    if fence is None or extreme is None:
        return fence
    return float(pick(fence, float(extreme)))


def quality_figures(ov: Overview, q: Quality) -> dict[str, go.Figure]:
    """Step 2: box plots drawn from quantiles, and the quality metrics on a 0–100 scale."""
    metrics = {
        name: None if value is None else 100 * value for name, value in q.score_components.items()
    }
    if q.quality_score is not None:
        metrics["score"] = q.quality_score
    return {
        "Box plots (from quantiles)": charts.box_from_quantiles(quality_boxes(ov, q)),
        "Quality metrics": charts.quality_bar(metrics),
    }


def statistics_figures(
    stats: Statistics, scatters: tuple[ScatterSample, ...] = ()
) -> dict[str, go.Figure]:
    """Step 3: the heatmap, the histograms (bins from DuckDB) and scatter plots of top pairs."""
    a = stats.association_matrix
    figures = {
        "Correlation heatmap": charts.correlation_heatmap(
            stats.correlation.columns, stats.correlation.matrix
        ),
        "Associations across kinds": column_charts.association_heatmap(
            a.columns, a.kinds, a.measures, a.matrix, a.n, note=a.basis
        ),
    }
    for name, dist in stats.distributions.numeric.items():
        figures[f"Histogram · {name}"] = charts.histogram_from_bins(
            name, dist.histogram.edges, dist.histogram.counts
        )
    for sample in scatters:
        xs = [p[0] for p in sample.points]
        ys = [p[1] for p in sample.points]
        figures[f"Scatter · {sample.x} × {sample.y}"] = charts.scatter_points(
            sample.x, sample.y, xs, ys, n_total=sample.n_total
        )
    return figures


def recommendation_figures(
    statuses: Sequence[tuple[str, str]], recs: Recommendations
) -> dict[str, go.Figure]:
    """Step 4: how far the analysis has come, and where each recommendation sits."""
    items = [charts.PriorityItem(i.title, i.impact, i.effort, i.priority) for i in recs.action_plan]
    return {
        "Completion status": charts.completion_status(statuses),
        "Priority matrix": charts.priority_matrix(items),
    }


def report_figures(record: Record) -> dict[str, go.Figure]:
    """The figures the HTML report carries: Steps 1–3 of the data the report describes."""
    shown = record.shown
    figures = {
        **overview_figures(shown.overview),
        **quality_figures(shown.overview, shown.quality),
    }
    if record.analysed is not None:
        figures.update(statistics_figures(record.analysed.statistics, record.analysed.scatters))
    return figures
