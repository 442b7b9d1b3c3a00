"""Outliers per numeric column by IQR, Z-score or Isolation Forest; shared by Steps 2 and 3.

IQR and Z-score are exact and run in DuckDB: one pass for the statistics (unless the
caller already has them) and one for every column's count. Isolation Forest needs arrays,
so it runs in scikit-learn on a seeded, bounded sample and says so.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np

from steps.engine import (
    SAMPLE_ROWS,
    SAMPLE_SEED,
    Column,
    columns,
    quote_ident,
    row_count,
    sample_frame,
)
from steps.errors import OutlierError
from steps.numeric import NumericStats, double_literal, numeric_stats
from steps.overview import NO_DATA_ROWS, value_expr
from steps.results import ToDict

if TYPE_CHECKING:  # pandas arrives with the forest's sample (`sample_frame`), not here
    import pandas as pd

# Outliers are counted in at most this many numeric columns (see `_narrowed`).
MAX_COLUMNS = 200

Method = Literal["iqr", "zscore", "isolation_forest"]
METHODS: tuple[str, ...] = ("iqr", "zscore", "isolation_forest")

TIE_COLUMNS = 32


@dataclass(frozen=True)
class ColumnOutliers(ToDict):
    """Values of one column outside [lower, upper], with the most extreme rows as examples."""

    name: str
    count: int
    lower: float | None
    upper: float | None
    examples: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class OutlierReport(ToDict):
    """Outliers by one method; `sample_based` says whether only `sample_rows` rows were seen."""

    method: str
    params: dict[str, Any]
    sample_based: bool
    sample_rows: int
    n_rows: int
    columns: tuple[ColumnOutliers, ...]
    rows_flagged: int | None
    row_examples: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]

    def column(self, name: str) -> ColumnOutliers:
        return next(c for c in self.columns if c.name == name)

    @property
    def counts(self) -> dict[str, int]:
        return {c.name: c.count for c in self.columns}


@dataclass(frozen=True)
class Fence:
    """Values below `lower` or above `upper` are outliers; example rows are ordered by their
    distance from `centre` (none are picked without one)."""

    lower: float
    upper: float
    centre: float | None

    def outside(self, v: str) -> str:
        """SQL predicate on the DOUBLE expression `v`: the value is an outlier."""
        return f"({v} < {double_literal(self.lower)} OR {v} > {double_literal(self.upper)})"


@dataclass(frozen=True)
class ZFence(Fence):
    """mean +/- t * std, tested as defined: |z| > t, z computed from the mean and std."""

    mean: float
    std: float
    threshold: float

    def outside(self, v: str) -> str:
        mean, std = double_literal(self.mean), double_literal(self.std)
        return f"abs(({v} - {mean}) / {std}) > {double_literal(self.threshold)}"


def _finite(value: float | None) -> float | None:
    """The value if it is a finite number, else None."""
    return value if value is not None and math.isfinite(value) else None


def iqr_bounds(stats: NumericStats, multiplier: float) -> Fence | None:
    """Tukey's fences: [q1 - k*IQR, q3 + k*IQR], with the median as the centre."""
    q1, q3 = _finite(stats.q1), _finite(stats.q3)
    if q1 is None or q3 is None:
        return None
    spread = q3 - q1
    return Fence(q1 - multiplier * spread, q3 + multiplier * spread, stats.median)


def zscore_bounds(stats: NumericStats, threshold: float) -> ZFence | None:
    """mean +/- t * sample std; undefined for fewer than two values or a constant column."""
    mean, std = _finite(stats.mean), _finite(stats.std)
    if mean is None or std is None or std == 0:
        return None
    return ZFence(mean - threshold * std, mean + threshold * std, mean, mean, std, threshold)


def _outside(column: Column, fence: Fence | None) -> str:
    """SQL predicate: the value is an outlier (never, for a column without fences)."""
    if fence is None:
        return "false"
    return fence.outside(f"CAST({value_expr(column)} AS DOUBLE)")


def _rows(names: list[str], records: list[tuple[Any, ...]]) -> tuple[dict[str, Any], ...]:
    return tuple(dict(zip(names, r, strict=True)) for r in records)


def _examples(
    con: duckdb.DuckDBPyConnection,
    table: str,
    names: list[str],
    wanted: list[tuple[int, Column, str, float]],
    limit: int,
) -> dict[int, tuple[dict[str, Any], ...]]:
    """Up to `limit` whole rows per flagged column, farthest from the centre first."""
    if not wanted or limit <= 0:
        return {}
    source = quote_ident(table)
    # Ties in distance are broken by the rows' own values (select-list positions after the
    # index), so the same table gives the same examples whatever order the threads scan in.
    ties = ", ".join(str(k) for k in range(2, min(len(names), TIE_COLUMNS) + 2))
    parts = [
        f"(SELECT {i}, * FROM {source} WHERE {predicate} "
        f"ORDER BY abs(CAST({value_expr(column)} AS DOUBLE) - {double_literal(centre)}) DESC, "
        f"{ties} LIMIT {int(limit)})"
        for i, column, predicate, centre in wanted
    ]
    found: dict[int, list[tuple[Any, ...]]] = {}
    for record in con.execute(" UNION ALL ".join(parts)).fetchall():
        found.setdefault(record[0], []).append(record[1:])
    return {i: _rows(names, rows) for i, rows in found.items()}


def _univariate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    method: str,
    parameter: float,
    stats: dict[str, NumericStats] | None,
    examples: int,
) -> tuple[ColumnOutliers, ...]:
    """IQR or Z-score counts for every numeric column in one pass, plus example rows."""
    cols = columns(con, table)
    numeric = [c for c in cols if c.is_numeric]
    if not numeric:
        return ()
    stats = stats if stats is not None else numeric_stats(con, table, numeric)
    fence: Callable[[NumericStats, float], Fence | None] = (
        iqr_bounds if method == "iqr" else zscore_bounds
    )
    fences = [fence(stats[c.name], parameter) for c in numeric]
    predicates = [_outside(c, f) for c, f in zip(numeric, fences, strict=True)]
    counts = con.execute(
        f"SELECT {', '.join(f'count_if({p})' for p in predicates)} FROM {quote_ident(table)}"
    ).fetchall()[0]
    wanted = [
        (i, c, predicates[i], f.centre)
        for i, (c, f) in enumerate(zip(numeric, fences, strict=True))
        if counts[i] and f is not None and f.centre is not None
    ]
    rows = _examples(con, table, [c.name for c in cols], wanted, examples)
    return tuple(
        ColumnOutliers(
            c.name,
            int(counts[i] or 0),
            None if f is None else f.lower,
            None if f is None else f.upper,
            rows.get(i, ()),
        )
        for i, (c, f) in enumerate(zip(numeric, fences, strict=True))
    )


def _feature_matrix(frame: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, list[int]]:
    """Numeric columns as floats, missing values filled with the column median.

    Columns with no values or a single value carry no signal for the forest and are left
    out; the second element says which of `names` were used.
    """
    import pandas as pd

    numbers = frame[names].apply(pd.to_numeric, errors="coerce")
    raw = numbers.to_numpy(dtype=float, na_value=np.nan, copy=True)
    raw[~np.isfinite(raw)] = np.nan
    used = []
    for j in range(raw.shape[1]):
        present = raw[:, j][~np.isnan(raw[:, j])]
        if present.size and present.min() != present.max():
            raw[np.isnan(raw[:, j]), j] = np.median(present)
            used.append(j)
    return raw[:, used], used


def _isolation_forest(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    contamination: float | str,
    seed: int,
    sample_rows: int,
    examples: int,
) -> tuple[tuple[ColumnOutliers, ...], int, tuple[dict[str, Any], ...], int]:
    """Rows the forest isolates quickly, fitted on a seeded sample of the numeric columns.

    A forest flags rows, not values; per column it reports the flagged rows whose value
    lies outside the range of the rows it kept (lower/upper), which says which columns
    made those rows unusual.
    """
    # Imported here: scikit-learn costs ~1 s and ~70 MB and pandas ~0.4 s and ~50 MB, and
    # only the forest needs them.
    import pandas as pd
    from sklearn.ensemble import IsolationForest

    cols = columns(con, table)
    numeric = [c.name for c in cols if c.is_numeric]
    frame = sample_frame(con, table, rows=sample_rows, seed=seed)
    matrix, used = _feature_matrix(frame, numeric)
    if matrix.shape[1] == 0 or len(frame) < 2:
        return (), 0, (), len(frame)
    forest = IsolationForest(contamination=contamination, random_state=seed)
    flagged = forest.fit_predict(matrix) == -1
    order = np.argsort(forest.score_samples(matrix), kind="stable")
    ranked = [i for i in order if flagged[i]]
    names = list(frame.columns)
    per_column = []
    for j in used:
        values = matrix[:, j]
        kept = values[~flagged]
        lower, upper = float(kept.min()), float(kept.max())
        raw = pd.to_numeric(frame[numeric[j]], errors="coerce").to_numpy(float, na_value=np.nan)
        beyond = [i for i in ranked if raw[i] < lower or raw[i] > upper]
        rows = [tuple(frame.iloc[i]) for i in beyond[:examples]]
        per_column.append(ColumnOutliers(numeric[j], len(beyond), lower, upper, _rows(names, rows)))
    row_examples = _rows(names, [tuple(frame.iloc[i]) for i in ranked[:examples]])
    return tuple(per_column), int(flagged.sum()), row_examples, len(frame)


def _check(
    method: str, iqr_multiplier: float, z_threshold: float, contamination: float | str, rows: int
) -> None:
    if method not in METHODS:
        raise OutlierError(
            f"Unknown outlier method {method!r}; choose one of {', '.join(METHODS)}."
        )
    if not (math.isfinite(iqr_multiplier) and iqr_multiplier > 0):
        raise OutlierError("The IQR multiplier must be a positive number.")
    if not (math.isfinite(z_threshold) and z_threshold > 0):
        raise OutlierError("The Z-score threshold must be a positive number.")
    if contamination != "auto" and not (
        isinstance(contamination, (int, float)) and 0 < contamination <= 0.5
    ):
        raise OutlierError("Contamination must be 'auto' or a fraction in (0, 0.5].")
    if rows < 2:
        raise OutlierError("The Isolation Forest sample needs at least two rows.")


def outliers(
    con: duckdb.DuckDBPyConnection,
    table: str = "data",
    *,
    method: Method = "iqr",
    iqr_multiplier: float = 1.5,
    z_threshold: float = 3.0,
    contamination: float | str = "auto",
    seed: int = SAMPLE_SEED,
    sample_rows: int = SAMPLE_ROWS,
    examples: int = 5,
    stats: dict[str, NumericStats] | None = None,
) -> OutlierReport:
    """Outliers in every numeric column of `table` by `method`.

    `stats` (from `numeric_stats` or an overview) saves the statistics pass when the caller
    has them already; Step 2 passes its overview's figures.
    """
    _check(method, iqr_multiplier, z_threshold, contamination, sample_rows)
    source, capped = _narrowed(con, table)
    try:
        report = _outliers_in(
            con,
            source,
            method=method,
            iqr_multiplier=iqr_multiplier,
            z_threshold=z_threshold,
            contamination=contamination,
            seed=seed,
            sample_rows=sample_rows,
            examples=examples,
            stats=stats,
        )
    finally:
        if source != table:
            con.execute(f"DROP VIEW IF EXISTS {quote_ident(source)}")
    return replace(report, notes=report.notes + capped) if capped else report


def _narrowed(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, tuple[str, ...]]:
    """Where outliers are counted: the table, or a view of its first numeric columns.

    The methods write one predicate per numeric column into a single query, and DuckDB's
    planning time grows faster than linearly with that (10 000 columns: minutes). A wider
    table gets its first `MAX_COLUMNS` numeric columns counted, and a note saying so.
    """
    numeric = [c for c in columns(con, table) if c.is_numeric]
    if len(numeric) <= MAX_COLUMNS:
        return table, ()
    view = f"_signoff_outliers_{uuid.uuid4().hex}"
    kept = ", ".join(quote_ident(c.name) for c in numeric[:MAX_COLUMNS])
    con.execute(f"CREATE TEMP VIEW {quote_ident(view)} AS SELECT {kept} FROM {quote_ident(table)}")
    note = (
        f"Outliers are counted in the first {MAX_COLUMNS} of {len(numeric):,} numeric "
        "columns (in table order), and their example rows show only those columns."
    )
    return view, (note,)


def _outliers_in(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    method: Method,
    iqr_multiplier: float,
    z_threshold: float,
    contamination: float | str,
    seed: int,
    sample_rows: int,
    examples: int,
    stats: dict[str, NumericStats] | None,
) -> OutlierReport:
    n_rows = row_count(con, table)
    notes = (NO_DATA_ROWS,) if n_rows == 0 else ()
    if method == "isolation_forest":
        per_column, flagged, row_examples, seen = _isolation_forest(
            con,
            table,
            contamination=contamination,
            seed=seed,
            sample_rows=sample_rows,
            examples=examples,
        )
        params = {"contamination": contamination, "seed": seed, "sample_rows": sample_rows}
        return OutlierReport(
            method, params, seen < n_rows, seen, n_rows, per_column, flagged, row_examples, notes
        )
    parameter = iqr_multiplier if method == "iqr" else z_threshold
    per_column = _univariate(con, table, method, parameter, stats, examples)
    params = {"iqr_multiplier": iqr_multiplier} if method == "iqr" else {"z_threshold": z_threshold}
    return OutlierReport(method, params, False, n_rows, n_rows, per_column, None, (), notes)
