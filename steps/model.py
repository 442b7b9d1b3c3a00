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
- Threads: fitting runs with one OpenMP/BLAS thread (see `_train`).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from steps.engine import Column, columns, quote_ident
from steps.errors import FeatureError, TargetError
from steps.results import ToDict

if TYPE_CHECKING:  # scikit-learn is imported where a model is built: ~1 s off every start-up
    from sklearn.base import BaseEstimator
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import KFold, StratifiedKFold

Task = Literal["regression", "binary", "multiclass"]
Progress = Callable[[str, float], None]

MIN_LABELLED_ROWS = 20
MAX_CLASSES = 20
MAX_INTEGER_CLASSES = 10
MAX_CATEGORIES = 30
LEAK_CORRELATION = 0.98
LEAK_PURITY = 0.99
FREE_TEXT_WORDY_SHARE = 0.5
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


@dataclass(frozen=True)
class _TargetProfile:
    """Whole-table figures for the target column, from one DuckDB pass."""

    column: Column
    n_rows: int
    n_present: int
    n_distinct: int
    integral: bool
    span: float | None
    wordy_share: float
    examples: tuple[str, ...]

    @property
    def unique_per_row(self) -> bool:
        return self.n_present >= MIN_LABELLED_ROWS and self.n_distinct == self.n_present


# ----------------------------------------------------------------------------- target and task


def detect_task(con: duckdb.DuckDBPyConnection, table: str, target: str) -> TaskChoice:
    """Regression, binary or multiclass for `target`, with the reason shown to the reviewer."""
    return _choose_task(_profile_target(con, table, target))


def _profile_target(con: duckdb.DuckDBPyConnection, table: str, target: str) -> _TargetProfile:
    by_name = {c.name: c for c in columns(con, table)}
    if target not in by_name:
        raise TargetError(f"There is no column named {target!r} in the table.")
    column = by_name[target]
    t = quote_ident(target)
    numeric = column.is_numeric
    text = column.is_text
    integral = f"count(*) FILTER (WHERE {t} <> round({t})) = 0" if numeric else "false"
    span = f"max({t})::DOUBLE - min({t})::DOUBLE + 1" if numeric else "NULL"
    wordy = f"avg(CASE WHEN {t} LIKE '% % %' THEN 1.0 ELSE 0.0 END)" if text else "0.0"
    examples = f"list(DISTINCT {t}::VARCHAR ORDER BY {t}::VARCHAR)[1:3]"
    present = _present(column)
    sql = (
        f"SELECT (SELECT count(*) FROM {quote_ident(table)}), count(*), count(DISTINCT {t}), "
        f"{integral}, {span}, {wordy}, {examples} "
        f"FROM {quote_ident(table)} WHERE {present}"
    )
    cur = con.cursor()
    try:
        ((n_rows, n_present, n_distinct, is_integral, width, wordy_share, examples),) = cur.execute(
            sql
        ).fetchall()
    finally:
        cur.close()
    return _TargetProfile(
        column=column,
        n_rows=int(n_rows),
        n_present=int(n_present),
        n_distinct=int(n_distinct),
        integral=bool(is_integral) and numeric,
        span=None if width is None else float(width),
        wordy_share=float(wordy_share or 0.0),
        examples=tuple(str(e) for e in (examples or ())),
    )


def _present(column: Column) -> str:
    """SQL that is true where the target has a usable value: NaN and ±inf count as missing."""
    name = quote_ident(column.name)
    if column.dtype.upper() in {"DOUBLE", "FLOAT", "REAL"}:
        return f"({name} IS NOT NULL AND isfinite({name}))"
    return f"({name} IS NOT NULL)"


def _choose_task(p: _TargetProfile) -> TaskChoice:
    name = p.column.name
    _refuse_unusable_target(p)
    if p.column.is_boolean or p.n_distinct == 2:
        values = " and ".join(p.examples[:2])
        return TaskChoice("binary", f"{name!r} has exactly two distinct values ({values}).")
    if p.column.is_numeric:
        if p.integral and p.n_distinct <= MAX_INTEGER_CLASSES:
            return TaskChoice(
                "multiclass",
                f"{name!r} holds whole numbers with only {p.n_distinct} distinct values, "
                "so each value is treated as a class.",
            )
        return TaskChoice("regression", f"{name!r} is numeric with {p.n_distinct} distinct values.")
    return TaskChoice(
        "multiclass", f"{name!r} is a label with {p.n_distinct} distinct values (classes)."
    )


def _refuse_unusable_target(p: _TargetProfile) -> None:
    name = p.column.name
    if p.n_rows == 0:
        raise TargetError("The table has no data rows, so there is nothing to model.")
    if p.n_present == 0:
        raise TargetError(
            f"Column {name!r} has no values (all {p.n_rows} rows are missing), "
            "so it cannot be a target."
        )
    if p.n_distinct == 1:
        raise TargetError(
            f"Column {name!r} has the same value in every row, so there is nothing to predict."
        )
    if p.column.is_temporal:
        raise TargetError(
            f"Column {name!r} holds dates or times; a baseline model predicts numbers or classes."
        )
    if not (p.column.is_numeric or p.column.is_text or p.column.is_boolean):
        raise TargetError(f"Column {name!r} has type {p.column.dtype}, which cannot be a target.")
    if _is_identifier(p):
        raise TargetError(
            f"Column {name!r} looks like an identifier (a different value in every row), "
            "so there is nothing general to learn about it."
        )
    if p.column.is_text and p.n_distinct > MAX_CLASSES:
        kind = "free text" if p.wordy_share >= FREE_TEXT_WORDY_SHARE else "a high-cardinality label"
        raise TargetError(
            f"Column {name!r} looks like {kind} with {p.n_distinct} distinct values; "
            f"a baseline classifier handles at most {MAX_CLASSES} classes."
        )


def _is_identifier(p: _TargetProfile) -> bool:
    if not p.unique_per_row or p.column.is_boolean:
        return False
    if p.column.is_text:
        return p.wordy_share < FREE_TEXT_WORDY_SHARE
    return p.integral and p.span is not None and p.span <= 1.1 * p.n_distinct


# ----------------------------------------------------------------------------- features


@dataclass(frozen=True)
class _Design:
    """The modelling data: features split by kind, the encoded target, what was left out."""

    X: pd.DataFrame
    y: np.ndarray
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    classes: tuple[str, ...]
    excluded: tuple[ExcludedFeature, ...]
    warnings: tuple[ModelWarning, ...]

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(c for c in self.X.columns)


def _candidate_features(
    all_columns: list[Column], target: str, features: Sequence[str] | None
) -> tuple[list[Column], list[ExcludedFeature]]:
    """Columns that may become features, and those excluded by type before sampling."""
    by_name = {c.name: c for c in all_columns}
    wanted = [c.name for c in all_columns if c.name != target] if features is None else features
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise FeatureError(f"There is no column named {unknown[0]!r} in the table.")
    kept: list[Column] = []
    excluded: list[ExcludedFeature] = []
    for name in dict.fromkeys(wanted):
        column = by_name[name]
        if name == target:
            continue
        if column.is_temporal:
            excluded.append(
                ExcludedFeature(name, "dates and times need feature engineering first.")
            )
        elif not (column.is_numeric or column.is_boolean or column.is_text):
            excluded.append(ExcludedFeature(name, f"type {column.dtype} is not supported."))
        else:
            kept.append(column)
    return kept, excluded


def _labelled_sample(
    con: duckdb.DuckDBPyConnection,
    table: str,
    target: Column,
    names: list[str],
    *,
    rows: int,
    seed: int,
    n_present: int,
) -> pd.DataFrame:
    """A seeded reservoir sample of the rows whose target is present (all of them if few).

    `steps.engine.sample_frame` cannot filter, and sampling the whole table would spend the
    row budget on rows the models must drop.
    """
    cols = ", ".join(quote_ident(n) for n in [target.name, *names])
    labelled = f"SELECT {cols} FROM {quote_ident(table)} WHERE {_present(target)}"
    sql = labelled
    if n_present > rows:
        sql = f"SELECT * FROM ({labelled}) USING SAMPLE reservoir({int(rows)} ROWS) "
        sql += f"REPEATABLE ({int(seed)})"
    cur = con.cursor()
    try:
        return cur.sql(sql).df()
    finally:
        cur.close()


def _as_float(series: pd.Series) -> pd.Series:
    """Plain float64 with NaN for missing, whatever nullable dtype DuckDB handed over; ±inf
    become NaN too, since no estimator accepts them."""
    values = series.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    values[~np.isfinite(values)] = np.nan
    return pd.Series(values, index=series.index)


def _as_text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), np.nan)


def _feature_exclusion(
    column: Column, values: pd.Series, n_rows_total: int
) -> tuple[str, str] | None:
    """(kind, reason) when a sampled feature cannot help a model, else None."""
    present = values.dropna()
    n_unique = present.nunique()
    if n_unique <= 1:
        return "constant", "it has a single value (or none) in the sample."
    unique_per_row = len(present) >= MIN_LABELLED_ROWS and n_unique == len(present)
    if column.is_text:
        wordy = present.astype(str).str.count(" ").ge(2).mean()
        if wordy >= FREE_TEXT_WORDY_SHARE and n_unique > 0.5 * len(present):
            return "free_text", "it looks like free text (mostly distinct multi-word values)."
        if unique_per_row:
            return "identifier", "it looks like an identifier (a different value in every row)."
        return None
    if column.is_numeric and unique_per_row:
        numbers = _as_float(present)
        integral = bool((numbers == np.round(numbers)).all())
        span = float(numbers.max() - numbers.min() + 1)
        if integral and span <= 1.1 * max(n_rows_total, len(present)):
            return "identifier", "it looks like a row identifier (distinct consecutive integers)."
    return None


def _usable_features(
    frame: pd.DataFrame, candidates: list[Column], n_rows_total: int
) -> tuple[pd.DataFrame, list[str], list[str], list[ExcludedFeature], list[ModelWarning]]:
    numeric: list[str] = []
    categorical: list[str] = []
    excluded: list[ExcludedFeature] = []
    warnings: list[ModelWarning] = []
    parts: dict[str, pd.Series] = {}
    for column in candidates:
        raw = frame[column.name]
        verdict = _feature_exclusion(column, raw, n_rows_total)
        if verdict is not None:
            kind, reason = verdict
            excluded.append(ExcludedFeature(column.name, reason))
            if kind == "identifier":
                warnings.append(
                    ModelWarning(
                        "identifier",
                        column.name,
                        f"Column {column.name!r} looks like an identifier and was left out of "
                        "the features.",
                    )
                )
            continue
        if column.is_text:
            parts[column.name] = _as_text(raw)
            categorical.append(column.name)
        else:
            parts[column.name] = _as_float(raw)
            numeric.append(column.name)
    X = pd.DataFrame(parts, index=frame.index)
    return X, numeric, categorical, excluded, warnings


def _encode_target(
    y_raw: pd.Series, task: Task
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray, list[ModelWarning]]:
    """Encoded target, class names, a mask of rows kept, and warnings about dropped classes."""
    from sklearn.preprocessing import LabelEncoder

    if task == "regression":
        return _as_float(y_raw).to_numpy(), (), np.ones(len(y_raw), dtype=bool), []
    labels = _class_labels(y_raw)
    counts = pd.Series(labels).value_counts()
    singletons = sorted(counts[counts < 2].index)
    keep = ~np.isin(labels, singletons)
    warnings = []
    if singletons:
        warnings.append(
            ModelWarning(
                "rare_class",
                None,
                f"{len(singletons)} class(es) with a single row in the sample were left out "
                "(a class needs rows in both the training and the test folds).",
            )
        )
    encoder = LabelEncoder().fit(labels[keep])
    return (
        encoder.transform(labels[keep]),
        tuple(str(c) for c in encoder.classes_),
        keep,
        warnings,
    )


def _class_labels(y_raw: pd.Series) -> np.ndarray:
    """Class values in their natural order: numbers sort as numbers, not as text."""
    if pd.api.types.is_bool_dtype(y_raw):
        return y_raw.astype(bool).to_numpy()
    if pd.api.types.is_numeric_dtype(y_raw):
        values = _as_float(y_raw).to_numpy()
        return values.astype(np.int64) if np.array_equal(values, np.round(values)) else values
    return y_raw.astype(str).to_numpy()


# ----------------------------------------------------------------------------- leakage checks


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


def _leakage_warning(name: str, x: pd.Series, y: np.ndarray, task: Task) -> ModelWarning | None:
    """A warning when the feature looks like the answer itself rather than a predictor."""
    finding = _correlated(x, y, task) or _determination(x, y, task)
    if finding is None:
        return None
    return ModelWarning(
        "leakage",
        name,
        f"Feature {name!r} {finding}; it probably leaks the answer — exclude it unless its "
        "value is known before the target's.",
    )


def _correlated(x: pd.Series, y: np.ndarray, task: Task) -> str | None:
    """For a numeric feature and a numeric (or 0/1) target: identical or |r| ≥ 0.98, in words."""
    if task == "multiclass" or x.dtype.kind != "f":
        return None
    r = _correlation(x.to_numpy(), y.astype(float))
    if r is None or abs(r) < LEAK_CORRELATION:
        return None
    if _identical(x.to_numpy(), y):
        return "is identical to the target"
    return f"is near-perfectly correlated with the target (r = {r:.3f})"


def _identical(x: np.ndarray, y: np.ndarray) -> bool:
    mask = ~np.isnan(x)
    return bool(mask.any()) and bool(np.array_equal(x[mask], y[mask].astype(float)))


def _data_warnings(X: pd.DataFrame, y: np.ndarray, target: str, task: Task) -> list[ModelWarning]:
    """Leakage and naming warnings, judged on the feature values as loaded (before coding)."""
    found: list[ModelWarning] = []
    for name in X.columns:
        for warning in (
            _leakage_warning(name, X[name], y, task),
            _name_warning(name, target),
        ):
            if warning is not None:
                found.append(warning)
    return found


# ----------------------------------------------------------------------------- candidates


def _category_codes(values: pd.Series) -> pd.Series:
    """Ordinal codes of a text feature: its MAX_CATEGORIES - 1 most frequent values get
    0, 1, …; all rarer values share the last code; missing stays NaN.

    Coding once on the sample (by frequency, never by the target) keeps the per-fold
    pipelines numeric — sklearn's encoders on Python strings cost a second per run — and
    bounds both the one-hot width and the tree ensemble's category count.
    """
    counts = values.value_counts(dropna=True)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    kept = [value for value, _ in ranked[: MAX_CATEGORIES - 1]]
    codes = values.map({value: float(code) for code, value in enumerate(kept)})
    return codes.where(codes.notna() | values.isna(), float(len(kept))).astype(float)


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


# ----------------------------------------------------------------------------- entry point


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
) -> ModelCard:
    """Cross-validated dummy, linear and gradient-boosted baselines for `target`."""
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
        frame, target, choice.task, candidates, profile.n_rows, folds
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


def _build_design(
    frame: pd.DataFrame,
    target: str,
    task: Task,
    candidates: list[Column],
    n_rows_total: int,
    folds: int,
) -> tuple[_Design, int, list[ModelWarning]]:
    """The modelling data from the sample, and the number of folds it can support."""
    y, classes, keep, class_warnings = _encode_target(frame[target], task)
    kept = frame.loc[keep].reset_index(drop=True)
    X, numeric, categorical, excluded, feature_warnings = _usable_features(
        kept, candidates, n_rows_total
    )
    if not numeric and not categorical:
        raise FeatureError(f"No usable feature is left to predict {target!r} from.")
    data_warnings = _data_warnings(X, y, target, task)
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


def _no_progress(message: str, fraction: float) -> None:
    """Default progress sink: the headless run has nobody to show progress to."""
