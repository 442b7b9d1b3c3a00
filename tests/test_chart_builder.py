"""Chart builder: sensible options, aggregates checked against pandas/numpy, bounded payloads."""

from __future__ import annotations

import html
import json

import duckdb
import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from steps.chart_builder import (
    CHART_KINDS,
    MAX_GROUPS,
    MAX_LINE_POINTS,
    OTHER,
    BinnedSeries,
    BoxSeries,
    ChartBuilderError,
    ChartData,
    ChartProblem,
    ChartSpec,
    build,
    column_kinds,
    figure,
    options,
)
from steps.charts import TEMPLATE


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def mixed_frame(n: int = 3000, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "amount": rng.gamma(2.0, 50.0, n),
            "score": rng.normal(0, 1, n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "shop": rng.choice([f"shop {i:02d}" for i in range(30)], n),
            "member": rng.random(n) < 0.4,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
            "email": [f"user{i}@example.org" for i in range(n)],
            "comment": [f"free text number {i % 700} " * 3 for i in range(n)],
        }
    )
    frame.loc[rng.random(n) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(n) < 0.05, "region"] = None
    return frame


@pytest.fixture
def mixed(con):
    frame = mixed_frame()
    con.register("frame_view", frame)
    con.execute("CREATE TABLE data AS SELECT * FROM frame_view")
    con.unregister("frame_view")
    return con, frame


EXPECTED_KINDS = {
    "customer_id": "identifier",
    "amount": "numeric",
    "score": "numeric",
    "region": "categorical",
    "shop": "categorical",
    "member": "boolean",
    "day": "datetime",
    "email": "identifier",
    "comment": "text",
}


def test_column_kinds_rule_and_overrides(mixed):
    con, _ = mixed
    assert column_kinds(con, "data") == EXPECTED_KINDS
    overridden = column_kinds(con, "data", {"customer_id": "numeric", "comment": "categorical"})
    assert overridden == {**EXPECTED_KINDS, "customer_id": "numeric", "comment": "categorical"}
    with pytest.raises(ChartBuilderError, match="kind 'colour'"):
        column_kinds(con, "data", {"amount": "colour"})


def test_options_offer_only_sensible_columns():
    groups = ("region", "shop", "member")
    expected = {
        "scatter": (("amount", "score", "day"), ("amount", "score"), groups, ("x", "y")),
        "line": (("amount", "score", "day"), ("amount", "score"), groups, ("x",)),
        "bar": (groups, ("amount", "score"), groups, ("x",)),
        "histogram": (("amount", "score"), (), groups, ("x",)),
        "box": (groups, ("amount", "score"), (), ("y",)),
    }
    for kind in CHART_KINDS:
        offered = options(kind, EXPECTED_KINDS)
        assert (offered.x, offered.y, offered.color, offered.required) == expected[kind], kind
    with pytest.raises(ChartBuilderError, match="not a chart kind"):
        options("pie", EXPECTED_KINDS)


IMPOSSIBLE = [
    (ChartSpec("pie", "region"), "'pie' is not a chart kind"),
    (ChartSpec("scatter", "amount"), "A scatter plot needs a y column."),
    (ChartSpec("box", "region"), "A box plot needs a y column."),
    (ChartSpec("bar"), "A bar chart needs an x column."),
    (ChartSpec("histogram", "amount", "score"), "A histogram takes no y column"),
    (ChartSpec("box", "region", "amount", "member"), "A box plot takes no colour column"),
    (ChartSpec("scatter", "amount", "nope"), "There is no column named 'nope'."),
    (ChartSpec("histogram", "region"), "needs a numeric column as x, but 'region' is categorical"),
    (ChartSpec("scatter", "email", "score"), "but 'email' is identifier"),
    (ChartSpec("bar", "amount"), "A bar chart needs a categorical or boolean column as x"),
    (ChartSpec("line", "day", "region"), "needs a numeric column as y, but 'region' is"),
    (ChartSpec("scatter", "amount", "score", "comment"), "as colour, but 'comment' is text"),
    (ChartSpec("box", "amount", "score"), "as x, but 'amount' is numeric"),
]


@pytest.mark.parametrize(("spec", "fragment"), IMPOSSIBLE)
def test_each_impossible_combination_explains_itself(mixed, spec, fragment):
    con, _ = mixed
    result = build(con, "data", spec)
    assert isinstance(result, ChartProblem)
    assert fragment in result.message
    assert result.message.endswith(".") and result.message.count(". ") == 0
    fig = figure(result)
    assert fig.layout.annotations[0].text == html.escape(result.message)


def test_charts_with_no_usable_rows_explain_themselves(con):
    con.execute("CREATE TABLE data (x DOUBLE, y DOUBLE, g VARCHAR)")
    con.execute("INSERT INTO data VALUES (1, NULL, 'a'), (NULL, 2, 'b'), ('nan', 3, 'c')")
    kinds = {"x": "numeric", "y": "numeric", "g": "categorical"}
    cases = {
        ChartSpec("scatter", "x", "y"): "No row has values for both 'x' and 'y'.",
        ChartSpec("line", "x", "y"): "No row has a value for 'x' and 'y'.",
        ChartSpec("bar", "g", "y"): None,
        ChartSpec("box", "g", "x"): None,
    }
    for spec, message in cases.items():
        result = build(con, "data", spec, kinds=kinds)
        if message is None:
            assert isinstance(result, ChartData)
        else:
            assert isinstance(result, ChartProblem) and result.message == message
    con.execute("DELETE FROM data")
    for spec in (ChartSpec("histogram", "x"), ChartSpec("box", None, "x"), ChartSpec("bar", "g")):
        assert isinstance(build(con, "data", spec, kinds=kinds), ChartProblem)


def test_bar_counts_and_means_equal_pandas(mixed):
    con, frame = mixed
    counts = build(con, "data", ChartSpec("bar", "region"))
    (series,) = counts.series
    expected = frame["region"].fillna("(missing)").value_counts()
    assert dict(zip(series.x, series.y, strict=True)) == expected.to_dict()
    assert list(series.x[:4]) == list(frame["region"].value_counts().index)
    means = build(con, "data", ChartSpec("bar", "region", "amount", "member"))
    pivot = frame.dropna(subset=["amount"]).groupby(["member", "region"])["amount"].mean()
    assert {s.name for s in means.series} == {"true", "false"}
    for s in means.series:
        for region, value in zip(s.x, s.y, strict=True):
            if region != "(missing)":
                assert value == pytest.approx(pivot[(s.name == "true", region)], rel=1e-12)
    assert means.n_used == frame["amount"].notna().sum()


def test_histogram_bins_equal_numpy_per_group(mixed):
    con, frame = mixed
    data = build(con, "data", ChartSpec("histogram", "amount", color="member"))
    values = frame["amount"].dropna()
    _, edges = np.histogram(values, bins=30)
    for s in data.series:
        assert isinstance(s, BinnedSeries)
        np.testing.assert_array_equal(s.edges, edges)
        group = frame.loc[frame["member"] == (s.name == "true"), "amount"].dropna()
        assert s.counts == tuple(np.histogram(group, bins=edges)[0])
    assert sum(sum(s.counts) for s in data.series) == len(values) == data.n_used


def test_box_quartiles_whiskers_and_outliers_equal_numpy(mixed):
    con, frame = mixed
    data = build(con, "data", ChartSpec("box", "region", "amount"))
    for s in data.series:
        assert isinstance(s, BoxSeries)
        mask = frame["region"].isna() if s.name == "(missing)" else frame["region"] == s.name
        y = frame.loc[mask, "amount"].dropna().to_numpy()
        q1, q2, q3 = np.percentile(y, [25, 50, 75])
        lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        assert (s.q1, s.median, s.q3) == pytest.approx((q1, q2, q3), rel=1e-12)
        assert s.lower_fence == y[y >= lo].min() and s.upper_fence == y[y <= hi].max()
        assert (s.outliers_low, s.outliers_high) == ((y < lo).sum(), (y > hi).sum())
        assert s.n == len(y) and s.mean == pytest.approx(y.mean(), rel=1e-12)


def test_line_is_a_mean_per_x_or_per_bin(mixed, con):
    db, frame = mixed
    per_day = build(db, "data", ChartSpec("line", "day", "score"))
    (series,) = per_day.series
    expected = frame.groupby("day")["score"].mean()
    assert [pd.Timestamp(x) for x in series.x] == list(expected.index)
    np.testing.assert_allclose(series.y, expected.to_numpy(), rtol=1e-12)
    con.execute(
        "CREATE TABLE big AS SELECT i::DOUBLE AS x, (i % 7)::DOUBLE AS y FROM range(20000) t(i)"
    )
    binned = build(con, "big", ChartSpec("line", "x"), kinds={"x": "numeric", "y": "numeric"})
    (series,) = binned.series
    assert len(series.x) == MAX_LINE_POINTS and sum(series.y) == 20000
    assert "per bin of x" in binned.note


def test_scatter_is_a_bounded_seeded_sample_of_real_rows(con):
    con.execute(
        "CREATE TABLE data AS SELECT i::DOUBLE AS x, (3 * i)::DOUBLE AS y, "
        "['a', 'b'][1 + i % 2] AS g FROM range(30000) t(i)"
    )
    spec = ChartSpec("scatter", "x", "y", "g")
    data = build(con, "data", spec, max_points=800, seed=3)
    assert data.sampled and data.n_used == 30000 and "800 of the 30,000" in data.note
    points = [(x, y, s.name) for s in data.series for x, y in zip(s.x, s.y, strict=True)]
    assert len(points) == 800
    assert all(y == 3 * x and g == ("a" if x % 2 == 0 else "b") for x, y, g in points)
    assert build(con, "data", spec, max_points=800, seed=3) == data


def test_colour_groups_are_capped_and_the_note_says_so(mixed):
    con, frame = mixed
    data = build(con, "data", ChartSpec("histogram", "score", color="shop"))
    names = [s.name for s in data.series]
    assert len(names) == MAX_GROUPS and names[-1] == OTHER
    top = frame["shop"].value_counts()
    top = sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))[: MAX_GROUPS - 1]
    assert names[:-1] == [name for name, _ in top]
    assert "merged into (other)" in data.note


def test_data_derived_strings_are_escaped_in_the_figure(con):
    frame = pd.DataFrame(
        {"<b>x</b>": np.arange(40.0), "g": ["<img src=x onerror=alert(1)>", "ok"] * 20}
    )
    con.register("frame_view", frame)
    con.execute("CREATE TABLE data AS SELECT * FROM frame_view")
    fig = figure(build(con, "data", ChartSpec("bar", "g", "<b>x</b>")))
    assert fig.layout.yaxis.title.text == "mean of &lt;b&gt;x&lt;/b&gt;"
    assert "&lt;img src=x onerror=alert(1)&gt;" in fig.data[0].x
    assert "<img" not in json.dumps(fig.to_plotly_json()["layout"]) + str(fig.data[0].x)


def test_payload_stays_small_for_a_million_rows(con):
    con.execute(
        "CREATE TABLE data AS SELECT random() * 1000 AS a, random() * i AS b, "
        "'shop ' || (i % 500) AS shop, ['x', 'y', 'z'][1 + i % 3] AS g, "
        "TIMESTAMP '2020-01-01' + to_seconds(i) AS ts FROM range(1000000) t(i)"
    )
    kinds = column_kinds(con, "data")
    assert kinds == {
        "a": "numeric",
        "b": "numeric",
        "shop": "text",
        "g": "categorical",
        "ts": "datetime",
    }
    kinds["shop"] = "categorical"
    specs = [
        ChartSpec("scatter", "a", "b", "g"),
        ChartSpec("line", "ts", "a", "g"),
        ChartSpec("bar", "shop", "a", "g"),
        ChartSpec("histogram", "b", color="shop"),
        ChartSpec("box", "shop", "b"),
    ]
    for spec in specs:
        data = build(con, "data", spec, kinds=kinds)
        assert isinstance(data, ChartData), spec
        size = len(figure(data).to_json())
        assert size < 2_000_000, (spec.kind, size)
        json.dumps(data.to_dict(), allow_nan=False)


def test_built_charts_use_the_steps_template_whether_chart_or_problem(con):
    con.execute("CREATE TABLE data AS SELECT range AS x, range % 3 AS y FROM range(50)")
    plain = pio.templates[TEMPLATE].layout.plot_bgcolor
    chart = figure(build(con, "data", ChartSpec("scatter", "x", "y")))
    problem = figure(ChartProblem(ChartSpec("scatter", "x", None), "Pick a column for y."))
    assert chart.layout.template.layout.plot_bgcolor == plain
    assert problem.layout.template.layout.plot_bgcolor == plain
    assert plain != pio.templates["plotly"].layout.plot_bgcolor
