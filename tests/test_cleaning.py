"""Cleaning plans: their identity, and their effect checked against pandas on the same frame."""

from __future__ import annotations

import hashlib
import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table as table

from steps.cleaning import CleaningError, CleaningPlan, apply_plan
from steps.engine import quote_ident
from steps.quality import quality

HOSTILE = ['quote"d', "<img src=x onerror=alert(1)>", "with space", "ünï©ødé", "w" * 300]


def fetch(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM {quote_ident(name)}").df()


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 300
    a = rng.integers(0, 4, n).astype(float)
    a[rng.random(n) < 0.1] = np.nan
    df = pd.DataFrame(
        {
            "a": a,
            "b": pd.array(rng.choice(["x", "y", None], n), dtype="string"),
            "c": rng.integers(0, 3, n),
            "noise": rng.normal(0, 1, n),
        }
    )
    return pd.concat([df, df.iloc[:25]], ignore_index=True)


def same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True),
        expected.reset_index(drop=True),
        check_dtype=False,
    )


def test_plan_identity_is_canonical():
    one = CleaningPlan(drop_duplicates=True, drop_columns=["b", "a", "b"], drop_rows_missing=())
    two = CleaningPlan(drop_duplicates=True, drop_columns=("a", "b"))
    assert one == two and one.digest() == two.digest()
    canonical = json.dumps(
        {"drop_columns": ["a", "b"], "drop_duplicates": True, "drop_rows_missing": []},
        separators=(",", ":"),
    )
    assert one.digest() == hashlib.sha256(canonical.encode()).hexdigest()
    assert one.digest() != CleaningPlan(drop_columns=("a", "b")).digest()
    assert CleaningPlan().is_empty() and not one.is_empty()


def test_a_bare_string_is_not_a_column_list():
    with pytest.raises(CleaningError, match="list of column names"):
        CleaningPlan(drop_columns="abc")


@pytest.mark.parametrize(
    "plan",
    [
        CleaningPlan(),
        CleaningPlan(drop_duplicates=True),
        CleaningPlan(drop_columns=("noise",)),
        CleaningPlan(drop_rows_missing=("a", "b")),
        CleaningPlan(drop_duplicates=True, drop_columns=("noise",), drop_rows_missing=("a",)),
    ],
)
def test_effect_matches_pandas_and_original_is_untouched(frame, plan):
    con = table(frame)
    before = fetch(con, "data")
    assert apply_plan(con, plan) == "cleaned"
    expected = frame.dropna(subset=list(plan.drop_rows_missing)).drop(
        columns=list(plan.drop_columns)
    )
    if plan.drop_duplicates:
        expected = expected.drop_duplicates()
    same(fetch(con, "cleaned"), expected)
    same(fetch(con, "data"), before)
    assert len(fetch(con, "data")) == len(frame)


def test_quality_on_the_cleaned_data_has_no_duplicates(frame):
    con = table(frame)
    assert quality(con).duplicate_rows == frame.duplicated().sum() > 0
    apply_plan(con, CleaningPlan(drop_duplicates=True))
    assert quality(con, "cleaned").duplicate_rows == 0


def test_reapplying_replaces_a_view_or_a_table(frame):
    con = table(frame)
    for plan in (
        CleaningPlan(drop_columns=("noise",)),
        CleaningPlan(drop_duplicates=True),
        CleaningPlan(drop_rows_missing=("b",)),
        CleaningPlan(drop_duplicates=True, drop_columns=("a",)),
    ):
        apply_plan(con, plan)
        expected = frame.dropna(subset=list(plan.drop_rows_missing)).drop(
            columns=list(plan.drop_columns)
        )
        expected = expected.drop_duplicates() if plan.drop_duplicates else expected
        same(fetch(con, "cleaned"), expected)


def test_nan_counts_as_missing():
    con = table(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    con.execute("INSERT INTO data VALUES ('NaN'::DOUBLE), (NULL)")
    apply_plan(con, CleaningPlan(drop_rows_missing=("x",)))
    assert fetch(con, "cleaned")["x"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("plan", "target", "words"),
    [
        (CleaningPlan(drop_columns=("nope", "a")), "cleaned", "not in the data: 'nope'"),
        (CleaningPlan(drop_rows_missing=("missing",)), "cleaned", "'missing'"),
        (CleaningPlan(drop_columns=("a", "b", "c", "noise")), "cleaned", "every column"),
        (CleaningPlan(), "data", "other than the original"),
    ],
)
def test_bad_plans_get_one_sentence_and_change_nothing(frame, plan, target, words):
    con = table(frame)
    with pytest.raises(CleaningError) as error:
        apply_plan(con, plan, target=target)
    message = str(error.value)
    assert words in message and message.endswith(".") and "\n" not in message
    same(fetch(con, "data"), frame)
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall() == [
        (0,)
    ]


def test_header_only_table():
    con = duckdb.connect()
    con.execute("CREATE TABLE data (a DOUBLE, b VARCHAR)")
    apply_plan(con, CleaningPlan(drop_duplicates=True, drop_rows_missing=("a",)))
    assert fetch(con, "cleaned").shape == (0, 2)


def test_hostile_column_names():
    rng = np.random.default_rng(6)
    df = pd.DataFrame({name: rng.integers(0, 2, 100).astype(float) for name in HOSTILE})
    df.iloc[::7, 1] = np.nan
    con = table(df)
    plan = CleaningPlan(
        drop_duplicates=True, drop_columns=(HOSTILE[0],), drop_rows_missing=(HOSTILE[1],)
    )
    apply_plan(con, plan, target='clean "ed" <b>')
    expected = df.dropna(subset=[HOSTILE[1]]).drop(columns=[HOSTILE[0]]).drop_duplicates()
    same(fetch(con, 'clean "ed" <b>'), expected)


def test_a_plan_round_trips_through_its_json_form_and_reads_a_forms_answer() -> None:
    plan = CleaningPlan(drop_duplicates=True, drop_columns=("b", "a"), drop_rows_missing=("c",))
    assert CleaningPlan.from_mapping(plan.to_dict()) == plan
    assert CleaningPlan.from_mapping(plan.to_dict()).digest() == plan.digest()
    answer = {"verdict": "modify", "drop_duplicates": False, "drop_columns": None}
    assert CleaningPlan.from_mapping(answer).is_empty()
