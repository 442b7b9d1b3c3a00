"""What every chart shares: the template, escaping of data-derived text, short labels, the
empty figure that says why it is empty, the colours, and the traces drawn from aggregates
(a box from quantiles, bars from bin edges) that Steps 2-3 and the chart builder both draw.

Column names are data: plotly renders `<b>`-like tags in titles, ticks and hover text, so every
data-derived string is passed through `escape` before it reaches a figure (plotly turns the
entities back into the characters on screen, so the names still read correctly).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

import numpy as np
import plotly.graph_objects as go

from steps.text import html_text as escape

LABEL_MAX_CHARS = 40
# Hover text names a column in full, up to this: a 100 000-character name stays out.
HOVER_MAX_CHARS = 200
TEMPLATE = "plotly_white"

_GREEN, _AMBER, _RED, _GREY, _BLUE = "#2e7d32", "#f9a825", "#c62828", "#9e9e9e", "#1565c0"


def short_label(text: object, limit: int = LABEL_MAX_CHARS) -> str:
    """An escaped label cut to `limit` characters, so one long name cannot crowd an axis.

    The cut happens before escaping so no entity is ever split in half.
    """
    raw = str(text)
    if len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    return escape(raw)


def no_data_figure(title: str, message: str = "No data") -> go.Figure:
    """An empty but valid figure that says why it is empty instead of showing bare axes."""
    fig = go.Figure()
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        xaxis={"visible": False},
        yaxis={"visible": False},
        height=300,
        annotations=[
            {
                "text": message,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 16, "color": _GREY},
            }
        ],
    )
    return fig


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(float(value))


def _float_or_none(value: float | None) -> float | None:
    return float(value) if _finite(value) else None


def _zero_to_hundred(title: str, *, label_room: float) -> dict:
    """A 0–100 axis with room past 100 for the label outside a full bar (it was cut off
    there); the ticks stop at 100."""
    return {"title": title, "range": [0, 100 + label_room], "tickvals": list(range(0, 101, 20))}


def rows_axis(labels: Sequence[str]) -> dict:
    """A y axis of one row per label, first at the top: horizontal bars are read down a
    list, and labels long enough to need room get it."""
    return {
        "tickmode": "array",
        "tickvals": list(range(len(labels))),
        "ticktext": list(labels),
        "autorange": "reversed",
        "automargin": True,
    }


class Quartiles(Protocol):
    """The figures a box is drawn from, whichever step computed them: the five box figures
    are numbers (finite ones, for the box to be drawn); the mean may be missing."""

    @property
    def q1(self) -> float: ...
    @property
    def median(self) -> float: ...
    @property
    def q3(self) -> float: ...
    @property
    def lower_fence(self) -> float: ...
    @property
    def upper_fence(self) -> float: ...
    @property
    def mean(self) -> float | None: ...


@dataclass(frozen=True)
class BoxFigures:
    """The five figures of a box that can be drawn (every one finite), and its mean."""

    q1: float
    median: float
    q3: float
    lower_fence: float
    upper_fence: float
    mean: float | None

    @classmethod
    def finite(
        cls,
        q1: float | None,
        median: float | None,
        q3: float | None,
        lower_fence: float | None,
        upper_fence: float | None,
        mean: float | None = None,
    ) -> BoxFigures | None:
        """The box, or None when any of its five figures is missing or not finite."""
        if not (
            _finite(q1)
            and _finite(median)
            and _finite(q3)
            and _finite(lower_fence)
            and _finite(upper_fence)
        ):
            return None
        return cls(q1, median, q3, lower_fence, upper_fence, mean)


def quantile_box(box: Quartiles, *, name: str, x: str, **style: Any) -> go.Box:
    """One box drawn from quantiles and fences computed in DuckDB, never from raw values;
    the mean is marked where it is finite. The five box figures must be finite."""
    return go.Box(
        name=name,
        x=[x],
        q1=[float(box.q1)],
        median=[float(box.median)],
        q3=[float(box.q3)],
        lowerfence=[float(box.lower_fence)],
        upperfence=[float(box.upper_fence)],
        mean=[float(box.mean)] if _finite(box.mean) else None,
        boxpoints=False,
        **style,
    )


def binned_bars(edges: Sequence[float], counts: Sequence[int], **style: Any) -> go.Bar:
    """A histogram's bars from binned counts: one bar per bin at its centre, as wide as the
    bin (a zero-width bin is drawn one unit wide so it stays visible)."""
    lo = np.asarray(edges[:-1], dtype=float)
    hi = np.asarray(edges[1:], dtype=float)
    widths = hi - lo
    return go.Bar(
        x=(lo + hi) / 2,
        y=[int(c) for c in counts],
        width=np.where(widths > 0, widths, 1.0),
        **style,
    )
