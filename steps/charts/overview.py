"""Step 1 (overview) charts: the column kinds and the missing values per column."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from steps.charts.common import (
    _AMBER,
    HOVER_MAX_CHARS,
    TEMPLATE,
    _zero_to_hundred,
    escape,
    no_data_figure,
    rows_axis,
    short_label,
)
from steps.errors import ChartError

MISSING_BAR_TOP = 30


def kind_pie(kind_counts: Mapping[str, int]) -> go.Figure:
    """How many columns of each kind (numeric, categorical, ...) the table holds."""
    title = "Column kinds"
    kinds = [(kind, int(n)) for kind, n in kind_counts.items() if n]
    if any(n < 0 for _, n in kinds):
        raise ChartError("A column-kind count cannot be negative.")
    if not kinds:
        return no_data_figure(title, "No columns")
    fig = go.Figure(
        go.Pie(
            labels=[escape(kind) for kind, _ in kinds],
            values=[n for _, n in kinds],
            sort=False,
            textinfo="label+value",
            hovertemplate="%{label}: %{value} columns (%{percent})<extra></extra>",
        )
    )
    fig.update_layout(template=TEMPLATE, title=title, height=360)
    return fig


def missing_bar(missing: Mapping[str, int], n_rows: int) -> go.Figure:
    """Missing values per column, worst first; past the top N the rest share one bar.

    The bar length is the share of rows missing (comparable across tables); the label says
    the count too. The "others" bar is the share of all their cells, so it stays within 100 %.
    """
    title = "Missing values per column"
    if n_rows < 0 or any(n < 0 or n > n_rows for n in missing.values()):
        raise ChartError("Missing counts must lie between 0 and the number of rows.")
    if not missing:
        return no_data_figure(title, "No columns")
    if n_rows == 0:
        return no_data_figure(title, "No data rows")
    ranked = sorted(missing.items(), key=lambda item: (-item[1], item[0]))
    shown, rest = ranked[:MISSING_BAR_TOP], ranked[MISSING_BAR_TOP:]
    labels = [short_label(name) for name, _ in shown]
    names = [short_label(name, HOVER_MAX_CHARS) for name, _ in shown]
    counts = [int(n) for _, n in shown]
    cells = [n_rows] * len(shown)
    if rest:
        labels.append(f"({len(rest)} other columns)")
        names.append(f"{len(rest)} other columns together")
        counts.append(sum(int(n) for _, n in rest))
        cells.append(n_rows * len(rest))
    percents = [100.0 * c / total for c, total in zip(counts, cells, strict=True)]
    positions = list(range(len(labels)))
    fig = go.Figure(
        go.Bar(
            x=percents,
            y=positions,
            orientation="h",
            text=[f"{c:,} ({p:.1f}%)" for c, p in zip(counts, percents, strict=True)],
            # Outside, at full size: inside a long bar plotly shrinks the label to fit.
            textposition="outside",
            cliponaxis=False,
            customdata=[[name, c] for name, c in zip(names, counts, strict=True)],
            hovertemplate="%{customdata[0]}: %{customdata[1]:,} missing (%{x:.2f}%)<extra></extra>",
            marker_color=_AMBER,
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=f"{title} ({len(missing)} columns, {n_rows:,} rows)",
        xaxis=_zero_to_hundred("% of rows missing", label_room=18),
        yaxis=rows_axis(labels),
        height=max(300, 120 + 22 * len(labels)),
    )
    return fig
