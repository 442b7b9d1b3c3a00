"""Training: the candidate models, the shared cross-validation folds, their metrics, the
selection of the best candidate and its permutation importances.

scikit-learn is imported inside the functions that build or score a model, never at module
level: importing `steps.model` (as every start-up does) must not cost its ~1 s.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from steps.errors import FeatureError
from steps.model.card import Candidate, Importance, MetricSummary, ModelWarning, Progress, Task
from steps.model.features import MAX_CATEGORIES, _Design

if TYPE_CHECKING:  # scikit-learn is imported where a model is built: ~1 s off every start-up
    from sklearn.base import BaseEstimator
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import KFold, StratifiedKFold

MAX_BOOSTING_ROUNDS = 100
IMPORTANCE_REPEATS = 5
IMPORTANCE_MAX_ROWS = 2_000
HOLDOUT_FRACTION = 0.25
PRIMARY_METRIC: Mapping[str, str] = MappingProxyType(
    {"regression": "r2", "binary": "roc_auc", "multiclass": "roc_auc_ovr"}
)
HIGHER_IS_BETTER: Mapping[str, bool] = MappingProxyType(
    {
        "r2": True,
        "mae": False,
        "accuracy": True,
        "f1": True,
        "f1_macro": True,
        "roc_auc": True,
        "roc_auc_ovr": True,
    }
)
SELECTION_RULE = (
    "highest mean {metric} over the cross-validation folds; on a tie the simpler candidate wins"
)


def _preprocessor(
    numeric: Sequence[str], categorical: Sequence[str], *, for_trees: bool
) -> ColumnTransformer:
    """Trees take numbers and category codes as they are (missing values natively); the
    linear model gets imputed, scaled numbers and one-hot categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num: Any = "passthrough"
    cat: Any = "passthrough"
    if not for_trees:
        num = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        cat = make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(
                handle_unknown="ignore", max_categories=MAX_CATEGORIES, sparse_output=False
            ),
        )
    return ColumnTransformer(
        [("num", num, list(numeric)), ("cat", cat, list(categorical))],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def _boosting_rounds(task: Task, n_classes: int) -> int:
    """Boosting iterations: 100, fewer for many classes (each round grows one tree per class),
    so a 20-class target costs about what a binary one does."""
    if task != "multiclass":
        return MAX_BOOSTING_ROUNDS
    return min(MAX_BOOSTING_ROUNDS, max(20, 4 * MAX_BOOSTING_ROUNDS // n_classes))


def _candidates(
    task: Task, numeric: Sequence[str], categorical: Sequence[str], n_classes: int, seed: int
) -> list[tuple[str, str, BaseEstimator]]:
    """(name, description, unfitted estimator) in order of increasing complexity."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline

    regression = task == "regression"
    is_cat = [False] * len(numeric) + [True] * len(categorical)
    rounds = _boosting_rounds(task, n_classes)
    trees_kwargs: dict[str, Any] = {
        "max_iter": rounds,
        "random_state": seed,
        "categorical_features": is_cat if any(is_cat) else None,
    }
    if regression:
        dummy: BaseEstimator = DummyRegressor(strategy="mean")
        linear: BaseEstimator = LinearRegression()
        trees: BaseEstimator = HistGradientBoostingRegressor(**trees_kwargs)
    else:
        dummy = DummyClassifier(strategy="most_frequent")
        linear = LogisticRegression(max_iter=1000)
        trees = HistGradientBoostingClassifier(**trees_kwargs)
    linear_name = "linear_regression" if regression else "logistic_regression"
    return [
        (
            "dummy",
            "predicts the training mean" if regression else "predicts the most frequent class",
            dummy,
        ),
        (
            linear_name,
            "median/most-frequent imputation, scaled numbers, one-hot categories, "
            + ("least squares" if regression else "L2-regularised logistic regression"),
            Pipeline(
                [("prep", _preprocessor(numeric, categorical, for_trees=False)), ("model", linear)]
            ),
        ),
        (
            "hist_gradient_boosting",
            f"histogram gradient-boosted trees (up to {rounds} iterations), native missing "
            "values and categories",
            Pipeline(
                [("prep", _preprocessor(numeric, categorical, for_trees=True)), ("model", trees)]
            ),
        ),
    ]


def _splitter(task: Task, folds: int, seed: int) -> KFold | StratifiedKFold:
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "regression":
        return KFold(n_splits=folds, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


def _fold_metrics(
    task: Task, estimator: BaseEstimator, X: pd.DataFrame, y: np.ndarray, n_classes: int
) -> dict[str, float]:
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        mean_absolute_error,
        r2_score,
        roc_auc_score,
    )

    predicted = estimator.predict(X)
    if task == "regression":
        return {"r2": r2_score(y, predicted), "mae": mean_absolute_error(y, predicted)}
    scores = {"accuracy": accuracy_score(y, predicted)}
    proba = estimator.predict_proba(X)
    if task == "binary":
        scores["f1"] = f1_score(y, predicted, zero_division=0)
        scores["roc_auc"] = roc_auc_score(y, proba[:, 1])
    else:
        scores["f1_macro"] = f1_score(y, predicted, average="macro", zero_division=0)
        scores["roc_auc_ovr"] = roc_auc_score(
            y, proba, multi_class="ovr", labels=list(range(n_classes))
        )
    return scores


def _summaries(per_fold: list[dict[str, float]]) -> dict[str, MetricSummary]:
    names = per_fold[0].keys()
    out = {}
    for name in names:
        values = np.array([fold[name] for fold in per_fold], dtype=float)
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        out[name] = MetricSummary(float(values.mean()), std)
    return out


def _cross_validate(
    design: _Design,
    task: Task,
    folds: int,
    seed: int,
    progress: Progress,
) -> tuple[list[Candidate], dict[str, BaseEstimator]]:
    from sklearn.base import clone

    candidates = _candidates(task, design.numeric, design.categorical, len(design.classes), seed)
    splits = list(_splitter(task, folds, seed).split(design.X, design.y))
    total = len(candidates) * len(splits) + 1
    results: list[Candidate] = []
    estimators: dict[str, BaseEstimator] = {}
    for c_index, (name, description, estimator) in enumerate(candidates):
        per_fold: list[dict[str, float]] = []
        seconds = 0.0
        for f_index, (train, test) in enumerate(splits):
            done = c_index * len(splits) + f_index
            progress(f"{name}: fold {f_index + 1} of {len(splits)}", done / total)
            fitted = clone(estimator)
            start = time.perf_counter()
            fitted.fit(design.X.iloc[train], design.y[train])
            seconds += time.perf_counter() - start
            per_fold.append(
                _fold_metrics(
                    task, fitted, design.X.iloc[test], design.y[test], len(design.classes)
                )
            )
        results.append(Candidate(name, description, _summaries(per_fold), seconds))
        estimators[name] = estimator
    return results, estimators


def _select(candidates: list[Candidate], primary: str) -> Candidate:
    """Best mean primary metric; `max` keeps the first (simplest) candidate on a tie."""
    sign = 1.0 if HIGHER_IS_BETTER[primary] else -1.0
    return max(candidates, key=lambda c: sign * c.metrics[primary].mean)


def _dummy_warning(
    candidates: list[Candidate], best: Candidate, primary: str
) -> ModelWarning | None:
    dummy = candidates[0]
    gain = best.metrics[primary].mean - dummy.metrics[primary].mean
    if not HIGHER_IS_BETTER[primary]:
        gain = -gain
    if best is not dummy and gain > best.metrics[primary].std:
        return None
    figures = f"{best.metrics[primary].mean:.3f} vs {dummy.metrics[primary].mean:.3f}"
    finding = (
        f"No model beat the dummy baseline on {primary}"
        if best is dummy
        else f"The best model ({best.name}) is within one standard deviation of the dummy "
        f"baseline on {primary} ({figures})"
    )
    return ModelWarning(
        "no_better_than_dummy", None, f"{finding}; the features may not predict this target."
    )


def _importances(
    estimator: BaseEstimator, design: _Design, task: Task, primary: str, seed: int
) -> tuple[Importance, ...]:
    from sklearn.base import clone
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split

    stratify = None if task == "regression" else design.y
    X_train, X_test, y_train, y_test = train_test_split(
        design.X, design.y, test_size=HOLDOUT_FRACTION, random_state=seed, stratify=stratify
    )
    fitted = clone(estimator).fit(X_train, y_train)
    result = permutation_importance(
        fitted,
        X_test,
        y_test,
        scoring=primary,
        n_repeats=IMPORTANCE_REPEATS,
        max_samples=min(len(X_test), IMPORTANCE_MAX_ROWS),
        random_state=seed,
        n_jobs=1,
    )
    ranked = sorted(
        zip(design.features, result.importances_mean, result.importances_std, strict=True),
        key=lambda item: -item[1],
    )
    return tuple(Importance(name, float(m), float(s)) for name, m, s in ranked)


def _train(
    design: _Design, task: Task, folds: int, seed: int, report: Progress
) -> tuple[list[Candidate], Candidate, tuple[Importance, ...]]:
    """Cross-validate every candidate, pick the best, and explain it.

    OpenMP (the tree ensemble) and BLAS (the linear models) are held to one thread: on a
    busy two-core machine their spinning worker threads made a 0.3 s tree fit take 20 s and
    a 20 ms least-squares solve take 0.7 s. The OpenMP limit is per calling thread; the
    OpenBLAS one is process-wide while training runs, so a concurrent session's BLAS call
    may also run single-threaded meanwhile (slower at worst, never wrong).
    """
    primary = PRIMARY_METRIC[task]
    with threadpool_limits(limits=1):
        results, estimators = _cross_validate(design, task, folds, seed, report)
        best = _select(results, primary)
        steps_done = len(results) * folds
        report(f"permutation importance of {best.name}", steps_done / (steps_done + 1))
        importances = _importances(estimators[best.name], design, task, primary, seed)
    report("done", 1.0)
    return results, best, importances


def _fold_count(task: Task, y: np.ndarray, folds: int) -> tuple[int, list[ModelWarning]]:
    """Fewer folds when the smallest class could not appear in every test fold."""
    if folds < 2:
        raise FeatureError(f"Cross-validation needs at least 2 folds, not {folds}.")
    if task == "regression":
        return folds, []
    smallest = int(np.bincount(y).min())
    if smallest >= folds:
        return folds, []
    return smallest, [
        ModelWarning(
            "folds_reduced",
            None,
            f"The smallest class has only {smallest} rows in the sample, so {smallest}-fold "
            f"cross-validation was used instead of {folds}-fold.",
        )
    ]
