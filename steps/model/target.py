"""The target column: profiled in one DuckDB pass, refused when it cannot be modelled, and
given a task (regression, binary or multiclass) with the reason shown to the reviewer."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from steps.engine import Column, columns, quote_ident
from steps.errors import TargetError
from steps.model.card import TaskChoice

MIN_LABELLED_ROWS = 20
MAX_CLASSES = 20
MAX_INTEGER_CLASSES = 10
FREE_TEXT_WORDY_SHARE = 0.5


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
