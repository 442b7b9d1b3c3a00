"""Step 3 (statistics) charts: the correlation heatmap, histograms from binned counts and
scatter plots of a bounded sample."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from steps.charts.common import (
    _BLUE,
    TEMPLATE,
    _float_or_none,
    binned_bars,
    escape,
    no_data_figure,
    short_label,
)
from steps.errors import ChartError

HEATMAP_CELL_TEXT_MAX = 15
SCATTER_MAX_POINTS = 5_000
SCATTER_SEED = 42


def _correlation_rows(n: int, matrix: Sequence[Sequence[float | None]]) -> list[list[float | None]]:
    if len(matrix) != n or any(len(row) != n for row in matrix):
        raise ChartError(f"The correlation matrix must be {n} × {n}, one row per column.")
    rows = [[_float_or_none(v) for v in row] for row in matrix]
    if any(v is not None and abs(v) > 1 + 1e-9 for row in rows for v in row):
        raise ChartError("Correlations must lie between -1 and 1.")
    return rows


def correlation_heatmap(
    columns: Sequence[str], matrix: Sequence[Sequence[float | None]]
) -> go.Figure:
    """A correlation matrix on a diverging scale centred on 0; undefined pairs are gaps.

    Past `HEATMAP_CELL_TEXT_MAX` columns the cells carry no printed values (hover still has
    them) and the tick font shrinks, so 40+ columns stay readable.
    """
    title = "Correlation matrix"
    rows = _correlation_rows(len(columns), matrix)
    if not columns:
        return no_data_figure(title, "No numeric columns to correlate")
    n = len(columns)
    names = [escape(c) for c in columns]
    ticks = [short_label(c, 24) for c in columns]
    show_text = n <= HEATMAP_CELL_TEXT_MAX
    fig = go.Figure(
        go.Heatmap(
            z=rows,
            x=names,
            y=names,
            zmin=-1,
            zmax=1,
            zmid=0,
            colorscale="RdBu_r",
            hoverongaps=False,
            texttemplate="%{z:.2f}" if show_text else None,
            hovertemplate="%{y} × %{x}<br>r = %{z:.4f}<extra></extra>",
            colorbar={"title": "r"},
        )
    )
    tick_size = max(6, min(12, int(480 / n)))
    axis = {
        "tickmode": "array",
        "tickvals": names,
        "ticktext": ticks,
        "tickfont": {"size": tick_size},
        "automargin": True,
    }
    fig.update_layout(
        template=TEMPLATE,
        title=f"{title} ({n} columns)",
        xaxis={**axis, "tickangle": -45 if n <= 25 else -90, "constrain": "domain"},
        yaxis={**axis, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        height=max(520, min(1200, 240 + 20 * n)),
    )
    return fig


def histogram_from_bins(name: str, edges: Sequence[float], counts: Sequence[int]) -> go.Figure:
    """A histogram drawn from bins computed in DuckDB: bars at bin centres with bin widths."""
    title = f"Distribution of {short_label(name)}"
    if not counts:
        return no_data_figure(title, "No numeric values")
    if len(edges) != len(counts) + 1:
        raise ChartError("A histogram needs exactly one more bin edge than bin counts.")
    lo = np.asarray(edges[:-1], dtype=float)
    hi = np.asarray(edges[1:], dtype=float)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi >= lo)):
        raise ChartError("Histogram bin edges must be finite and increasing.")
    heights = [int(c) for c in counts]
    if any(c < 0 for c in heights):
        raise ChartError("Histogram counts cannot be negative.")
    fig = go.Figure(
        binned_bars(
            edges,
            heights,
            customdata=np.column_stack([lo, hi]),
            hovertemplate="[%{customdata[0]:.4g}, %{customdata[1]:.4g}): %{y:,}<extra></extra>",
            marker={"color": _BLUE, "line": {"width": 0.5, "color": "white"}},
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=f"{title} ({sum(heights):,} values)",
        bargap=0,
        xaxis={"title": escape(name)},
        yaxis={"title": "count"},
        height=360,
    )
    return fig


def _thinned(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most `SCATTER_MAX_POINTS` pairs, chosen with a fixed seed, in their original order."""
    if len(xs) <= SCATTER_MAX_POINTS:
        return xs, ys
    rng = np.random.default_rng(SCATTER_SEED)
    keep = np.sort(rng.choice(len(xs), size=SCATTER_MAX_POINTS, replace=False))
    return xs[keep], ys[keep]


def scatter_points(
    x_name: str,
    y_name: str,
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    n_total: int,
) -> go.Figure:
    """A scatter plot of a bounded sample; the title says "sample of n of N" whenever n < N.

    Pairs with a missing side are left out (and so counted out of n); more than
    `SCATTER_MAX_POINTS` pairs are thinned with a fixed seed so the payload stays small.
    """
    title = f"{short_label(y_name)} vs {short_label(x_name)}"
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ChartError("A scatter plot needs as many y values as x values.")
    if n_total < len(x):
        raise ChartError("The total row count cannot be smaller than the sample.")
    both = np.isfinite(x) & np.isfinite(y)
    x, y = _thinned(x[both], y[both])
    if len(x) == 0:
        return no_data_figure(title, "No rows with both values")
    caption = (
        f"sample of {len(x):,} of {n_total:,} rows" if len(x) < n_total else f"all {n_total:,} rows"
    )
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="markers",
            marker={"size": 5, "opacity": 0.6, "color": _BLUE},
            hovertemplate="x = %{x:.4g}<br>y = %{y:.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=f"{title}<br><sup>{caption}</sup>",
        xaxis={"title": escape(x_name)},
        yaxis={"title": escape(y_name)},
        height=420,
    )
    return fig
