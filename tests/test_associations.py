"""Step 3 associations across kinds against independent references: scipy and numpy.

Real data: the bundled Palmer penguins, and a seattle-weather-like file generated here (a
date index, precipitation, temperatures, wind and a `weather` label that depends on them).
Every figure is checked on the rows where both columns have a value (pairwise-complete).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table
from scipy import stats
from scipy.stats import contingency

from samples import sample_path
from steps.load import load
from steps.statistics import statistics, with_threshold
from steps.statistics.associations import MAX_LEVELS, MEASURES

TOLERANCE = 1e-9


def seattle_like(path: Path, days: int = 1461, seed: int = 5) -> pd.DataFrame:
    """Four years of daily weather shaped like vega's seattle-weather.csv, written as CSV."""
    rng = np.random.default_rng(seed)
    date = pd.date_range("2012-01-01", periods=days, freq="D")
    season = np.cos(2 * np.pi * (date.day_of_year.to_numpy() - 200) / 365.25)
    temp_max = np.round(16 + 9 * season + rng.normal(0, 3, days), 1)
    temp_min = np.round(temp_max - 8 + rng.normal(0, 2, days), 1)
    wet = rng.random(days) < 0.45 - 0.2 * season
    precipitation = np.round(np.where(wet, rng.gamma(1.2, 6, days), 0.0), 1)
    wind = np.round(rng.gamma(4, 0.8, days), 1)
    weather = np.where(
        precipitation > 8,
        "rain",
        np.where(precipitation > 0, np.where(temp_max < 4, "snow", "drizzle"), "sun"),
    ).astype(object)
    weather[(weather == "sun") & (rng.random(days) < 0.15)] = "fog"
    frame = pd.DataFrame(
        {
            "date": date,
            "precipitation": precipitation,
            "temp_max": temp_max,
            "temp_min": temp_min,
            "wind": wind,
            "weather": weather,
        }
    )
    frame.loc[rng.random(days) < 0.03, "wind"] = np.nan
    frame.loc[rng.random(days) < 0.02, "weather"] = None
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return pd.read_csv(path, parse_dates=["date"])


@pytest.fixture(scope="module")
def penguins():
    loaded = load(sample_path("penguins"))
    frame = pd.read_csv(sample_path("penguins"))
    return statistics(loaded.con, loaded.table), frame


@pytest.fixture(scope="module")
def seattle(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("weather") / "seattle_weather.csv"
    frame = seattle_like(path)
    loaded = load(path)
    return statistics(loaded.con, loaded.table), frame


def by_pair(result) -> dict[tuple[str, str, str], object]:
    return {(a.a, a.b, a.measure): a for a in result.associations}


def pair_complete(frame: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    return frame[[a, b]].dropna()


def numpy_eta(groups: np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio: √(Σ n_g (mean_g − mean)² / Σ (x − mean)²), straight from numpy."""
    mean = values.mean()
    between = sum(
        (groups == g).sum() * (values[groups == g].mean() - mean) ** 2 for g in np.unique(groups)
    )
    return math.sqrt(between / ((values - mean) ** 2).sum())


def as_numbers(series: pd.Series) -> np.ndarray:
    """Dates as epoch seconds (as Step 3 reads them), numbers as they are."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[s]").astype(np.int64).to_numpy(dtype=float)
    return series.to_numpy(dtype=float)


def check_numeric_pairs(result, frame: pd.DataFrame) -> int:
    checked = 0
    found = by_pair(result)
    for (a, b, measure), assoc in found.items():
        if measure not in ("pearson", "spearman", "kendall"):
            continue
        both = pair_complete(frame, a, b)
        x, y = as_numbers(both[a]), as_numbers(both[b])
        expected = {
            "pearson": np.corrcoef(x, y)[0, 1],
            "spearman": stats.spearmanr(x, y).statistic,
            "kendall": stats.kendalltau(x, y).statistic,
        }[measure]
        assert assoc.n == len(both), (a, b, measure)
        assert assoc.value == pytest.approx(expected, abs=TOLERANCE), (a, b, measure)
        checked += 1
    return checked


def check_categorical_pairs(result, frame: pd.DataFrame) -> tuple[int, int]:
    v_checked = eta_checked = 0
    for (a, b, measure), assoc in by_pair(result).items():
        both = pair_complete(frame, a, b)
        if measure == "cramers_v":
            table = pd.crosstab(both[a], both[b]).to_numpy()
            expected = contingency.association(table, method="cramer")
            v_checked += 1
        elif measure == "correlation_ratio":
            expected = numpy_eta(both[a].to_numpy(), as_numbers(both[b]))
            eta_checked += 1
        else:
            continue
        assert assoc.n == len(both), (a, b, measure)
        assert assoc.value == pytest.approx(expected, abs=TOLERANCE), (a, b, measure)
    return v_checked, eta_checked


def test_penguins_numeric_pairs_match_numpy_and_scipy(penguins):
    result, frame = penguins
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
    assert check_numeric_pairs(result, frame) == 3 * len(numeric) * (len(numeric) - 1) // 2


def test_penguins_cramers_v_and_eta_match_scipy_and_numpy(penguins):
    result, frame = penguins
    # species, island and sex: 3 crosstabs; each of them by each of the 5 numeric columns.
    assert check_categorical_pairs(result, frame) == (3, 15)
    found = by_pair(result)
    # The strongest relation the issue names: species and flipper length.
    assert found["species", "flipper_length_mm", "correlation_ratio"].value > 0.85


def test_seattle_weather_with_a_date_index_matches_scipy_and_numpy(seattle):
    result, frame = seattle
    matrix = result.association_matrix
    assert dict(zip(matrix.columns, matrix.kinds, strict=True))["date"] == "datetime"
    assert "epoch seconds" in matrix.basis
    assert check_numeric_pairs(result, frame) == 3 * 10  # 5 numeric-like columns
    assert check_categorical_pairs(result, frame) == (0, 5)
    eta = by_pair(result)["weather", "precipitation", "correlation_ratio"].value
    assert eta > 0.7
    assert any(p.measure == "correlation_ratio" for p in result.strong_associations)


def test_the_report_lists_every_association_with_its_measure(penguins):
    result, _ = penguins
    payload = result.to_dict()
    json.dumps(payload, allow_nan=False)
    listed = payload["associations"]
    assert listed and all(set(a) == {"a", "b", "measure", "value", "n"} for a in listed)
    assert {a["measure"] for a in listed} == set(MEASURES)
    matrix = payload["association_matrix"]
    size = len(matrix["columns"])
    assert len(matrix["matrix"]) == len(matrix["measures"]) == size
    for i in range(size):
        assert matrix["measures"][i][i] is None
        for j in range(size):
            assert matrix["matrix"][i][j] == matrix["matrix"][j][i]
            assert matrix["measures"][i][j] == matrix["measures"][j][i]


def test_the_matrix_shows_the_chosen_numeric_measure(penguins):
    _, frame = penguins
    loaded = load(sample_path("penguins"))
    spearman = statistics(loaded.con, loaded.table, method="spearman")
    matrix = spearman.association_matrix
    i, j = matrix.columns.index("bill_depth_mm"), matrix.columns.index("body_mass_g")
    assert matrix.measures[i][j] == "spearman" and matrix.numeric_measure == "spearman"
    both = pair_complete(frame, "bill_depth_mm", "body_mass_g")
    expected = stats.spearmanr(both.bill_depth_mm, both.body_mass_g).statistic
    assert matrix.matrix[i][j] == pytest.approx(expected, abs=TOLERANCE)
    assert spearman.correlation.exact


def test_bias_corrected_cramers_v_is_labelled_and_follows_bergsma(penguins):
    _, frame = penguins
    loaded = load(sample_path("penguins"))
    result = statistics(loaded.con, loaded.table, cramers_v_bias_corrected=True)
    assert result.association_matrix.cramers_v_bias_corrected
    assert "bias-corrected" in result.association_matrix.basis
    both = pair_complete(frame, "species", "island")
    table = pd.crosstab(both.species, both.island).to_numpy()
    n, (r, c) = table.sum(), table.shape
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    phi2 = max(0.0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
    rows, cols = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    expected = math.sqrt(phi2 / min(rows - 1, cols - 1))
    found = by_pair(result)["species", "island", "cramers_v"].value
    assert found == pytest.approx(expected, abs=TOLERANCE)
    plain = contingency.association(table, method="cramer")
    assert found < plain


def test_rank_measures_past_the_row_bound_come_from_a_labelled_seeded_sample():
    rng = np.random.default_rng(2)
    n = 6000
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "y": x + rng.normal(size=n), "z": rng.integers(0, 9, n)})
    con = duckdb_table(frame)
    sampled = statistics(con, rank_rows=2000)
    again = statistics(con, rank_rows=2000)
    matrix = sampled.association_matrix
    used = matrix.rank_sample_rows
    assert not matrix.rank_exact and abs(used - 2000) < 150
    assert f"sample of {used:,} of 6,000 rows (chosen by a hash" in matrix.basis
    assert sampled == again
    exact = statistics(con, rank_rows=None)
    assert exact.association_matrix.rank_exact
    found, full = by_pair(sampled), by_pair(exact)
    assert found["x", "y", "kendall"].n == used and full["x", "y", "kendall"].n == n
    assert found["x", "y", "pearson"] == full["x", "y", "pearson"]  # Pearson: every row
    expected = stats.kendalltau(frame.x, frame.y).statistic
    assert full["x", "y", "kendall"].value == pytest.approx(expected, abs=TOLERANCE)
    assert abs(found["x", "y", "kendall"].value - expected) < 0.05


def test_kendall_with_ties_and_gaps_in_many_valued_columns_matches_scipy():
    """Far more possible (x, y) cells than rows, ties in x, in y and in both, and missing
    values in each: τ-b and Spearman as scipy gives them on the pairwise-complete rows."""
    rng = np.random.default_rng(11)
    n = 5000
    x = np.round(rng.normal(size=n), 3)
    y = np.round(x + rng.normal(size=n), 3)
    copies = rng.integers(0, n, 400)
    x[copies[:200]], y[copies[:200]] = x[copies[200:]], y[copies[200:]]
    x[rng.random(n) < 0.05] = np.nan
    y[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame({"x": x, "y": y})
    found = by_pair(statistics(duckdb_table(frame), rank_rows=None))
    both = frame.dropna()
    assert both.x.nunique() * both.y.nunique() > 1 << 22
    assert found["x", "y", "kendall"].n == len(both)
    expected = stats.kendalltau(both.x, both.y).statistic
    assert found["x", "y", "kendall"].value == pytest.approx(expected, abs=TOLERANCE)
    rho = stats.spearmanr(both.x, both.y).statistic
    assert found["x", "y", "spearman"].value == pytest.approx(rho, abs=TOLERANCE)


def test_categorical_columns_with_too_many_levels_are_left_out_and_said_so():
    n = 400
    frame = pd.DataFrame(
        {
            "label": [f"L{i % (MAX_LEVELS + 1)}" for i in range(n)],
            "group": [("a", "b", "c")[i % 3] for i in range(n)],
            "constant": ["same"] * n,
            "x": np.arange(n, dtype=float),
        }
    )
    result = statistics(duckdb_table(frame))
    assert "label" not in result.association_matrix.columns
    assert "constant" not in result.association_matrix.columns
    assert "group" in result.association_matrix.columns
    note = next(n for n in result.notes if "leave out 2 text column" in n)
    assert "label" in note and "constant" in note
    assert note in result.association_matrix.notes


def test_the_slider_recomputes_strong_associations_without_a_query(penguins):
    result, _ = penguins
    loaded = load(sample_path("penguins"))
    fresh = statistics(loaded.con, loaded.table, threshold=0.5)
    loaded.con.close()  # any query would now fail
    started = time.perf_counter()
    moved = with_threshold(fresh, 0.8)
    assert time.perf_counter() - started < 0.05
    assert moved.strong_associations == tuple(
        a for a in fresh.strong_associations if abs(a.value) >= 0.8
    )
    assert all(abs(a.value) >= 0.5 for a in fresh.strong_associations)
    assert len(moved.strong_associations) < len(fresh.strong_associations)
    values = [abs(a.value) for a in fresh.strong_associations]
    assert values == sorted(values, reverse=True)
    assert with_threshold(moved, 0.7).strong_associations == result.strong_associations
