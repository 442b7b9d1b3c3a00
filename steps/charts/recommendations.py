"""Step 4 (recommendations) charts: where the analysis stands, step by step and gate by gate,
and the action plan on an impact × effort matrix."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import plotly.graph_objects as go

from steps.charts.common import (
    _AMBER,
    _BLUE,
    _GREEN,
    _GREY,
    _RED,
    HOVER_MAX_CHARS,
    TEMPLATE,
    _finite,
    escape,
    no_data_figure,
    rows_axis,
    short_label,
)
from steps.errors import ChartError
from steps.results import ToDict

_STATUS_COLOURS = MappingProxyType(
    {
        "approved": _GREEN,
        "done": _GREEN,
        "complete": _GREEN,
        "completed": _GREEN,
        "computed": _GREEN,
        "modified": _BLUE,
        "pending": _GREY,
        "not started": _GREY,
        "stale": _AMBER,
        "rejected": _RED,
        "failed": _RED,
    }
)
_COMPLETE_STATUSES = frozenset(
    {"approved", "done", "complete", "completed", "computed", "modified"}
)
_PRIORITY_COLOURS = MappingProxyType({"high": _RED, "medium": _AMBER, "low": _GREEN})


@dataclass(frozen=True)
class PriorityItem(ToDict):
    """One recommendation placed on the impact × effort matrix (both on a 1–5 scale)."""

    title: str
    impact: float
    effort: float
    priority: str


def completion_status(items: Sequence[tuple[str, str]]) -> go.Figure:
    """Where the analysis stands: each step or gate as a row coloured by its status."""
    title = "Completion status"
    if not items:
        return no_data_figure(title, "Nothing to report yet")
    statuses = [str(status).strip().lower().replace("_", " ") for _, status in items]
    done = sum(s in _COMPLETE_STATUSES for s in statuses)
    skipped = statuses.count("not applicable")
    summary = f"{done} of {len(items) - skipped} complete"
    if skipped:
        summary += f", {skipped} not applicable"
    fig = go.Figure()
    for status in dict.fromkeys(statuses):
        rows = [i for i, s in enumerate(statuses) if s == status]
        fig.add_trace(
            go.Bar(
                name=escape(status),
                x=[1] * len(rows),
                y=rows,
                orientation="h",
                width=0.8,
                text=[escape(status)] * len(rows),
                textfont={"size": 12},
                textposition="inside",
                insidetextanchor="middle",
                customdata=[[escape(items[i][0]), escape(status)] for i in rows],
                hovertemplate="%{customdata[0]}: %{customdata[1]}<extra></extra>",
                marker_color=_STATUS_COLOURS.get(status, _GREY),
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        title=f"{title}: {summary}",
        barmode="overlay",
        xaxis={"visible": False, "range": [0, 1]},
        yaxis=rows_axis([short_label(name) for name, _ in items]),
        height=max(260, 100 + 36 * len(items)),
    )
    return fig


_QUADRANTS = (
    # (x0, x1, y0, y1, label, fill): effort on x, impact on y, split at the scale's middle
    (0.5, 3.0, 3.0, 5.5, "Quick wins", "rgba(46,125,50,0.10)"),
    (3.0, 5.5, 3.0, 5.5, "Major projects", "rgba(21,101,192,0.10)"),
    (0.5, 3.0, 0.5, 3.0, "Fill-ins", "rgba(158,158,158,0.10)"),
    (3.0, 5.5, 0.5, 3.0, "Thankless tasks", "rgba(198,40,40,0.10)"),
)


def _check_priority_item(item: PriorityItem) -> None:
    for axis in ("impact", "effort"):
        value = getattr(item, axis)
        if not _finite(value) or not 1 <= float(value) <= 5:
            raise ChartError(f"The {axis} of {item.title!r} must lie between 1 and 5.")


def _spread(items: Sequence[PriorityItem]) -> list[tuple[float, float]]:
    """Positions nudged apart on a small circle where several items share a cell."""
    placed: dict[tuple[float, float], int] = {}
    cells = [(float(i.effort), float(i.impact)) for i in items]
    totals = {cell: cells.count(cell) for cell in cells}
    out = []
    for cell in cells:
        k = placed.get(cell, 0)
        placed[cell] = k + 1
        if totals[cell] == 1:
            out.append(cell)
            continue
        angle = 2 * math.pi * k / totals[cell]
        out.append((cell[0] + 0.18 * math.cos(angle), cell[1] + 0.18 * math.sin(angle)))
    return out


def priority_matrix(items: Sequence[PriorityItem]) -> go.Figure:
    """Recommendations on impact × effort, in labelled quadrants, coloured by priority.

    Each marker carries the item's number in the plan (1 = first), its title in the hover:
    twenty titles written beside their markers covered one another.
    """
    title = "Priority matrix (impact × effort)"
    if not items:
        return no_data_figure(title, "No recommendations")
    for item in items:
        _check_priority_item(item)
    fig = go.Figure()
    for x0, x1, y0, y1, label, fill in _QUADRANTS:
        fig.add_shape(
            type="rect", x0=x0, x1=x1, y0=y0, y1=y1, fillcolor=fill, line_width=0, layer="below"
        )
        fig.add_annotation(
            x=(x0 + x1) / 2, y=y1 - 0.15, text=f"<b>{label}</b>", showarrow=False, font_size=12
        )
    positions = _spread(items)
    priorities = [str(i.priority).strip().lower() for i in items]
    for priority in dict.fromkeys(priorities):
        rows = [k for k, p in enumerate(priorities) if p == priority]
        fig.add_trace(
            go.Scatter(
                name=escape(priority),
                x=[positions[k][0] for k in rows],
                y=[positions[k][1] for k in rows],
                mode="markers+text",
                text=[str(k + 1) for k in rows],
                textposition="middle center",
                textfont={"color": "white", "size": 10},
                customdata=[
                    [
                        short_label(items[k].title, HOVER_MAX_CHARS),
                        float(items[k].impact),
                        float(items[k].effort),
                        escape(priority),
                    ]
                    for k in rows
                ],
                hovertemplate=(
                    "#%{text} %{customdata[0]}<br>impact %{customdata[1]} · effort %{customdata[2]}"
                    "<br>priority %{customdata[3]}<extra></extra>"
                ),
                marker={"size": 20, "color": _PRIORITY_COLOURS.get(priority, _GREY)},
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        title={"text": f"{title}<br><sup>numbers are the action plan's order</sup>"},
        xaxis={"title": "effort →", "range": [0.5, 5.5], "dtick": 1, "zeroline": False},
        yaxis={"title": "impact →", "range": [0.5, 5.5], "dtick": 1, "zeroline": False},
        height=520,
        legend_title_text="priority",
    )
    return fig
