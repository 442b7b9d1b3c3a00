"""Honest baseline models for an optional target column (gate 3: model approval).

The point is not to win a competition but to tell a reviewer, in seconds, how predictable the
target is and whether that figure can be trusted: a dummy baseline sets the floor, a linear
model and a gradient-boosted tree ensemble show what plain methods reach, and the warnings
say when a number is too good to be true (a feature that leaks the target) or no better than
guessing.

- The target is profiled in DuckDB (one pass over the whole table); the models see a seeded,
  bounded sample of the rows whose target is present (`sample_based` says when rows were
  left out).
- Every candidate is scored by the same shuffled K-fold split (stratified for
  classification); metrics are mean and sample standard deviation (ddof=1) over the folds.
- Selection rule: the highest mean of the primary metric (R² for regression, ROC AUC for
  binary, one-vs-rest ROC AUC for multiclass — threshold-free, and 0.5 for a dummy whatever
  the class balance, unlike accuracy or macro F1); on a tie the simpler candidate (earlier
  in the list) wins.
- Importances: permutation importance of the selected model, refitted on 75 % of the sample
  and scored on the held-out 25 % (at most 2 000 rows per repeat), so they describe
  generalisation, not memorisation.
- Classification folds: a class with a single sampled row is left out (it cannot be both
  trained on and tested), and the fold count drops to the smallest class size when needed,
  so every class is in every test fold and ROC AUC (one-vs-rest for multiclass) is always
  defined.
- Threads: fitting runs with one OpenMP/BLAS thread (see `train._train`).

The package has one module per job: `card` (the result types), `target` (target and
task), `features` (the modelling data), `leakage` (leakage checks) and `train`
(candidates, folds, importances); `baseline` puts them together in `baselines`, imported
on first use: it brings pandas and scikit-learn, which a run without a target never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steps.errors import FeatureError, TargetError
from steps.model.card import (
    Candidate,
    ExcludedFeature,
    Importance,
    MetricSummary,
    ModelCard,
    ModelWarning,
    Progress,
    Task,
    TaskChoice,
)
from steps.model.target import detect_task

if TYPE_CHECKING:
    from steps.model.baseline import baselines

__all__ = [
    "Candidate",
    "ExcludedFeature",
    "FeatureError",
    "Importance",
    "MetricSummary",
    "ModelCard",
    "ModelWarning",
    "Progress",
    "TargetError",
    "Task",
    "TaskChoice",
    "baselines",
    "detect_task",
]


def __getattr__(name: str) -> object:
    if name == "baselines":
        from steps.model.baseline import baselines

        return baselines
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
