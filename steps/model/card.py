"""What gate 3 shows and the report keeps about the baseline models: the model card.

These frozen result types are the package's output; the modules that profile the target,
build the features, check for leakage and train the candidates all fill one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from steps.results import ToDict

Task = Literal["regression", "binary", "multiclass"]
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class TaskChoice(ToDict):
    task: Task
    reason: str


@dataclass(frozen=True)
class MetricSummary(ToDict):
    mean: float
    std: float


@dataclass(frozen=True)
class Candidate(ToDict):
    name: str
    description: str
    metrics: dict[str, MetricSummary]
    fit_seconds: float


@dataclass(frozen=True)
class Importance(ToDict):
    feature: str
    mean: float
    std: float


@dataclass(frozen=True)
class ExcludedFeature(ToDict):
    column: str
    reason: str


@dataclass(frozen=True)
class ModelWarning(ToDict):
    kind: str
    column: str | None
    sentence: str


@dataclass(frozen=True)
class ModelCard(ToDict):
    """Everything gate 3 shows and the report keeps about the baseline models."""

    target: str
    task: Task
    task_reason: str
    features: tuple[str, ...]
    excluded_features: tuple[ExcludedFeature, ...]
    sample_rows_used: int
    n_rows_total: int
    n_target_missing: int
    sample_based: bool
    classes: tuple[str, ...]
    positive_class: str | None
    primary_metric: str
    selection_rule: str
    candidates: tuple[Candidate, ...]
    selected: str
    metrics: dict[str, MetricSummary]
    importances: tuple[Importance, ...]
    warnings: tuple[ModelWarning, ...]
    seed: int
    folds: int
    sample_rows: int

    def subject_parts(self) -> dict[str, Any]:
        """The choices an approval is bound to: change any of them and gate 3 re-opens."""
        return {
            "target": self.target,
            "task": self.task,
            "features": list(self.features),
            "excluded_features": [e.column for e in self.excluded_features],
            "seed": self.seed,
            "folds": self.folds,
            "sample_rows": self.sample_rows,
            "sample_rows_used": self.sample_rows_used,
            "n_rows_total": self.n_rows_total,
            "candidates": [c.name for c in self.candidates],
            "selected": self.selected,
        }
