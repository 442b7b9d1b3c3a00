"""Baseline models on synthetic data whose right answers are known in advance."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table as table_from
from sklearn.model_selection import KFold

from steps.model import (
    FeatureError,
    ModelCard,
    TargetError,
    baselines,
    detect_task,
)
from steps.model.leakage import _name_warning

SEED = 42
N = 600


def warnings_of(card: ModelCard, kind: str) -> dict[str | None, str]:
    return {w.column: w.sentence for w in card.warnings if w.kind == kind}


def assert_one_sentence(message: str) -> None:
    assert message and "\n" not in message and message.endswith(".")


@pytest.fixture(scope="module")
def linear_frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    a, b, z = rng.normal(size=N), rng.normal(size=N), rng.normal(size=N)
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "z": z,
            "colour": rng.choice(["red", "green", "blue"], size=N),
            "y": 3 * a - 2 * b + rng.normal(scale=0.5, size=N),
        }
    )


@pytest.fixture(scope="module")
def linear_card(linear_frame) -> ModelCard:
    return baselines(table_from(linear_frame), "data", "y", seed=SEED)


def numpy_cv(frame: pd.DataFrame, folds: int, seed: int) -> tuple[float, float]:
    """Least squares by numpy on the same shuffled folds: mean R² and mean MAE."""
    design = np.column_stack(
        [np.ones(len(frame)), frame[["a", "b", "z"]].to_numpy()]
        + [(frame["colour"] == c).to_numpy(float) for c in ("blue", "green", "red")]
    )
    y = frame["y"].to_numpy()
    r2s, maes = [], []
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(design):
        coef, *_ = np.linalg.lstsq(design[train], y[train], rcond=None)
        residual = y[test] - design[test] @ coef
        r2s.append(1 - residual @ residual / ((y[test] - y[test].mean()) ** 2).sum())
        maes.append(np.abs(residual).mean())
    return float(np.mean(r2s)), float(np.mean(maes))


def test_linear_target_is_regression_and_matches_numpy(linear_frame, linear_card):
    card = linear_card
    assert card.task == "regression"
    assert card.features == ("a", "b", "z", "colour")
    by_name = {c.name: c for c in card.candidates}
    assert list(by_name) == ["dummy", "linear_regression", "hist_gradient_boosting"]
    r2, mae = numpy_cv(linear_frame, card.folds, SEED)
    linear = by_name["linear_regression"].metrics
    assert linear["r2"].mean == pytest.approx(r2, abs=1e-9)
    assert linear["mae"].mean == pytest.approx(mae, abs=1e-9)
    assert by_name["dummy"].metrics["r2"].mean < 0.01
    assert linear["r2"].mean > by_name["dummy"].metrics["r2"].mean + 0.9
    assert card.selected == "linear_regression"
    assert card.metrics == linear
    assert "no_better_than_dummy" not in {w.kind for w in card.warnings}


def test_importances_rank_the_true_coefficients(linear_card):
    ranked = [imp.feature for imp in linear_card.importances]
    assert ranked[:2] == ["a", "b"]
    by_name = {imp.feature: imp.mean for imp in linear_card.importances}
    assert by_name["a"] > by_name["b"] > 10 * max(abs(by_name["z"]), abs(by_name["colour"]))


def test_card_is_json_safe_and_names_its_subject(linear_card):
    payload = json.loads(json.dumps(linear_card.to_dict(), allow_nan=False))
    assert payload["metrics"]["r2"]["mean"] == linear_card.metrics["r2"].mean
    assert payload["candidates"][0]["name"] == "dummy"
    parts = linear_card.subject_parts()
    assert parts["target"] == "y" and parts["features"] == ["a", "b", "z", "colour"]
    assert parts["seed"] == SEED
    json.dumps(parts)


def without_timings(card: ModelCard) -> dict:
    payload = card.to_dict()
    for candidate in payload["candidates"]:
        candidate.pop("fit_seconds")
    return payload


def test_fixed_seed_gives_identical_results(linear_frame):
    """Two runs on fresh connections, through the sampled path, agree to the last digit."""
    big = pd.concat([linear_frame] * 2, ignore_index=True)
    first, second = (
        baselines(table_from(big), "data", "y", seed=SEED, sample_rows=500, folds=3)
        for _ in range(2)
    )
    assert first.sample_based is True
    assert without_timings(first) == without_timings(second)
    assert first.subject_parts() == second.subject_parts()
    other_seed = baselines(table_from(big), "data", "y", seed=SEED + 1, sample_rows=500, folds=3)
    assert without_timings(other_seed)["metrics"] != without_timings(first)["metrics"]


def test_binary_logistic_rule_uses_stratified_folds():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=N), rng.normal(size=N)
    score = 2 * a - b
    label = rng.random(N) < 1 / (1 + np.exp(-score))
    frame = pd.DataFrame({"a": a, "b": b, "noise": rng.normal(size=N), "label": label})
    card = baselines(table_from(frame), "data", "label", seed=SEED)
    assert card.task == "binary"
    assert card.classes == ("False", "True") and card.positive_class == "True"
    assert card.primary_metric == "roc_auc"
    by_name = {c.name: c.metrics for c in card.candidates}
    majority = max(label.mean(), 1 - label.mean())
    # Stratified folds hold the class shares fixed, so the dummy scores the same in every fold.
    assert by_name["dummy"]["accuracy"].mean == pytest.approx(majority, abs=0.005)
    assert by_name["dummy"]["accuracy"].std < 0.005
    assert by_name["dummy"]["roc_auc"].mean == pytest.approx(0.5)
    oracle = oracle_auc(score, label)
    logistic = by_name["logistic_regression"]["roc_auc"].mean
    assert abs(logistic - oracle) < 0.04
    assert card.selected != "dummy"


def oracle_auc(score: np.ndarray, label: np.ndarray) -> float:
    """AUC of the true score, by counting ordered pairs (Mann–Whitney)."""
    pos, neg = score[label], score[~label]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def test_leaking_columns_are_named():
    rng = np.random.default_rng(3)
    a = rng.normal(size=N)
    y = 2 * a + rng.normal(size=N)
    frame = pd.DataFrame(
        {
            "a": a,
            "copied": y,
            "rescaled": 10 * y + rng.normal(scale=0.1, size=N),
            "y_lagged": rng.normal(size=N),
            "y": y,
        }
    )
    card = baselines(table_from(frame), "data", "y", seed=SEED)
    leaks = warnings_of(card, "leakage")
    assert set(leaks) == {"copied", "rescaled"}
    assert "identical" in leaks["copied"]
    assert "correlated" in leaks["rescaled"]
    assert set(warnings_of(card, "target_in_name")) == {"y_lagged"}
    for w in card.warnings:
        assert_one_sentence(w.sentence)


def test_categorical_feature_that_determines_a_class_is_flagged():
    rng = np.random.default_rng(4)
    species = rng.choice(["ant", "bee", "cat"], size=N)
    code = pd.Series(species).map({"ant": "A1", "bee": "B2", "cat": "C3"})
    frame = pd.DataFrame({"x": rng.normal(size=N), "code": code, "species": species})
    card = baselines(table_from(frame), "data", "species", seed=SEED)
    assert card.task == "multiclass"
    assert card.classes == ("ant", "bee", "cat")
    assert set(warnings_of(card, "leakage")) == {"code"}
    assert {"accuracy", "f1_macro", "roc_auc_ovr"} <= set(card.metrics)
    assert card.primary_metric == "roc_auc_ovr"


@pytest.mark.parametrize(
    ("feature", "target", "flagged"),
    [
        ("age_band", "age", True),
        ("page_views", "age", False),
        ("y_lagged", "y", True),
        ("yield", "y", False),
        ("saleprice_log", "SalePrice", True),
        ("SalePriceLag", "sale price", True),
    ],
)
def test_target_name_inside_a_feature_name(feature, target, flagged):
    assert (_name_warning(feature, target) is not None) is flagged


def test_noise_target_is_no_better_than_dummy():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.normal(size=300), "y": rng.normal(size=300)})
    card = baselines(table_from(frame), "data", "y", seed=SEED)
    assert set(warnings_of(card, "no_better_than_dummy")) == {None}


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (list(range(100)), "identifier"),
        ([f"user-{i:04d}" for i in range(100)], "identifier"),
        ([7] * 100, "same value"),
        ([None] * 100, "no values"),
        ([f"the quick brown fox number {i % 40}" for i in range(100)], "free text"),
    ],
)
def test_unsuitable_targets_are_refused_with_a_sentence(values, why):
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"a": rng.normal(size=100), "t": pd.Series(values, dtype=object)})
    if why != "no values":
        frame["t"] = frame["t"].infer_objects()
    con = table_from(frame)
    with pytest.raises(TargetError, match=why) as info:
        detect_task(con, "data", "t")
    assert_one_sentence(str(info.value))
    with pytest.raises(TargetError):
        baselines(con, "data", "t")


def test_task_detection_reasons():
    frame = pd.DataFrame(
        {
            "flag": [True, False] * 50,
            "rating": [1, 2, 3, 4, 5] * 20,
            "price": np.linspace(1.5, 99.5, 100),
            "size": ["S", "M", "L", "XL"] * 25,
        }
    )
    con = table_from(frame)
    assert detect_task(con, "data", "flag").task == "binary"
    rating = detect_task(con, "data", "rating")
    assert rating.task == "multiclass" and "5 distinct" in rating.reason
    assert detect_task(con, "data", "price").task == "regression"
    choice = detect_task(con, "data", "size")
    assert choice.task == "multiclass" and "4 distinct" in choice.reason
    with pytest.raises(TargetError, match="no column"):
        detect_task(con, "data", "nope")


def test_features_are_excluded_with_reasons_and_missing_targets_counted():
    rng = np.random.default_rng(7)
    n = 200
    y = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "row_id": np.arange(n),
            "when": pd.date_range("2024-01-01", periods=n, freq="D"),
            "note": [f"customer said item {i} was late again" for i in range(n)],
            "constant": 1.0,
            "flag": pd.array([True, False, None, True] * (n // 4), dtype="boolean"),
            "x": y + rng.normal(size=n),
            "y": np.where(np.arange(n) % 10 == 0, np.nan, y),
        }
    )
    card = baselines(table_from(frame), "data", "y", seed=SEED)
    excluded = {e.column: e.reason for e in card.excluded_features}
    assert set(excluded) == {"row_id", "when", "note", "constant"}
    assert "identifier" in excluded["row_id"] and "free text" in excluded["note"]
    assert card.features == ("flag", "x")
    assert set(warnings_of(card, "identifier")) == {"row_id"}
    assert card.n_target_missing == n // 10
    assert card.sample_rows_used == n - n // 10
    assert card.sample_based is False


def test_non_finite_values_count_as_missing():
    rng = np.random.default_rng(9)
    a = rng.normal(size=100)
    y = 2 * a + rng.normal(scale=0.1, size=100)
    y[:3] = [np.nan, np.inf, -np.inf]
    a_with_inf = a.copy()
    a_with_inf[5] = np.inf
    frame = pd.DataFrame({"a": a_with_inf, "y": y})
    con = table_from(frame)
    con.execute("UPDATE data SET y = 'nan'::DOUBLE WHERE y IS NULL")
    assert con.execute("SELECT count(*) FROM data WHERE isnan(y)").fetchall() == [(1,)]
    card = baselines(con, "data", "y", seed=SEED, folds=3)
    assert card.n_target_missing == 3
    assert card.sample_rows_used == 97
    assert card.metrics["r2"].mean > 0.9


def test_large_tables_are_sampled_and_say_so(linear_frame):
    big = pd.concat([linear_frame] * 4, ignore_index=True)
    seen: list[tuple[str, float]] = []
    card = baselines(
        table_from(big),
        "data",
        "y",
        sample_rows=500,
        folds=3,
        progress=lambda message, fraction: seen.append((message, fraction)),
    )
    assert card.sample_based is True
    assert card.sample_rows_used == 500
    assert card.n_rows_total == len(big)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(seen) == 3 * 3 + 3  # sampling, each fold of each candidate, importance, done


def test_rare_classes_reduce_the_folds():
    labels = ["common"] * 60 + ["rare"] * 3 + ["other"] * 30
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"x": rng.normal(size=len(labels)), "label": labels})
    card = baselines(table_from(frame), "data", "label", seed=SEED, folds=5)
    assert card.folds == 3
    assert set(warnings_of(card, "folds_reduced")) == {None}


def test_bad_feature_lists_are_refused(linear_frame):
    con = table_from(linear_frame)
    with pytest.raises(FeatureError, match="no column"):
        baselines(con, "data", "y", features=["a", "nope"])
    with pytest.raises(FeatureError):
        baselines(con, "data", "y", features=[])


def test_empty_table_is_refused_with_a_sentence():
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE data (a DOUBLE, y DOUBLE)")
    with pytest.raises(TargetError, match="no data rows"):
        baselines(con, "data", "y")
