"""Column kinds for the chart builder (numeric, categorical, datetime, boolean, text,
identifier): given by the caller, or found by a simple rule in one DuckDB scan."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

import duckdb

from steps.engine import Column, columns, quote_ident
from steps.errors import ChartBuilderError

ColumnKind = Literal["numeric", "categorical", "datetime", "boolean", "text", "identifier"]
COLUMN_KINDS: tuple[str, ...] = (
    "numeric",
    "categorical",
    "datetime",
    "boolean",
    "text",
    "identifier",
)
CATEGORICAL_MAX_DISTINCT = 100
IDENTIFIER_MIN_ROWS = 20
IDENTIFIER_MAX_LENGTH = 40

_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")
_UNSIGNED_WIDE = ("UINTEGER", "UBIGINT", "UHUGEINT")
_ID_NAME = re.compile(r"(?:^|[^A-Za-z])(?:id|ID|Id|uuid|UUID|key)$|[a-z](?:Id|ID)$")


def _is_integer(column: Column) -> bool:
    return column.dtype.upper().startswith(_INTEGER_TYPES + _UNSIGNED_WIDE)


def _kind_sql(column: Column) -> list[str]:
    """The aggregates the kind rule needs for this column (none for numbers that are not ids)."""
    ident = quote_ident(column.name)
    if column.is_boolean or (column.is_temporal and not _time_of_day(column)):
        return []
    if column.is_numeric and not (_is_integer(column) and _ID_NAME.search(column.name)):
        return []
    length = f"max(length(CAST({ident} AS VARCHAR)))"
    return [f"count(DISTINCT {ident})", f"count({ident})", length]


def _time_of_day(column: Column) -> bool:
    return column.dtype.upper().startswith("TIME") and not column.dtype.upper().startswith(
        "TIMESTAMP"
    )


def _kind(column: Column, stats: Sequence[int] | None) -> str:
    if column.is_boolean:
        return "boolean"
    if column.is_temporal and not _time_of_day(column):
        return "datetime"
    unique = stats is not None and stats[0] == stats[1] and stats[1] >= IDENTIFIER_MIN_ROWS
    if column.is_numeric:
        return "identifier" if unique else "numeric"
    if unique and (stats[2] or 0) <= IDENTIFIER_MAX_LENGTH:
        return "identifier"
    if stats is not None and stats[0] <= CATEGORICAL_MAX_DISTINCT:
        return "categorical"
    return "text"


def column_kinds(
    con: duckdb.DuckDBPyConnection, table: str, kinds: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each column's kind: `kinds` where given, else a simple rule in one scan.

    Numbers are numeric unless an integer column named like an id holds unique values;
    text is an identifier when unique and short, categorical up to
    `CATEGORICAL_MAX_DISTINCT` distinct values, free text beyond.
    """
    given = dict(kinds or {})
    for name, kind in given.items():
        if kind not in COLUMN_KINDS:
            raise ChartBuilderError(
                f"Column {name!r} has kind {kind!r}; use one of {', '.join(COLUMN_KINDS)}."
            )
    cols = [c for c in columns(con, table) if c.name not in given]
    wanted = {c.name: _kind_sql(c) for c in cols}
    flat = [sql for parts in wanted.values() for sql in parts]
    row = (
        con.execute(f"SELECT {', '.join(flat)} FROM {quote_ident(table)}").fetchall()[0]
        if flat
        else ()
    )
    found: dict[str, str] = {}
    at = 0
    for col in cols:
        width = len(wanted[col.name])
        found[col.name] = _kind(col, row[at : at + width] if width else None)
        at += width
    return {c.name: given.get(c.name, found.get(c.name)) for c in columns(con, table)}
