"""Figures for associations, column cards and missing-data structure: drawn from the step
results, bounded in size, every data-derived string escaped."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table as table

from samples import sample_path
from steps import column_charts
from steps.errors import ChartError
from steps.load import load
from steps.overview import overview
from steps.statistics import statistics

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def penguins():
    loaded = load(sample_path("penguins"))
    return overview(loaded.con, loaded.table), statistics(loaded.con, loaded.table)


def heatmap_of(stats) -> dict:
    m = stats.association_matrix
    fig = column_charts.association_heatmap(
        m.columns, m.kinds, m.measures, m.matrix, m.n, note=m.basis
    )
    return json.loads(fig.to_json())


def test_the_association_heatmap_names_the_measure_of_every_cell(penguins):
    _, stats = penguins
    trace = heatmap_of(stats)["data"][0]
    m = stats.association_matrix
    i, j = m.columns.index("species"), m.columns.index("flipper_length_mm")
    assert trace["customdata"][i][j][0] == "correlation ratio η"
    k = m.columns.index("island")
    assert trace["customdata"][i][k][0] == "Cramér's V"
    a, b = m.columns.index("bill_depth_mm"), m.columns.index("body_mass_g")
    assert trace["customdata"][a][b][0] == "Pearson r"
    assert trace["z"][i][j] == pytest.approx(m.matrix[i][j])
    assert "%{customdata[0]}" in trace["hovertemplate"]
    assert trace["x"][i] == "species" and trace["customdata"][i][j][2:] == [
        "categorical",
        "numeric",
    ]


def test_column_cards_by_kind(penguins):
    ov, _ = penguins
    species = column_charts.column_card(ov.column("species"))
    bar = json.loads(species.to_json())["data"][0]
    assert bar["x"] == [n for _, n in ov.column("species").top_values]
    assert column_charts.column_card(ov.column("bill_length_mm")) is None
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2021-01-01", periods=400, freq="D"),
            "note": [f"note number {i} " + "x" * (i % 37) for i in range(400)],
            "tag": [f"t{i % 12}" for i in range(400)],
        }
    )
    found = overview(table(frame))
    dates = json.loads(column_charts.column_card(found.column("day")).to_json())["data"][0]
    assert sum(dates["y"]) == 400 and len(dates["x"]) == len(found.column("day").date_detail.bins)
    lengths = json.loads(column_charts.column_card(found.column("note")).to_json())["data"][0]
    assert sum(lengths["y"]) == 400
    tags = json.loads(column_charts.column_card(found.column("tag")).to_json())["data"][0]
    assert tags["y"] == [0, 1, 2, 3, 4, 5] and tags["x"][-1] == 400 - sum(tags["x"][:-1])
    assert tags["marker"]["color"][-1] != tags["marker"]["color"][0]  # "other" is grey


def test_missing_data_figures_follow_the_counts():
    frame = pd.DataFrame({"a": [None, 1.0, None, 4.0] * 50, "b": [None, None, 3.0, 4.0] * 50})
    m = overview(table(frame)).missingness
    co = json.loads(column_charts.co_missing_heatmap(m.columns, m.co_missing, 200).to_json())
    assert co["data"][0]["z"] == [[100, 50], [50, 100]]
    grid = column_charts.missingness_matrix(m.columns, m.block_starts, m.block_rows, m.by_block)
    trace = json.loads(grid.to_json())["data"][0]
    # Blocks of 2 rows: a is missing in one row of each, b in both rows of every other one.
    assert trace["z"] == [[50.0, 100.0], [50.0, 0.0]] * 50 and len(trace["y"]) == 100
    assert "binned" in json.loads(grid.to_json())["layout"]["title"]["text"]


def test_names_and_values_are_escaped_everywhere():
    frame = pd.DataFrame(
        {
            HOSTILE: [HOSTILE, "b", "b", None] * 30,
            "x": np.arange(120.0),
            "when": pd.date_range("2020-01-01", periods=120, freq="D"),
        }
    )
    con = table(frame)
    ov, stats = overview(con), statistics(con)
    m = stats.association_matrix
    figures = [
        column_charts.association_heatmap(m.columns, m.kinds, m.measures, m.matrix, m.n),
        column_charts.column_card(ov.column(HOSTILE)),
        column_charts.co_missing_heatmap(ov.missingness.columns, ov.missingness.co_missing, 120),
        column_charts.missingness_matrix(
            ov.missingness.columns,
            ov.missingness.block_starts,
            ov.missingness.block_rows,
            ov.missingness.by_block,
        ),
    ]
    for fig in figures:
        text = fig.to_json()
        assert "<img" not in text and "&lt;img" in text


def test_bad_inputs_are_refused_with_one_sentence():
    with pytest.raises(ChartError, match="2 × 2"):
        column_charts.association_heatmap(["a", "b"], ["numeric"] * 2, [[None]], [[1.0]], [[1]])
    with pytest.raises(ChartError, match="-1 and 1"):
        column_charts.association_heatmap(["a"], ["numeric"], [["pearson"]], [[1.5]], [[3]])
    with pytest.raises(ChartError, match="negative"):
        column_charts.top_values_bar("a", [("x", -1)], 0)
    with pytest.raises(ChartError, match="between 0 and 1"):
        column_charts.missingness_matrix(["a"], [0], 10, [[1.5]])


def test_a_text_length_bar_is_centred_on_the_lengths_it_holds():
    codes = [f"ab {i:07d}" for i in range(60)] * 2 + [f"ab {i:06d}" for i in range(20)]
    h = overview(table(pd.DataFrame({"code": codes}))).column("code").text_detail.length_histogram
    assert (h.edges, h.counts) == ((9.0, 10.0, 11.0), (20, 120))
    bars = column_charts.length_histogram("code", h.edges, h.counts).data[0]
    assert list(bars.x) == [9.0, 10.0] and list(bars.width) == [1.0, 1.0]
    assert list(bars.customdata) == ["9", "10"]
    assert bars.hovertemplate.startswith("%{customdata} characters")
    # Bins five lengths wide: the bar of lengths 2–6 spans 1.5 to 6.5.
    words = [("y " * 60)[:n] for n in range(2, 100)]
    wide = overview(table(pd.DataFrame({"w": words * 2}))).column("w").text_detail
    bars = column_charts.length_histogram("w", *dataclasses.astuple(wide.length_histogram)).data[0]
    assert list(bars.customdata[:2]) == ["2–6", "7–11"] and bars.customdata[-1] == "97–101"
    assert (bars.x[0] - bars.width[0] / 2, bars.x[0] + bars.width[0] / 2) == (1.5, 6.5)


def test_a_hundred_column_heatmap_stays_small():
    rng = np.random.default_rng(1)
    k = 100
    values = rng.uniform(-1, 1, (k, k))
    values = ((values + values.T) / 2).tolist()
    names = [f"column_{i}" for i in range(k)]
    measures = [["pearson"] * k for _ in range(k)]
    n = [[1_000_000] * k for _ in range(k)]
    fig = column_charts.association_heatmap(names, ["numeric"] * k, measures, values, n)
    assert len(fig.to_json()) < 2_000_000
