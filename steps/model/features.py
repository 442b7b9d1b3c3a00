"""The modelling data: which columns may be features, a labelled sample of the rows, each
feature kept or excluded with a reason, and the target encoded for the task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from steps.engine import Column, quote_ident
from steps.errors import FeatureError
from steps.model.card import ExcludedFeature, ModelWarning, Task
from steps.model.target import FREE_TEXT_WORDY_SHARE, MIN_LABELLED_ROWS, _present

MAX_CATEGORIES = 30


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
