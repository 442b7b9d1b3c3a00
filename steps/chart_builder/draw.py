"""The plotly figure of a built chart, or of the problem that stopped it.

The traces are drawn with the same pieces as the step charts (`steps.charts.common`).
"""

from __future__ import annotations

import plotly.graph_objects as go

from steps.chart_builder.data import BinnedSeries, BoxSeries, ChartData, ChartProblem
from steps.charts.common import TEMPLATE, binned_bars, escape, quantile_box


def _name(series_name: str | None, fallback: str) -> str:
    return escape(series_name if series_name is not None else fallback)


def _traces(data: ChartData) -> list[go.BaseTraceType]:
    kind = data.spec.kind
    traces: list[go.BaseTraceType] = []
    for s in data.series:
        name = _name(s.name, data.y_label or data.x_label)
        if isinstance(s, BoxSeries):
            traces.append(quantile_box(s, name=name, x=name))
        elif isinstance(s, BinnedSeries):
            traces.append(binned_bars(s.edges, s.counts, name=name))
        elif kind == "bar":
            traces.append(go.Bar(name=name, x=[escape(v) for v in s.x], y=list(s.y)))
        else:
            mode = "markers" if kind == "scatter" else "lines"
            traces.append(go.Scatter(name=name, x=list(s.x), y=list(s.y), mode=mode))
    return traces


def figure(data: ChartData | ChartProblem) -> go.Figure:
    """A plotly figure of the bounded data; a problem becomes an empty figure saying why.

    Column names and category values are data, so they are HTML-escaped (plotly renders
    tags in labels and turns entities back into the characters on screen).
    """
    if isinstance(data, ChartProblem):
        fig = go.Figure(layout={"template": TEMPLATE})
        fig.add_annotation(text=escape(data.message), showarrow=False, x=0.5, y=0.5)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    fig = go.Figure(_traces(data))
    what = f"{data.y_label} by {data.x_label}" if data.x_label else data.y_label
    title = escape(f"{data.spec.kind}: {what}")
    fig.update_layout(
        template=TEMPLATE,
        title={"text": f"{title}<br><sup>{escape(data.note)}</sup>"},
        xaxis_title=escape(data.x_label),
        yaxis_title=escape(data.y_label),
        barmode="stack" if data.spec.kind == "histogram" else "group",
        bargap=0 if data.spec.kind == "histogram" else None,
        showlegend=len(data.series) > 1,
        legend_title_text=escape(data.spec.color or ""),
    )
    return fig
