"""`baselines`: the model card for a target, from the package's modules.

A module of its own so that importing `steps.model` (its result types, `detect_task`)
does not import pandas, which only the modelling data needs (~0.4 s and ~70 MB with the
pyarrow it loads);
scikit-learn arrives later still, when a model is fitted (`train`).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from steps.engine import Column, columns
from steps.errors import FeatureError, TargetError
from steps.model.card import (
    ModelCard,
    ModelWarning,
    Progress,
    Task,
)
from steps.model.features import (
    _candidate_features,
    _category_codes,
    _Design,
    _encode_target,
    _labelled_sample,
    _usable_features,
)
from steps.model.leakage import _data_warnings
from steps.model.target import MIN_LABELLED_ROWS, _choose_task, _profile_target
from steps.model.train import (
    PRIMARY_METRIC,
    SELECTION_RULE,
    _dummy_warning,
    _fold_count,
    _train,
)


def baselines(
    con: duckdb.DuckDBPyConnection,
    table: str,
    target: str,
    *,
    features: Sequence[str] | None = None,
    seed: int = 42,
    sample_rows: int = 20_000,
    folds: int = 5,
    progress: Progress | None = None,
    time_columns: frozenset[str] = frozenset(),
) -> ModelCard:
    """Cross-validated dummy, linear and gradient-boosted baselines for `target`.

    `time_columns` (dates, integer dates: `steps.alerts`) are not suspected of leakage for
    a near-perfect correlation with the target: a measure that grows over time does."""
    report = progress or _no_progress
    profile = _profile_target(con, table, target)
    choice = _choose_task(profile)
    if profile.n_present < MIN_LABELLED_ROWS:
        raise TargetError(
            f"Only {profile.n_present} rows have a value for {target!r}; "
            f"at least {MIN_LABELLED_ROWS} are needed to cross-validate a model."
        )
    candidates, excluded_by_type = _candidate_features(columns(con, table), target, features)
    report("sampling rows", 0.0)
    frame = _labelled_sample(
        con,
        table,
        profile.column,
        [c.name for c in candidates],
        rows=sample_rows,
        seed=seed,
        n_present=profile.n_present,
    )
    design, n_folds, fold_warnings = _build_design(
        frame, target, choice.task, candidates, profile.n_rows, folds, time_columns
    )
    primary = PRIMARY_METRIC[choice.task]
    results, best, importances = _train(design, choice.task, n_folds, seed, report)
    dummy_warning = _dummy_warning(results, best, primary)
    warnings = [
        *design.warnings,
        *fold_warnings,
        *([dummy_warning] if dummy_warning else []),
    ]
    return ModelCard(
        target=target,
        task=choice.task,
        task_reason=choice.reason,
        features=design.features,
        excluded_features=(*excluded_by_type, *design.excluded),
        sample_rows_used=len(design.y),
        n_rows_total=profile.n_rows,
        n_target_missing=profile.n_rows - profile.n_present,
        sample_based=len(frame) < profile.n_present,
        classes=design.classes,
        positive_class=design.classes[1] if choice.task == "binary" else None,
        primary_metric=primary,
        selection_rule=SELECTION_RULE.format(metric=primary),
        candidates=tuple(results),
        selected=best.name,
        metrics=best.metrics,
        importances=importances,
        warnings=tuple(warnings),
        seed=seed,
        folds=n_folds,
        sample_rows=sample_rows,
    )


def _build_design(
    frame: pd.DataFrame,
    target: str,
    task: Task,
    candidates: list[Column],
    n_rows_total: int,
    folds: int,
    time_columns: frozenset[str] = frozenset(),
) -> tuple[_Design, int, list[ModelWarning]]:
    """The modelling data from the sample, and the number of folds it can support."""
    y, classes, keep, class_warnings = _encode_target(frame[target], task)
    kept = frame.loc[keep].reset_index(drop=True)
    X, numeric, categorical, excluded, feature_warnings = _usable_features(
        kept, candidates, n_rows_total
    )
    if not numeric and not categorical:
        raise FeatureError(f"No usable feature is left to predict {target!r} from.")
    data_warnings = _data_warnings(X, y, target, task, time_columns)
    for name in categorical:
        X[name] = _category_codes(X[name])
    if task != "regression" and len(classes) < 2:
        raise TargetError(
            f"Column {target!r} has fewer than two classes with at least two rows each."
        )
    n_folds, fold_warnings = _fold_count(task, y, folds)
    design = _Design(
        X=X,
        y=y,
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        classes=classes,
        excluded=tuple(excluded),
        warnings=(*class_warnings, *feature_warnings, *data_warnings),
    )
    return design, n_folds, fold_warnings


def _no_progress(message: str, fraction: float) -> None:
    """Default progress sink: the headless run has nobody to show progress to."""
