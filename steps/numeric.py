"""Exact moments and quantiles of numeric columns, in one DuckDB pass.

DuckDB's own `avg`/`stddev_samp` lose digits on data far from zero (NIST StRD NumAcc4:
1e7 plus small differences) and their parallel combine depends on the order threads
finish in. Summing each value minus a *pilot* value of its column, subtracted exactly in
the column's own type, in compensated `fsum`, keeps both the digits and the result the
same on every run. Step 1, Step 2 and the outlier methods all read these figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb

from steps.engine import Column, quote_ident
from steps.engine import present_sql as value_expr

_INTEGER_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "U")


def is_integer(column: Column) -> bool:
    return column.is_numeric and column.dtype.upper().startswith(_INTEGER_PREFIXES)


def pilots(con: duckdb.DuckDBPyConnection, table: str, numeric: list[Column]) -> list[Any]:
    """A value from each numeric column, subtracted before summing.

    Shifting by a value near the data keeps mean and variance exact for data like NIST
    StRD NumAcc4 (1e7 + small differences): the subtraction is exact for DECIMAL and
    integer columns (done in their own type) and for doubles of similar magnitude. Any
    value of the column works; the first non-missing among the first 1000 rows is cheap.
    """
    if not numeric:
        return []
    picks = ", ".join(f"any_value({value_expr(c)})" for c in numeric)
    cols = ", ".join(quote_ident(c.name) for c in numeric)
    (row,) = con.execute(
        f"SELECT {picks} FROM (SELECT {cols} FROM {quote_ident(table)} LIMIT 1000)"
    ).fetchall()
    return [v if v is not None and math.isfinite(v) else 0 for v in row]


def double_literal(value: float) -> str:
    """A float as an exact SQL DOUBLE literal (parsed from its shortest repr as a string)."""
    return f"'{float(value)!r}'::DOUBLE"


def _is_decimal(column: Column) -> bool:
    return column.dtype.upper().startswith("DECIMAL")


def pilot_literal(column: Column, pilot: Any) -> str:
    """The pilot as SQL in a type the column's own values subtract it in exactly."""
    if is_integer(column):
        return str(int(pilot))
    if _is_decimal(column):
        return f"CAST('{pilot}' AS {column.dtype})"
    return double_literal(pilot)


def shifted_expr(column: Column, pilot: Any, *, pilot_sql: str | None = None) -> str:
    """The column minus its pilot, as DOUBLE, with the subtraction done exactly.

    `pilot_sql` replaces the literal with an expression (a per-column pilot in a join).
    """
    value = value_expr(column)
    p = pilot_sql if pilot_sql is not None else pilot_literal(column, pilot)
    if is_integer(column):
        return f"CAST(CAST({value} AS HUGEINT) - CAST({p} AS HUGEINT) AS DOUBLE)"
    if _is_decimal(column):
        return f"CAST({value} - {p} AS DOUBLE)"
    return f"(CAST({value} AS DOUBLE) - CAST({p} AS DOUBLE))"


@dataclass(frozen=True)
class NumericStats:
    """Moments and exact quantiles of one numeric column."""

    count: int
    mean: float | None
    std: float | None
    min: float | None
    q1: float | None
    median: float | None
    q3: float | None
    max: float | None
    p05: float | None = None
    p95: float | None = None


def numeric_select(column: Column, pilot: Any, *, pilot_sql: str | None = None) -> list[str]:
    d = shifted_expr(column, pilot, pilot_sql=pilot_sql)
    v = value_expr(column)
    centre = f"CAST({pilot_sql} AS DOUBLE)" if pilot_sql is not None else double_literal(pilot)
    return [
        f"count({v})",
        f"{centre} + fsum({d}) / nullif(count({d}), 0)",
        # Not stddev_samp: its parallel combine depends on the order threads finish in, and
        # a result must be the same on every run. Shifted sums (`d` is centred on a pilot
        # value) in fsum are as sound and come out the same.
        f"CASE WHEN count({d}) > 1 THEN sqrt(greatest(fsum({d} * {d}) "
        f"- fsum({d}) * fsum({d}) / count({d}), 0) / (count({d}) - 1)) END",
        f"min({v})",
        f"quantile_cont(CAST({v} AS DOUBLE), [0.05, 0.25, 0.5, 0.75, 0.95])",
        f"max({v})",
    ]


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def numeric_from(values: tuple[Any, ...]) -> NumericStats:
    count, mean, std, lo, quantiles, hi = values[:6]
    p05, q1, median, q3, p95 = quantiles if quantiles is not None else (None,) * 5
    return NumericStats(
        count=int(count),
        mean=_as_float(mean),
        std=_as_float(std),
        min=_as_float(lo),
        q1=_as_float(q1),
        median=_as_float(median),
        q3=_as_float(q3),
        max=_as_float(hi),
        p05=_as_float(p05),
        p95=_as_float(p95),
    )


def numeric_stats(
    con: duckdb.DuckDBPyConnection, table: str, numeric: list[Column]
) -> dict[str, NumericStats]:
    """Count, mean, sample std, min, quartiles (numpy's linear method) and max in one pass.

    Shared with the outlier methods, which need these figures when no overview is at hand.
    """
    if not numeric:
        return {}
    shifts = pilots(con, table, numeric)
    selects = [s for c, p in zip(numeric, shifts, strict=True) for s in numeric_select(c, p)]
    (row,) = con.execute(f"SELECT {', '.join(selects)} FROM {quote_ident(table)}").fetchall()
    width = len(selects) // len(numeric)
    return {c.name: numeric_from(row[i * width : (i + 1) * width]) for i, c in enumerate(numeric)}
