"""SQL helpers shared by Step 3's scans: cleaned values, literals, one-scan aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np

from steps.engine import Column, columns, present_sql, quote_ident
from steps.errors import StatisticsError

_EPS = float(np.finfo(float).eps)


def value_sql(column: Column) -> str:
    """The column as SQL fit for arithmetic: numbers as DOUBLE, only where present."""
    if not column.is_numeric:
        return quote_ident(column.name)
    return f"{present_sql(column)}::DOUBLE"


def number_sql(column: Column) -> str:
    """A numeric or temporal column as DOUBLE: dates and times as epoch seconds."""
    if column.is_temporal:
        return f"epoch({present_sql(column)})"
    return value_sql(column)


def double_sql(value: float) -> str:
    """A DOUBLE literal that round-trips exactly (a bare decimal would parse as DECIMAL)."""
    return f"'{value!r}'::DOUBLE"


class _Aggregates:
    """Aggregate expressions for one scan, each computed once however often it is asked for."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}

    def add(self, sql: str) -> int:
        return self._index.setdefault(sql, len(self._index))

    def run(self, con: duckdb.DuckDBPyConnection, source: str) -> tuple:
        if not self._index:
            return ()
        select = ",\n  ".join(self._index)
        row = con.execute(f"SELECT\n  {select}\nFROM {source}").fetchall()[0]
        return tuple(row)


@dataclass(frozen=True)
class _Profile:
    """Per-column count, mean, min and max over a relation of cleaned values `v0..vk`."""

    n_rows: int
    names: tuple[str, ...]
    counts: tuple[int, ...]
    means: tuple[float | None, ...]
    mins: tuple[float | None, ...]
    maxs: tuple[float | None, ...]

    def complete(self, i: int) -> bool:
        return self.counts[i] == self.n_rows


def _clean_source(table_cols: Sequence[Column], table: str) -> str:
    """A subquery exposing numeric (and datetime) columns as `v0..vk`, DOUBLE where present."""
    body = ", ".join(f"{number_sql(c)} AS v{i}" for i, c in enumerate(table_cols))
    # With no numeric column there is still a row count to take.
    return f"(SELECT {body or 'NULL AS no_numeric_column'} FROM {quote_ident(table)})"


def _profile(con: duckdb.DuckDBPyConnection, source: str, names: Sequence[str]) -> _Profile:
    parts = ["count(*)"]
    for i in range(len(names)):
        parts += [f"count(v{i})", f"favg(v{i})", f"min(v{i})", f"max(v{i})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchall()[0]
    k = len(names)
    return _Profile(
        n_rows=int(row[0]),
        names=tuple(names),
        counts=tuple(int(row[1 + 4 * i]) for i in range(k)),
        means=tuple(row[2 + 4 * i] for i in range(k)),
        mins=tuple(row[3 + 4 * i] for i in range(k)),
        maxs=tuple(row[4 + 4 * i] for i in range(k)),
    )


def _centred(profile: _Profile, i: int) -> str:
    """`v_i` minus its mean: sums of products of these stay exact where raw sums do not."""
    mean = profile.means[i]
    return f"(v{i} - {double_sql(mean)})" if mean is not None else f"v{i}"


def _numeric_columns(
    con: duckdb.DuckDBPyConnection, table: str, names: Sequence[str] | None
) -> list[Column]:
    """The requested columns (default: every numeric one), refusing unknown or non-numeric."""
    cols = columns(con, table)
    if names is None:
        return [c for c in cols if c.is_numeric]
    by_name = {c.name: c for c in cols}
    chosen = []
    for name in names:
        col = by_name.get(name)
        if col is None:
            raise StatisticsError(f"There is no column named {name!r} in the table.")
        if not col.is_numeric:
            raise StatisticsError(f"Column {name!r} is {col.dtype}, not numeric.")
        chosen.append(col)
    return chosen
