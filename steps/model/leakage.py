"""Leakage checks: warnings for a feature that looks like the answer rather than a predictor
(identical to the target, near-perfectly correlated with it, or determining it), or whose
name holds the target's own.

They are judged on the feature values as loaded, before any coding, and only warn: the
reviewer decides at gate 3 whether to exclude the feature.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from steps.model.card import ModelWarning, Task
from steps.model.target import MIN_LABELLED_ROWS

LEAK_CORRELATION = 0.98
LEAK_PURITY = 0.99


def _name_tokens(name: str) -> list[str]:
    """Lower-case words of a column name: snake_case, kebab, spaces and camelCase all split."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if t]


def _name_warning(feature: str, target: str) -> ModelWarning | None:
    """Warn when the feature's name holds the target's name as whole words.

    Word-wise, so `age` matches `age_band` but not `page_views`; joined runs of words count
    too, so `SalePrice` matches `saleprice_log`.
    """
    wanted = _name_tokens(target)
    words = _name_tokens(feature)
    runs = {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
    if not wanted or not (set(wanted) <= set(words) or "".join(wanted) in runs):
        return None
    return ModelWarning(
        "target_in_name",
        feature,
        f"Feature {feature!r} has the target's name in its own; check that it is not "
        "derived from the target.",
    )


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson r over rows where both are present; None when either side is constant."""
    mask = ~(np.isnan(x) | np.isnan(y))
    if mask.sum() < 3:
        return None
    xs, ys = x[mask] - x[mask].mean(), y[mask] - y[mask].mean()
    denom = math.sqrt(float(xs @ xs) * float(ys @ ys))
    return None if denom == 0 else float(xs @ ys) / denom


def _determination(feature: pd.Series, y: np.ndarray, task: Task) -> str | None:
    """How a few-valued feature pins down the target, in words, when it (nearly) does.

    Only features whose values form groups of ten rows or more on average are judged, so a
    many-valued feature cannot look decisive just because its groups are tiny.
    """
    present = feature.notna().to_numpy()
    n_present = int(present.sum())
    n_levels = feature.nunique()
    if n_present < MIN_LABELLED_ROWS or not 2 <= n_levels <= max(2, n_present / 10):
        return None
    groups = feature[present].astype(str).to_numpy()
    target = y[present]
    if task == "regression":
        values = pd.Series(target.astype(float))
        means = values.groupby(groups).transform("mean").to_numpy()
        total = float(((values - values.mean()) ** 2).sum())
        between = float(((means - values.mean()) ** 2).sum())
        eta = math.sqrt(between / total) if total > 0 else 0.0
        if eta < LEAK_CORRELATION:
            return None
        return f"determines the target: its groups explain it almost fully (η = {eta:.3f})"
    table = pd.crosstab(groups, target)
    purity = float(table.max(axis=1).sum()) / len(groups)
    majority = float(table.sum(axis=0).max()) / len(groups)
    if purity >= LEAK_PURITY and (1 - purity) <= 0.1 * (1 - majority):
        return f"determines the target: each value maps to one class ({purity:.1%} of rows)"
    return None


def _leakage_warning(
    name: str, x: pd.Series, y: np.ndarray, task: Task, is_time: bool = False
) -> ModelWarning | None:
    """A warning when the feature looks like the answer itself rather than a predictor (a
    time column only when it is the target itself: its correlation is a trend)."""
    finding = _correlated(x, y, task, is_time) or _determination(x, y, task)
    if finding is None:
        return None
    return ModelWarning(
        "leakage",
        name,
        f"Feature {name!r} {finding}; it probably leaks the answer — exclude it unless its "
        "value is known before the target's.",
    )


def _correlated(x: pd.Series, y: np.ndarray, task: Task, is_time: bool = False) -> str | None:
    """For a numeric feature and a numeric (or 0/1) target: identical or |r| ≥ 0.98, in words
    (for a time column, identical only)."""
    if task == "multiclass" or x.dtype.kind != "f":
        return None
    r = _correlation(x.to_numpy(), y.astype(float))
    if r is None or abs(r) < LEAK_CORRELATION:
        return None
    if _identical(x.to_numpy(), y):
        return "is identical to the target"
    if is_time:
        return None
    return f"is near-perfectly correlated with the target (r = {r:.3f})"


def _identical(x: np.ndarray, y: np.ndarray) -> bool:
    mask = ~np.isnan(x)
    return bool(mask.any()) and bool(np.array_equal(x[mask], y[mask].astype(float)))


def _data_warnings(
    X: pd.DataFrame,
    y: np.ndarray,
    target: str,
    task: Task,
    time_columns: frozenset[str] = frozenset(),
) -> list[ModelWarning]:
    """Leakage and naming warnings, judged on the feature values as loaded (before coding)."""
    found: list[ModelWarning] = []
    for name in X.columns:
        for warning in (
            _leakage_warning(name, X[name], y, task, name in time_columns),
            _name_warning(name, target),
        ):
            if warning is not None:
                found.append(warning)
    return found
