"""Figures carry exactly the aggregates they were given, escape names, and stay small."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from steps.charts import (
    BOX_MAX_COLUMNS,
    MISSING_BAR_TOP,
    SCATTER_MAX_POINTS,
    BoxStats,
    ChartError,
    PriorityItem,
    box_from_quantiles,
    completion_status,
    correlation_heatmap,
    histogram_from_bins,
    kind_pie,
    missing_bar,
    priority_matrix,
    quality_bar,
    scatter_points,
)

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
TWO_MB = 2_000_000


def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def box_of(name: str, values: np.ndarray) -> BoxStats:
    """Tukey box stats computed independently with numpy (fences = furthest points in 1.5 IQR)."""
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    iqr = q3 - q1
    inside = values[(values >= q1 - 1.5 * iqr) & (values <= q3 + 1.5 * iqr)]
    return BoxStats(
        name=name,
        q1=float(q1),
        median=float(median),
        q3=float(q3),
        lower_fence=float(inside.min()),
        upper_fence=float(inside.max()),
        mean=float(values.mean()),
        outliers_low=int((values < q1 - 1.5 * iqr).sum()),
        outliers_high=int((values > q3 + 1.5 * iqr).sum()),
    )


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def assert_no_hostile(fig: go.Figure) -> None:
    payload = fig.to_json()
    assert HOSTILE not in payload
    assert "<img" not in payload
    assert "&lt;img src=x" in payload


# data matches inputs ------------------------------------------------------------------------


def test_kind_pie_carries_counts_and_skips_empty_kinds() -> None:
    kinds = {"numeric": 5, "categorical": 3, "datetime": 0, "text": 1}
    fig = kind_pie(kinds)
    (pie,) = fig.data
    assert list(pie.labels) == ["numeric", "categorical", "text"]
    assert list(pie.values) == [5, 3, 1]


def test_missing_bar_matches_pandas_counts_sorted_worst_first() -> None:
    r = rng()
    frame = pd.DataFrame(r.normal(size=(500, 6)), columns=list("abcdef"))
    for col, share in zip("abcdef", [0.0, 0.5, 0.1, 0.3, 0.02, 0.7], strict=True):
        frame.loc[r.random(500) < share, col] = np.nan
    expected = frame.isna().sum().sort_values(ascending=False, kind="stable")
    fig = missing_bar(frame.isna().sum().to_dict(), len(frame))
    (bar,) = fig.data
    names = [row[0] for row in bar.customdata]
    counts = [row[1] for row in bar.customdata]
    assert counts == expected.tolist()
    assert names == expected.index.tolist()
    for pct, count in zip(bar.x, counts, strict=True):
        assert Fraction(pct).limit_denominator(10_000) == Fraction(100 * count, 500)
    assert list(fig.layout.yaxis.ticktext) == names


def test_missing_bar_folds_the_tail_into_others_within_100_percent() -> None:
    missing = {f"col_{i:03d}": i for i in range(200)}
    fig = missing_bar(missing, 1000)
    (bar,) = fig.data
    assert len(bar.x) == MISSING_BAR_TOP + 1
    tail = sorted(missing.values(), reverse=True)[MISSING_BAR_TOP:]
    assert bar.customdata[-1][1] == sum(tail)
    assert bar.x[-1] == pytest.approx(100 * sum(tail) / (1000 * len(tail)))
    assert all(0 <= x <= 100 for x in bar.x)
    assert f"{len(tail)} other columns" in fig.layout.yaxis.ticktext[-1]
    assert len(fig.to_json()) < 50_000


def test_box_uses_given_quantiles_and_no_raw_values() -> None:
    r = rng()
    data = {
        "small": r.normal(0, 1, 1000),
        "large": np.concatenate([r.normal(1e6, 5e4, 995), [5e6, 6e6, -4e6, 7e6, 8e6]]),
        "skewed": r.exponential(3, 1000),
    }
    boxes = [box_of(name, values) for name, values in data.items()]
    fig = box_from_quantiles(boxes)
    assert len(fig.data) == 3
    for trace, box in zip(fig.data, boxes, strict=True):
        assert trace.type == "box"
        assert trace.q1 == (box.q1,)
        assert trace.median == (box.median,)
        assert trace.q3 == (box.q3,)
        assert trace.lowerfence == (box.lower_fence,)
        assert trace.upperfence == (box.upper_fence,)
        assert trace.mean == (box.mean,)
        assert trace.y is None
    # one panel (own y axis) per column, since their scales differ by six orders of magnitude
    assert len({t.yaxis for t in fig.data}) == 3
    large = boxes[1]
    assert large.outliers_low >= 1 and large.outliers_high >= 4  # the planted ones
    caption = f"{large.outliers_low} low · {large.outliers_high} high"
    assert any(caption in text for text in annotation_texts(fig))
    assert len(fig.to_json()) < 50_000


def test_box_skips_columns_without_values_and_says_so() -> None:
    boxes = [
        BoxStats("ok", 1.0, 2.0, 3.0, 0.0, 4.0),
        BoxStats("empty", None, None, None, None, None),
        BoxStats("nan", math.nan, math.nan, math.nan, math.nan, math.nan),
    ]
    fig = box_from_quantiles(boxes)
    assert [t.name for t in fig.data] == ["ok"]
    assert "no numeric values: empty, nan" in fig.layout.title.text


def test_box_caps_the_number_of_panels_and_says_so() -> None:
    boxes = [BoxStats(f"c{i}", 1.0, 2.0, 3.0, 0.0, 4.0) for i in range(BOX_MAX_COLUMNS + 12)]
    fig = box_from_quantiles(boxes)
    assert len(fig.data) == BOX_MAX_COLUMNS
    assert f"first {BOX_MAX_COLUMNS} of {BOX_MAX_COLUMNS + 12}" in fig.layout.title.text
    assert len(fig.to_json()) < 200_000


def test_box_refuses_unordered_quantiles() -> None:
    with pytest.raises(ChartError, match="not ordered"):
        box_from_quantiles([BoxStats("x", 3.0, 2.0, 1.0, 0.0, 4.0)])


def test_quality_bar_values_and_range() -> None:
    metrics = {"completeness": 97.5, "uniqueness": 99.0, "validity": 61.25, "score": 42.0}
    fig = quality_bar(metrics)
    (bar,) = fig.data
    assert list(bar.x) == list(metrics)
    assert list(bar.y) == list(metrics.values())
    assert fig.layout.yaxis.range[0] == 0
    assert bar.marker.color[3] != bar.marker.color[0]  # a failing score does not look like a pass
    with pytest.raises(ChartError):
        quality_bar({"score": 140})


def test_correlation_heatmap_equals_numpy_with_gaps() -> None:
    r = rng()
    base = r.normal(size=(300, 5))
    base[:, 1] = base[:, 0] * 2 + r.normal(scale=0.3, size=300)
    base[:, 3] = -base[:, 2] + r.normal(scale=0.5, size=300)
    corr = np.corrcoef(base, rowvar=False)
    matrix = [[float(v) for v in row] for row in corr]
    matrix[4][0] = matrix[0][4] = None  # an undefined pair
    fig = correlation_heatmap(list("abcde"), matrix)
    (heat,) = fig.data
    assert heat.zmid == 0 and heat.zmin == -1 and heat.zmax == 1
    assert heat.hoverongaps is False
    assert heat.texttemplate is not None  # five columns: values printed in the cells
    for i in range(5):
        for j in range(5):
            if matrix[i][j] is None:
                assert heat.z[i][j] is None
            else:
                assert heat.z[i][j] == pytest.approx(corr[i, j], abs=1e-15)


def test_correlation_heatmap_60_columns_is_small_and_unlabelled() -> None:
    r = rng()
    corr = np.corrcoef(r.normal(size=(200, 60)), rowvar=False)
    columns = [f"a rather long column name number {i}" for i in range(60)]
    fig = correlation_heatmap(columns, corr.tolist())
    (heat,) = fig.data
    assert heat.texttemplate is None
    assert fig.layout.xaxis.tickfont.size < 12
    assert len(fig.to_json()) < 200_000


def test_correlation_heatmap_nan_becomes_gap_and_shape_is_checked() -> None:
    fig = correlation_heatmap(["a", "b"], [[1.0, math.nan], [math.nan, 1.0]])
    assert fig.data[0].z[0][1] is None
    assert "NaN" not in fig.to_json()
    with pytest.raises(ChartError, match="2 × 2"):
        correlation_heatmap(["a", "b"], [[1.0, 0.5]])
    with pytest.raises(ChartError):
        correlation_heatmap(["a", "b"], [[1.0, 1.5], [1.5, 1.0]])


def test_histogram_bars_equal_numpy_histogram() -> None:
    values = rng().gamma(2.0, 3.0, 5000)
    counts, edges = np.histogram(values, bins=25)
    fig = histogram_from_bins("g", edges.tolist(), counts.tolist())
    (bar,) = fig.data
    assert list(bar.y) == counts.tolist()
    np.testing.assert_allclose(bar.x, (edges[:-1] + edges[1:]) / 2)
    np.testing.assert_allclose(bar.width, np.diff(edges))
    assert sum(bar.y) == len(values)
    assert fig.layout.bargap == 0


def test_histogram_refuses_mismatched_edges() -> None:
    with pytest.raises(ChartError, match="one more bin edge"):
        histogram_from_bins("x", [0, 1, 2], [1, 2, 3])
    with pytest.raises(ChartError, match="increasing"):
        histogram_from_bins("x", [0, 2, 1], [1, 2])


def test_scatter_states_sample_size_and_keeps_the_points() -> None:
    r = rng()
    xs, ys = r.normal(size=3000), r.normal(size=3000)
    fig = scatter_points("x", "y", xs.tolist(), ys.tolist(), n_total=1_234_567)
    (pts,) = fig.data
    np.testing.assert_array_equal(pts.x, xs)
    np.testing.assert_array_equal(pts.y, ys)
    assert "sample of 3,000 of 1,234,567" in fig.layout.title.text
    full = scatter_points("x", "y", xs.tolist(), ys.tolist(), n_total=3000)
    assert "sample" not in full.layout.title.text
    assert "all 3,000 rows" in full.layout.title.text


def test_scatter_thins_large_input_deterministically() -> None:
    r = rng()
    xs = np.arange(20_000, dtype=float)
    ys = r.normal(size=20_000)
    fig = scatter_points("x", "y", xs, ys, n_total=20_000)
    again = scatter_points("x", "y", xs, ys, n_total=20_000)
    (pts,) = fig.data
    assert len(pts.x) == SCATTER_MAX_POINTS
    np.testing.assert_array_equal(pts.x, again.data[0].x)
    # every plotted point is a real input pair
    np.testing.assert_array_equal(pts.y, ys[pts.x.astype(int)])
    assert f"sample of {SCATTER_MAX_POINTS:,} of 20,000" in fig.layout.title.text
    assert len(fig.to_json()) < 300_000


def test_scatter_drops_incomplete_pairs_and_checks_lengths() -> None:
    fig = scatter_points("x", "y", [1.0, None, 3.0, 4.0], [1.0, 2.0, math.nan, 4.0], n_total=4)
    assert list(fig.data[0].x) == [1.0, 4.0]
    assert "sample of 2 of 4" in fig.layout.title.text
    with pytest.raises(ChartError):
        scatter_points("x", "y", [1.0, 2.0], [1.0], n_total=2)
    with pytest.raises(ChartError):
        scatter_points("x", "y", [1.0, 2.0], [1.0, 2.0], n_total=1)


def test_completion_status_rows_and_summary() -> None:
    items = [
        ("Step 1 Overview", "computed"),
        ("Gate 1 data quality", "approved"),
        ("Step 3 Statistics", "computed"),
        ("Gate 2 analysis validation", "pending"),
        ("Gate 4 result verification", "rejected"),
    ]
    fig = completion_status(items)
    seen = {}
    for trace in fig.data:
        for y, (name, status) in zip(trace.y, trace.customdata, strict=True):
            seen[y] = (name, status)
    assert seen == dict(enumerate(items))
    assert "3 of 5 complete" in fig.layout.title.text
    assert list(fig.layout.yaxis.ticktext) == [name for name, _ in items]


def test_completion_status_counts_a_gate_that_does_not_apply_apart_and_names_it_plainly() -> None:
    items = [("Step 1", "done"), ("Gate 3 model approval", "not_applicable"), ("Step 4", "done")]
    fig = completion_status(items)
    assert fig.layout.title.text.endswith("2 of 2 complete, 1 not applicable")
    shown = {text for trace in fig.data for text in trace.text} | {t.name for t in fig.data}
    assert shown == {"done", "not applicable"}


def test_priority_matrix_places_items_in_quadrants() -> None:
    items = [
        PriorityItem("Drop duplicate rows", impact=5, effort=1, priority="high"),
        PriorityItem("Rebuild pipeline", impact=5, effort=5, priority="medium"),
        PriorityItem("Rename columns", impact=1, effort=1, priority="low"),
        PriorityItem("Manual relabel", impact=2, effort=4, priority="low"),
        PriorityItem("Same cell as first", impact=5, effort=1, priority="high"),
    ]
    fig = priority_matrix(items)
    labels = {a.text for a in fig.layout.annotations}
    assert {
        "<b>Quick wins</b>",
        "<b>Major projects</b>",
        "<b>Fill-ins</b>",
        "<b>Thankless tasks</b>",
    } <= labels
    placed = {}
    for trace in fig.data:
        for x, y, data in zip(trace.x, trace.y, trace.customdata, strict=True):
            placed[data[0]] = (x, y, data[1], data[2])
    assert set(placed) == {i.title for i in items}
    for item in items:
        x, y, impact, effort = placed[item.title]
        assert (impact, effort) == (item.impact, item.effort)
        assert abs(x - item.effort) < 0.25 and abs(y - item.impact) < 0.25
    # two items in the same cell are nudged apart, not drawn on top of each other
    assert placed["Drop duplicate rows"][:2] != placed["Same cell as first"][:2]
    with pytest.raises(ChartError, match="between 1 and 5"):
        priority_matrix([PriorityItem("x", impact=6, effort=1, priority="low")])


def test_priority_matrix_numbers_each_marker_by_its_place_in_the_plan() -> None:
    items = [
        PriorityItem(f"Action {k}", impact=3, effort=2, priority=p)
        for k, p in enumerate(["high", "high", "medium", "low", "medium"], start=1)
    ]
    fig = priority_matrix(items)
    numbered = {
        text: data[0]
        for trace in fig.data
        for text, data in zip(trace.text, trace.customdata, strict=True)
    }
    assert numbered == {str(k): f"Action {k}" for k in range(1, 6)}


# hostile names ------------------------------------------------------------------------------


def test_hostile_names_are_escaped_everywhere() -> None:
    r = rng()
    figures = [
        kind_pie({HOSTILE: 2, "numeric": 1}),
        missing_bar({HOSTILE: 7, "b": 1}, 10),
        box_from_quantiles([box_of(HOSTILE, r.normal(size=100))]),
        box_from_quantiles(
            [BoxStats("ok", 1.0, 2.0, 3.0, 0.0, 4.0), BoxStats(HOSTILE, None, 1, 2, 3, 4)]
        ),
        quality_bar({HOSTILE: 50.0}),
        correlation_heatmap([HOSTILE, "b"], [[1.0, 0.2], [0.2, 1.0]]),
        histogram_from_bins(HOSTILE, [0.0, 1.0, 2.0], [1, 2]),
        scatter_points(HOSTILE, HOSTILE, [1.0, 2.0], [2.0, 1.0], n_total=5),
        completion_status([(HOSTILE, HOSTILE)]),
        priority_matrix([PriorityItem(HOSTILE, 3, 3, HOSTILE)]),
    ]
    for fig in figures:
        assert_no_hostile(fig)


def test_long_names_are_cut_on_axes_but_whole_in_hover() -> None:
    long = "x" * 10 + "&" * 30
    fig = correlation_heatmap([long, "b"], [[1.0, 0.0], [0.0, 1.0]])
    tick = fig.layout.xaxis.ticktext[0]
    assert tick.endswith("…") and "&amp;" in tick and not tick.endswith("&amp…")
    assert fig.data[0].x[0] == long.replace("&", "&amp;")


# empty inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fig",
    [
        kind_pie({}),
        kind_pie({"numeric": 0}),
        missing_bar({}, 0),
        missing_bar({"a": 0}, 0),
        box_from_quantiles([]),
        box_from_quantiles([BoxStats("a", None, None, None, None, None)]),
        quality_bar({}),
        correlation_heatmap([], []),
        histogram_from_bins("a", [], []),
        scatter_points("a", "b", [], [], n_total=0),
        completion_status([]),
        priority_matrix([]),
    ],
)
def test_empty_inputs_give_a_valid_figure_saying_no_data(fig: go.Figure) -> None:
    assert len(fig.data) == 0
    (note,) = annotation_texts(fig)
    assert note.lower().startswith(("no ", "nothing"))
    assert json.loads(fig.to_json())["layout"]["annotations"][0]["text"] == note


def test_missing_labels_sit_outside_the_bars_with_room_past_100_percent():
    """Inside a long bar plotly shrinks a label until it cannot be read; outside, a column
    missing every value needs room past the end of the axis."""
    fig = missing_bar({"all_gone": 50, "some": 5}, 50)
    bar = fig.data[0]
    assert bar.textposition == "outside" and bar.cliponaxis is False
    assert list(bar.text) == ["50 (100.0%)", "5 (10.0%)"]
    assert fig.layout.xaxis.range[1] > 100 and max(fig.layout.xaxis.tickvals) == 100


def test_a_perfect_quality_score_keeps_its_label_on_the_chart():
    fig = quality_bar({"uniqueness": 100.0, "validity": 60.0})
    assert fig.data[0].cliponaxis is False and list(fig.data[0].text) == ["100.0", "60.0"]
    assert fig.layout.yaxis.range[1] > 100 and max(fig.layout.yaxis.tickvals) == 100


def test_a_heavy_tailed_histogram_gets_a_log_count_axis_and_says_so() -> None:
    from steps.charts import histogram_from_bins

    heavy = histogram_from_bins("latency", [0, 10, 20, 30, 40], [950, 30, 15, 5])
    assert heavy.layout.yaxis.type == "log"
    assert "one bin holds 950 of 1,000 values" in heavy.layout.title.text
    even = histogram_from_bins("x", [0, 1, 2, 3], [30, 40, 30])
    assert even.layout.yaxis.type == "linear" and "log" not in even.layout.title.text


def test_boxes_say_how_many_values_lie_beyond_the_whiskers() -> None:
    from steps.charts import BoxStats, box_from_quantiles

    fig = box_from_quantiles([BoxStats("x", 1.0, 2.0, 3.0, 0.0, 4.5, 2.2, beyond=7)])
    assert "7 beyond the whiskers, not drawn" in fig.layout.annotations[0].text
