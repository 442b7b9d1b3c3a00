"""Outlier methods against numpy/scipy on the same values; Isolation Forest reproducibility."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table as table
from scipy import stats as sps
from sklearn.ensemble import IsolationForest

from steps.engine import quote_ident
from steps.outliers import OutlierError, outliers

HOSTILE = ['quote"d', "<img src=x onerror=alert(1)>", "with space", "ünï©ødé", "y" * 200]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 2000
    heavy = rng.standard_t(2, n) * 5
    heavy[rng.random(n) < 0.05] = np.nan
    planted = rng.normal(0, 1, n)
    planted[[10, 500, 1500]] = [40.0, -35.0, 55.0]
    return pd.DataFrame(
        {
            "heavy": heavy,
            "planted": planted,
            "skewed": rng.lognormal(0, 1.2, n),
            "ints": rng.poisson(4, n),
            "constant": np.ones(n),
            "label": pd.array(rng.choice(["a", "b"], n), dtype="string"),
        }
    )


def numpy_iqr(values: np.ndarray, k: float) -> tuple[int, float, float]:
    x = values[~np.isnan(values)]
    q1, q3 = np.quantile(x, [0.25, 0.75])
    lower, upper = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
    return int(((x < lower) | (x > upper)).sum()), lower, upper


def scipy_z(values: np.ndarray, t: float) -> int:
    x = values[~np.isnan(values)]
    return int((np.abs(sps.zscore(x, ddof=1)) > t).sum())


@pytest.mark.parametrize("k", [1.5, 3.0, 0.5])
def test_iqr_counts_and_bounds_match_numpy(frame, k):
    report = outliers(table(frame), "data", method="iqr", iqr_multiplier=k)
    assert report.params == {"iqr_multiplier": k} and not report.sample_based
    for name in ["heavy", "planted", "skewed", "ints", "constant"]:
        count, lower, upper = numpy_iqr(frame[name].to_numpy(float), k)
        col = report.column(name)
        assert col.count == count
        assert (col.lower, col.upper) == pytest.approx((lower, upper), rel=1e-13, abs=1e-13)
    assert [c.name for c in report.columns] == ["heavy", "planted", "skewed", "ints", "constant"]


@pytest.mark.parametrize("t", [3.0, 2.0, 1.0])
def test_zscore_counts_match_scipy(frame, t):
    report = outliers(table(frame), "data", method="zscore", z_threshold=t)
    for name in ["heavy", "planted", "skewed", "ints"]:
        assert report.column(name).count == scipy_z(frame[name].to_numpy(float), t)
        x = frame[name].dropna().to_numpy(float)
        lower, upper = x.mean() - t * x.std(ddof=1), x.mean() + t * x.std(ddof=1)
        assert (report.column(name).lower, report.column(name).upper) == pytest.approx(
            (lower, upper), rel=1e-12
        )


def test_constant_column_has_no_zscore_outliers(frame):
    col = outliers(table(frame), "data", method="zscore").column("constant")
    assert (col.count, col.lower, col.upper, col.examples) == (0, None, None, ())


def test_examples_are_whole_rows_outside_the_bounds_most_extreme_first(frame):
    report = outliers(table(frame), "data", method="zscore", examples=3)
    col = report.column("planted")
    values = [row["planted"] for row in col.examples]
    assert values == [55.0, 40.0, -35.0]
    assert all(set(row) == set(frame.columns) for row in col.examples)
    heavy = report.column("heavy")
    assert len(heavy.examples) == min(3, heavy.count)
    assert all(not heavy.lower <= row["heavy"] <= heavy.upper for row in heavy.examples)


def test_given_statistics_give_the_same_answer(frame):
    from steps.engine import columns
    from steps.numeric import numeric_stats

    con = table(frame)
    figures = numeric_stats(con, "data", [c for c in columns(con, "data") if c.is_numeric])
    assert outliers(con, "data", stats=figures) == outliers(con, "data")


def test_isolation_forest_is_reproducible_and_labelled_as_sample(frame):
    con = table(frame)
    first = outliers(con, "data", method="isolation_forest", seed=5, sample_rows=1000)
    again = outliers(con, "data", method="isolation_forest", seed=5, sample_rows=1000)
    assert first.to_dict() == again.to_dict()
    assert first.sample_based and first.sample_rows == 1000 and first.n_rows == len(frame)
    assert first.params == {"contamination": "auto", "seed": 5, "sample_rows": 1000}
    json.dumps(first.to_dict(), allow_nan=False)


def test_isolation_forest_on_whole_small_table_matches_sklearn_and_finds_planted_rows():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"a": rng.normal(0, 1, 1000), "b": rng.normal(5, 2, 1000)})
    df.loc[[3, 400, 777], ["a", "b"]] = [[9.0, 30.0], [-8.0, -20.0], [10.0, -22.0]]
    df["constant"] = 2.0
    df["text"] = "t"
    report = outliers(
        table(df), "data", method="isolation_forest", contamination=0.01, seed=9, examples=10
    )
    forest = IsolationForest(contamination=0.01, random_state=9)
    expected = forest.fit_predict(df[["a", "b"]].to_numpy()) == -1
    assert not report.sample_based and report.sample_rows == len(df)
    assert report.rows_flagged == int(expected.sum())
    flagged = {(row["a"], row["b"]) for row in report.row_examples}
    assert flagged == set(map(tuple, df.loc[expected, ["a", "b"]].to_numpy()))
    assert {(9.0, 30.0), (-8.0, -20.0), (10.0, -22.0)} <= flagged
    inliers = df.loc[~expected, "a"]
    assert (report.column("a").lower, report.column("a").upper) == (inliers.min(), inliers.max())
    assert report.column("a").count == int(
        (expected & ~df["a"].between(*inliers.agg(["min", "max"]))).sum()
    )
    assert [c.name for c in report.columns] == ["a", "b"]


def test_isolation_forest_handles_missing_values(frame):
    report = outliers(table(frame), "data", method="isolation_forest", contamination=0.02)
    assert report.rows_flagged == round(0.02 * len(frame))
    assert "heavy" in {c.name for c in report.columns}


def test_bad_parameters_get_one_sentence():
    con = table(pd.DataFrame({"x": [1.0, 2.0]}))
    for kwargs in (
        {"method": "median"},
        {"iqr_multiplier": -1},
        {"z_threshold": 0},
        {"contamination": 0.9},
        {"sample_rows": 1},
    ):
        with pytest.raises(OutlierError) as error:
            outliers(con, "data", **kwargs)
        message = str(error.value)
        assert message.endswith(".") and "\n" not in message


def test_header_only_table_gives_empty_reports():
    con = duckdb.connect()
    con.execute("CREATE TABLE data (x DOUBLE, y BIGINT, s VARCHAR)")
    for method in ("iqr", "zscore", "isolation_forest"):
        report = outliers(con, "data", method=method)
        assert report.notes == ("no data rows",) and report.n_rows == 0
        assert all(c.count == 0 for c in report.columns)
        json.dumps(report.to_dict(), allow_nan=False)


def test_hostile_column_names():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({name: rng.normal(0, 1, 300) for name in HOSTILE})
    df.iloc[7, :] = 25.0
    con = duckdb.connect()
    con.register("frame", df)
    con.execute(f"CREATE TABLE {quote_ident('t<a>ble')} AS SELECT * FROM frame")
    for method in ("iqr", "zscore", "isolation_forest"):
        report = outliers(con, "t<a>ble", method=method)
        assert [c.name for c in report.columns] == HOSTILE
        for name in HOSTILE:
            assert report.column(name).count >= 1
    iqr = outliers(con, "t<a>ble", method="iqr")
    for name in HOSTILE:
        assert iqr.column(name).count == numpy_iqr(df[name].to_numpy(), 1.5)[0]
