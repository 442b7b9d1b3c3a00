"""Step 2 figures against pandas/numpy/scipy and Python's own parsers on the same frame."""

from __future__ import annotations

import datetime as dt
import json
import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table as table
from scipy import stats as sps

from steps.overview import overview
from steps.quality import WEIGHTS, QualityError, quality

HOSTILE = ['quote"d', "<img src=x onerror=alert(1)>", "with space", "ünï©ødé", "z" * 250]


def parses_as_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value == value.strip()


def date_format(value: str) -> str | None:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        return fmt
    return None


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 400
    amount = rng.normal(100, 15, n)
    amount[[3, 9]] = [400.0, -250.0]
    amount[rng.random(n) < 0.08] = np.nan
    junk = rng.choice(
        ["12", "7.5", "1,234", "$12", " 12 ", "abc", "-3"], n, p=[0.4, 0.3] + [0.06] * 5
    )
    dates = [
        (dt.date(2024, 1, 1) + dt.timedelta(days=int(d))).strftime(
            "%d/%m/%Y" if rng.random() < 0.2 else "%Y-%m-%d"
        )
        for d in rng.integers(0, 300, n)
    ]
    df = pd.DataFrame(
        {
            "amount": amount,
            "count": rng.poisson(3, n).astype(float),
            "junk": pd.array(junk, dtype="string"),
            "when": pd.array(dates, dtype="string"),
            "city": pd.array(rng.choice(["Oslo", "Lima", None], n), dtype="string"),
            "plain": pd.array([str(v) for v in rng.integers(0, 99, n)], dtype="string"),
        }
    )
    return pd.concat([df, df.iloc[[0, 1, 1, 5, 20]]], ignore_index=True)


def test_duplicates_match_pandas(messy):
    q = quality(table(messy))
    assert q.duplicate_rows == int(messy.duplicated().sum()) == 5
    sizes = messy.groupby(list(messy.columns), dropna=False).size()
    repeated = sizes[sizes > 1].sort_values(ascending=False)
    assert [d.copies for d in q.duplicate_examples] == list(repeated.to_numpy())
    for example in q.duplicate_examples:
        same = (messy["junk"] == example.row["junk"]) & (messy["when"] == example.row["when"])
        assert int(same.sum()) >= example.copies


def test_missing_cells_match_pandas(messy):
    q = quality(table(messy))
    assert q.missing_cells == int(messy.isna().sum().sum())
    assert q.missing_by_column == {k: int(v) for k, v in messy.isna().sum().items()}


def test_outlier_counts_match_numpy_and_scipy(messy):
    q = quality(table(messy))
    assert set(q.outliers) == {"amount", "count"}
    for name, counts in q.outliers.items():
        x = messy[name].dropna().to_numpy()
        q1, q3 = np.quantile(x, [0.25, 0.75])
        iqr = ((x < q1 - 1.5 * (q3 - q1)) | (x > q3 + 1.5 * (q3 - q1))).sum()
        assert counts.iqr == iqr
        assert counts.zscore == (np.abs(sps.zscore(x, ddof=1)) > 3).sum()
        assert counts.iqr_lower == pytest.approx(q1 - 1.5 * (q3 - q1), rel=1e-13)


def test_numeric_looking_text_is_flagged_with_offending_values(messy):
    issues = {(i.column, i.issue): i for i in quality(table(messy)).type_issues}
    junk = issues[("junk", "numeric-looking text")]
    values = messy["junk"].dropna()
    offending = values[~values.map(parses_as_float)]
    assert junk.count == len(offending)
    assert set(junk.examples) == set(offending)
    assert {"1,234", "$12", " 12 ", "abc"} <= set(junk.examples)


def test_mixed_date_formats_are_flagged_with_minority_examples(messy):
    issues = {(i.column, i.issue): i for i in quality(table(messy)).type_issues}
    when = issues[("when", "mixed date formats")]
    formats = messy["when"].map(date_format)
    assert formats.notna().all()
    assert when.count == int((formats == "%d/%m/%Y").sum())
    assert all(date_format(v) == "%d/%m/%Y" for v in when.examples)
    assert len(when.examples) == 5


def test_numbers_stored_as_text_and_clean_text_columns(messy):
    issues = {(i.column, i.issue): i for i in quality(table(messy)).type_issues}
    plain = issues[("plain", "numbers stored as text")]
    assert plain.count == messy["plain"].notna().sum()
    assert not any(column == "city" for column, _ in issues)


def test_score_follows_the_documented_formula(messy):
    q = quality(table(messy))
    cells = messy.size
    missing = int(messy.isna().sum().sum())
    numeric = messy[["amount", "count"]]
    iqr = sum(q.outliers[c].iqr for c in numeric)
    components = {
        "completeness": 1 - missing / cells,
        "uniqueness": 1 - messy.duplicated().sum() / len(messy),
        "consistency": 1 - sum(i.count for i in q.type_issues) / (cells - missing),
        "validity": 1 - iqr / numeric.count().sum(),
    }
    assert q.score_components == pytest.approx(components, rel=1e-12)
    expected = 100 * sum(WEIGHTS[k] * v for k, v in components.items())
    assert q.quality_score == pytest.approx(expected, rel=1e-12)
    for word in ("completeness", "uniqueness", "consistency", "validity", "0.4"):
        assert word in q.score_formula


def test_given_overview_gives_the_same_result(messy):
    con = table(messy)
    assert quality(con, overview=overview(con)) == quality(con)


def test_overview_of_another_table_is_refused(messy):
    con = table(messy)
    con.execute("CREATE TABLE other AS SELECT amount FROM data")
    with pytest.raises(QualityError, match="another table"):
        quality(con, "other", overview=overview(con))


def test_report_keys(messy):
    data = json.loads(json.dumps(quality(table(messy)).to_dict(), allow_nan=False))
    assert {"duplicate_rows", "missing_cells", "quality_score", "outliers"} <= data.keys()
    assert {"iqr", "zscore"} <= data["outliers"]["amount"].keys()


def test_header_only_table_has_no_data_rows_and_no_warnings():
    con = duckdb.connect()
    con.execute("CREATE TABLE data (a DOUBLE, b VARCHAR, c BIGINT)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = quality(con)
    assert (q.n_rows, q.duplicate_rows, q.missing_cells, q.type_issues) == (0, 0, 0, ())
    assert q.quality_score is None and q.notes == ("no data rows",)
    assert q.outliers["a"].iqr == 0
    json.dumps(q.to_dict(), allow_nan=False)


def test_hostile_column_names():
    rng = np.random.default_rng(8)
    df = pd.DataFrame({name: rng.normal(0, 1, 200) for name in HOSTILE})
    df.iloc[0, :] = 50.0
    df["txt" + HOSTILE[1]] = pd.array(["1,000"] * 150 + ["5"] * 50, dtype="string")
    df = pd.concat([df, df.iloc[:3]], ignore_index=True)
    q = quality(table(df, "da'ta"), "da'ta")
    assert q.duplicate_rows == 3
    assert set(q.outliers) == set(HOSTILE)
    for name in HOSTILE:
        x = df[name].to_numpy()
        assert q.outliers[name].zscore == (np.abs(sps.zscore(x, ddof=1)) > 3).sum()
    assert [i.column for i in q.type_issues] == ["txt" + HOSTILE[1]]
    assert q.type_issues[0].count == (df["txt" + HOSTILE[1]] == "1,000").sum()
