"""Step 2 (quality) charts: box plots drawn from the quantiles Step 2 computed, and the
quality metrics on a fixed 0-100 scale."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from steps.charts.common import (
    _AMBER,
    _BLUE,
    _GREEN,
    _GREY,
    _RED,
    TEMPLATE,
    _finite,
    _float_or_none,
    _zero_to_hundred,
    escape,
    no_data_figure,
    quantile_box,
    short_label,
)
from steps.errors import ChartError
from steps.results import ToDict

BOX_MAX_COLUMNS = 48
BOX_GRID_WIDTH = 4


@dataclass(frozen=True)
class BoxStats(ToDict):
    """One column's box: the quantiles and fences a step computed in DuckDB."""

    name: str
    q1: float | None
    median: float | None
    q3: float | None
    lower_fence: float | None
    upper_fence: float | None
    mean: float | None = None
    outliers_low: int = 0
    outliers_high: int = 0


def _box_is_drawable(box: BoxStats) -> bool:
    return all(_finite(v) for v in (box.q1, box.median, box.q3, box.lower_fence, box.upper_fence))


def _check_box(box: BoxStats) -> None:
    if not box.lower_fence <= box.q1 <= box.median <= box.q3 <= box.upper_fence:
        raise ChartError(
            f"The box for {box.name!r} is not ordered lower fence ≤ q1 ≤ median ≤ q3 ≤ upper fence."
        )


def _box_title(box: BoxStats) -> str:
    title = short_label(box.name, 28)
    if box.outliers_low or box.outliers_high:
        title += f"<br><sup>outliers: {box.outliers_low:,} low · {box.outliers_high:,} high</sup>"
    return title


def box_from_quantiles(boxes: Sequence[BoxStats]) -> go.Figure:
    """Box plots drawn from quantiles: one panel per column, since columns differ in scale.

    Columns without numeric values are left out and named in a note, never drawn as zeros.
    """
    title = "Distribution per numeric column (from quantiles)"
    drawable = [b for b in boxes if _box_is_drawable(b)]
    for box in drawable:
        _check_box(box)
    if not drawable:
        return no_data_figure(title, "No numeric values")
    shown = drawable[:BOX_MAX_COLUMNS]
    n_cols = min(BOX_GRID_WIDTH, len(shown))
    n_rows = math.ceil(len(shown) / n_cols)
    fig = make_subplots(
        rows=n_rows,
        cols=n_cols,
        subplot_titles=[_box_title(b) for b in shown],
        vertical_spacing=min(0.3 / n_rows, 0.12) if n_rows > 1 else 0.1,
    )
    for i, box in enumerate(shown):
        fig.add_trace(
            quantile_box(
                box,
                name=escape(box.name),
                x=short_label(box.name, 20),
                marker_color=_BLUE,
                showlegend=False,
            ),
            row=i // n_cols + 1,
            col=i % n_cols + 1,
        )
    fig.update_xaxes(showticklabels=False)
    fig.update_annotations(font_size=11)
    notes = _box_notes(boxes, drawable, shown)
    fig.update_layout(
        template=TEMPLATE,
        title=title + (f"<br><sup>{notes}</sup>" if notes else ""),
        height=80 + 260 * n_rows,
        margin={"t": 110},
    )
    return fig


def _box_notes(
    boxes: Sequence[BoxStats], drawable: Sequence[BoxStats], shown: Sequence[BoxStats]
) -> str:
    notes = []
    if len(shown) < len(drawable):
        notes.append(f"showing the first {len(shown)} of {len(drawable)} columns")
    skipped = [b.name for b in boxes if not _box_is_drawable(b)]
    if skipped:
        listed = ", ".join(short_label(name, 20) for name in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        notes.append(f"no numeric values: {listed}{more}")
    return "; ".join(notes)


def _score_colour(value: float | None) -> str:
    if value is None:
        return _GREY
    if value >= 80:
        return _GREEN
    return _AMBER if value >= 60 else _RED


def quality_bar(metrics: Mapping[str, float]) -> go.Figure:
    """Quality metrics on a fixed 0–100 scale, coloured red / amber / green at 60 and 80."""
    title = "Quality metrics (0–100)"
    if not metrics:
        return no_data_figure(title, "No quality metrics")
    values = [_float_or_none(v) for v in metrics.values()]
    if any(v is not None and not 0 <= v <= 100 for v in values):
        raise ChartError("Quality metrics must lie between 0 and 100.")
    labels = [escape(name) for name in metrics]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=values,
            text=["n/a" if v is None else f"{v:.1f}" for v in values],
            textposition="outside",
            cliponaxis=False,
            marker_color=[_score_colour(v) for v in values],
            hovertemplate="%{x}: %{y:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE, title=title, yaxis=_zero_to_hundred("score", label_room=12), height=380
    )
    return fig
