"""Plotly figures for every step, built from aggregates the steps already computed.

No figure here ever receives raw rows by the million: box plots take quantiles, histograms take
binned counts, scatter plots take a bounded sample (thinned further if a caller passes more),
so what the browser receives stays small whatever the file size. Each function takes plain
values rather than result classes, so the figures do not depend on how a step stores them.

Column names are data: plotly renders `<b>`-like tags in titles, ticks and hover text, so every
data-derived string is passed through `html.escape` before it reaches a figure (plotly turns
the entities back into the characters on screen, so the names still read correctly).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from steps.errors import ChartError
from steps.results import ToDict

MISSING_BAR_TOP = 30
BOX_MAX_COLUMNS = 48
BOX_GRID_WIDTH = 4
HEATMAP_CELL_TEXT_MAX = 15
SCATTER_MAX_POINTS = 5_000
SCATTER_SEED = 42
LABEL_MAX_CHARS = 40
# Hover text names a column in full, up to this: a 100 000-character name stays out.
HOVER_MAX_CHARS = 200
TEMPLATE = "plotly_white"

_GREEN, _AMBER, _RED, _GREY, _BLUE = "#2e7d32", "#f9a825", "#c62828", "#9e9e9e", "#1565c0"
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


@dataclass(frozen=True)
class PriorityItem(ToDict):
    """One recommendation placed on the impact × effort matrix (both on a 1–5 scale)."""

    title: str
    impact: float
    effort: float
    priority: str


def escape(text: object) -> str:
    """A data-derived string made safe for plotly's pseudo-HTML text."""
    return html.escape(str(text), quote=True)


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


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(float(value))


def _float_or_none(value: float | None) -> float | None:
    return float(value) if _finite(value) else None


# Step 1 -------------------------------------------------------------------------------------


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


def _zero_to_hundred(title: str, *, label_room: float) -> dict:
    """A 0–100 axis with room past 100 for the label outside a full bar (it was cut off
    there); the ticks stop at 100."""
    return {"title": title, "range": [0, 100 + label_room], "tickvals": list(range(0, 101, 20))}


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
        yaxis={
            "tickmode": "array",
            "tickvals": positions,
            "ticktext": labels,
            "autorange": "reversed",
            "automargin": True,
        },
        height=max(300, 120 + 22 * len(labels)),
    )
    return fig


# Step 2 -------------------------------------------------------------------------------------


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
            go.Box(
                name=escape(box.name),
                x=[short_label(box.name, 20)],
                q1=[float(box.q1)],
                median=[float(box.median)],
                q3=[float(box.q3)],
                lowerfence=[float(box.lower_fence)],
                upperfence=[float(box.upper_fence)],
                mean=[float(box.mean)] if _finite(box.mean) else None,
                boxpoints=False,
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


# Step 3 -------------------------------------------------------------------------------------


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
    widths = hi - lo
    fig = go.Figure(
        go.Bar(
            x=(lo + hi) / 2,
            y=heights,
            width=np.where(widths > 0, widths, 1.0),
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


# Step 4 -------------------------------------------------------------------------------------


def completion_status(items: Sequence[tuple[str, str]]) -> go.Figure:
    """Where the analysis stands: each step or gate as a row coloured by its status."""
    title = "Completion status"
    if not items:
        return no_data_figure(title, "Nothing to report yet")
    statuses = [str(status).strip().lower() for _, status in items]
    done = sum(s in _COMPLETE_STATUSES for s in statuses)
    positions = list(range(len(items)))
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
        title=f"{title}: {done} of {len(items)} complete",
        barmode="overlay",
        xaxis={"visible": False, "range": [0, 1]},
        yaxis={
            "tickmode": "array",
            "tickvals": positions,
            "ticktext": [short_label(name) for name, _ in items],
            "autorange": "reversed",
            "automargin": True,
        },
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
