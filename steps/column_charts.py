"""Figures for associations across kinds, column cards and missing-data structure.

Like `steps.charts`, every figure is drawn from aggregates a step already computed (a
matrix, bins, counts), never from rows, so its size does not grow with the table; every
data-derived string is escaped before plotly sees it. Functions take plain values;
`column_card` alone takes a Step 1 `ColumnSummary` and picks the figure for its kind.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import plotly.graph_objects as go

from steps.charts import (
    HEATMAP_CELL_TEXT_MAX,
    HOVER_MAX_CHARS,
    TEMPLATE,
    correlation_heatmap,
    escape,
    histogram_from_bins,
    no_data_figure,
    rows_axis,
    short_label,
)
from steps.errors import ChartError
from steps.overview import ColumnSummary

MEASURE_LABELS = {
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
    "kendall": "Kendall τ-b",
    "cramers_v": "Cramér's V",
    "correlation_ratio": "correlation ratio η",
}
_BAR = "#1565c0"
_OTHER = "#9e9e9e"


def _square(n: int, *rows: Sequence[Sequence[object]]) -> None:
    for matrix in rows:
        if len(matrix) != n or any(len(row) != n for row in matrix):
            raise ChartError(f"An association matrix must be {n} × {n}, one row per column.")


def _axes(names: list[str], ticks: list[str]) -> dict:
    n = len(names)
    return {
        "tickmode": "array",
        "tickvals": names,
        "ticktext": ticks,
        "tickfont": {"size": max(6, min(12, int(480 / n)))},
        "automargin": True,
    }


def _heatmap_layout(fig: go.Figure, title: str, names: list[str], ticks: list[str]) -> None:
    n = len(names)
    axis = _axes(names, ticks)
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        xaxis={**axis, "tickangle": -45 if n <= 25 else -90, "constrain": "domain"},
        yaxis={**axis, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        height=max(520, min(1200, 240 + 20 * n)),
    )


def association_heatmap(
    columns: Sequence[str],
    kinds: Sequence[str],
    measures: Sequence[Sequence[str | None]],
    matrix: Sequence[Sequence[float | None]],
    n: Sequence[Sequence[int]],
    *,
    note: str = "",
) -> go.Figure:
    """Every pair of columns of any kind on one scale, the measure of each cell on hover.

    Drawn as Step 3's correlation heatmap (same scale, axes and sizes): signed measures
    (r, ρ, τ) span −1 to 1, V and η 0 to 1 on the same colours, so a strong relation reads
    alike whichever measure found it. `note` (the basis) goes under the title.
    """
    size = len(columns)
    _square(size, measures, n)
    if len(kinds) != size:
        raise ChartError("Each column of the association matrix needs its kind.")
    fig = correlation_heatmap(columns, matrix)
    if not size:
        return fig
    hover = [
        [
            [
                MEASURE_LABELS.get(m, escape(m)) if m else "—",
                f"{n[i][j]:,}",
                escape(kinds[i]),
                escape(kinds[j]),
            ]
            for j, m in enumerate(row)
        ]
        for i, row in enumerate(measures)
    ]
    fig.update_traces(
        customdata=hover,
        hovertemplate=(
            "%{y} (%{customdata[2]}) × %{x} (%{customdata[3]})<br>"
            "%{customdata[0]} = %{z:.4f}<br>rows: %{customdata[1]}<extra></extra>"
        ),
        colorbar={"title": "value"},
    )
    heading = f"Associations across kinds ({size} columns)"
    fig.update_layout(title=heading + (f"<br><sup>{escape(note)}</sup>" if note else ""))
    return fig


def date_histogram(name: str, bins: Sequence[tuple[str, int]], period: str | None) -> go.Figure:
    """Counts per period (`bins`: ISO start of each period, count) of a date column."""
    title = f"{short_label(name)} per {escape(period or 'period')}"
    if not bins:
        return no_data_figure(title, "No dates")
    if any(int(c) < 0 for _, c in bins):
        raise ChartError("Date histogram counts cannot be negative.")
    fig = go.Figure(
        go.Bar(
            x=[start for start, _ in bins],
            y=[int(c) for _, c in bins],
            marker_color=_BAR,
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=f"{title} ({sum(int(c) for _, c in bins):,} values)",
        bargap=0.05,
        xaxis={"title": escape(period or ""), "type": "date"},
        yaxis={"title": "count"},
        height=360,
    )
    return fig


def length_histogram(name: str, edges: Sequence[float], counts: Sequence[int]) -> go.Figure:
    """Lengths of a text column's values, in characters, from binned counts.

    A bin holds the whole lengths `edges[i]` to `edges[i + 1] − 1`, so its bar is drawn half
    a character either side of them: a column of 10-character values is one bar centred
    on 10, not one from 10 to 11.
    """
    fig = histogram_from_bins(name, [e - 0.5 for e in edges], counts)
    if counts:
        spans = [(int(lo), int(hi) - 1) for lo, hi in itertools.pairwise(edges)]
        fig.update_traces(
            customdata=[f"{a:,}" if a == b else f"{a:,}–{b:,}" for a, b in spans],
            hovertemplate="%{customdata} characters: %{y:,}<extra></extra>",
        )
        fig.update_layout(
            title=f"Length of {short_label(name)} ({sum(int(c) for c in counts):,} values)",
            xaxis={"title": "characters"},
        )
    return fig


def top_values_bar(name: str, top: Sequence[tuple[str, int]], other: int) -> go.Figure:
    """The most frequent values of a column, and one grey bar for all the others."""
    title = f"Top values of {short_label(name)}"
    if other < 0 or any(int(c) < 0 for _, c in top):
        raise ChartError("Value counts cannot be negative.")
    if not top:
        return no_data_figure(title, "No values")
    labels = [short_label(v) for v, _ in top]
    full = [short_label(v, HOVER_MAX_CHARS) for v, _ in top]
    counts = [int(c) for _, c in top]
    colours = [_BAR] * len(top)
    if other:
        labels.append("(other)")
        full.append("all other values")
        counts.append(int(other))
        colours.append(_OTHER)
    positions = list(range(len(labels)))
    fig = go.Figure(
        go.Bar(
            x=counts,
            y=positions,
            orientation="h",
            marker_color=colours,
            customdata=full,
            text=[f"{c:,}" for c in counts],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{customdata}: %{x:,}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        xaxis={"title": "count"},
        yaxis=rows_axis(labels),
        height=max(260, 100 + 26 * len(labels)),
    )
    return fig


def column_card(column: ColumnSummary) -> go.Figure | None:
    """The figure of one column's card, by kind: dates per period, text lengths, top
    values with "other"; None for kinds whose figure is Step 3's histogram (numeric) or
    that have none (identifiers)."""
    if column.date_detail is not None:
        d = column.date_detail
        return date_histogram(column.name, d.bins, d.period)
    if column.text_detail is not None:
        h = column.text_detail.length_histogram
        return length_histogram(column.name, h.edges, h.counts)
    if column.category_detail is not None:
        return top_values_bar(column.name, column.top_values, column.category_detail.other)
    return None


def co_missing_heatmap(
    columns: Sequence[str], co_missing: Sequence[Sequence[int]], n_rows: int
) -> go.Figure:
    """Rows missing both columns of each pair (the diagonal: each column alone)."""
    title = "Missing together"
    _square(len(columns), co_missing)
    if not columns:
        return no_data_figure(title, "No missing values")
    if n_rows <= 0 or any(not 0 <= int(v) <= n_rows for row in co_missing for v in row):
        raise ChartError("Co-missing counts must lie between 0 and the number of rows.")
    names = [escape(c) for c in columns]
    shares = [[100.0 * int(v) / n_rows for v in row] for row in co_missing]
    fig = go.Figure(
        go.Heatmap(
            z=[[int(v) for v in row] for row in co_missing],
            x=names,
            y=names,
            customdata=shares,
            colorscale="Oranges",
            zmin=0,
            texttemplate="%{z:,}" if len(columns) <= HEATMAP_CELL_TEXT_MAX else None,
            hovertemplate=(
                "%{y} and %{x} both missing: %{z:,} rows (%{customdata:.2f}%)<extra></extra>"
            ),
            colorbar={"title": "rows"},
        )
    )
    heading = f"{title} ({len(columns)} columns with missing values, exact counts)"
    _heatmap_layout(fig, heading, names, [short_label(c, 24) for c in columns])
    return fig


def missingness_matrix(
    columns: Sequence[str],
    block_starts: Sequence[int],
    block_rows: int,
    by_block: Sequence[Sequence[float]],
) -> go.Figure:
    """Share of each column missing in each block of consecutive rows, top to bottom."""
    title = "Missing values by row"
    if not columns:
        return no_data_figure(title, "No missing values")
    if not by_block:
        return no_data_figure(title, "The rows have no order (a view)")
    if len(by_block) != len(block_starts) or any(len(r) != len(columns) for r in by_block):
        raise ChartError("The missingness matrix needs one share per block and column.")
    if any(not 0 <= v <= 1 for row in by_block for v in row):
        raise ChartError("Missing shares must lie between 0 and 1.")
    names = [escape(c) for c in columns]
    rows = [f"rows {s:,}–{s + block_rows - 1:,}" for s in block_starts]
    fig = go.Figure(
        go.Heatmap(
            z=[[100.0 * v for v in row] for row in by_block],
            x=names,
            y=rows,
            zmin=0,
            zmax=100,
            colorscale="Greys",
            hovertemplate="%{x}, %{y}: %{z:.1f}% missing<extra></extra>",
            colorbar={"title": "% missing"},
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=f"{title} (binned: share missing per block of {block_rows:,} rows)",
        xaxis={**_axes(names, [short_label(c, 24) for c in columns]), "side": "top"},
        yaxis={"autorange": "reversed", "showticklabels": len(rows) <= 40},
        height=max(360, min(900, 200 + 6 * len(rows))),
    )
    return fig
