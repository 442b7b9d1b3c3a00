"""A look at the rows themselves before gate 1: the first, the last and a seeded sample.

A reviewer signs off data they have seen, not only its summary; a bounded look (at most
100 rows, 50 columns) never sends the table to the browser.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass
from typing import Any, Literal

import duckdb

from steps.engine import columns, quote_ident, row_count, seeded_sample
from steps.results import ToDict, json_safe
from steps.text import canonical_json

Which = Literal["first", "last", "sample"]
WHICH: tuple[Which, ...] = ("first", "last", "sample")
LOOK_ROWS = 100
LOOK_COLUMNS = 50


@dataclass(frozen=True)
class RowsShown(ToDict):
    """Some rows of the table as plain values (text, numbers, booleans or None), in table
    order; `note` says which rows out of how many, and which columns were left out."""

    which: Which
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    n_rows: int
    note: str


def rows_at(
    con: duckdb.DuckDBPyConnection,
    table: str,
    which: Which,
    *,
    limit: int = LOOK_ROWS,
    max_columns: int = LOOK_COLUMNS,
) -> RowsShown:
    names = [c.name for c in columns(con, table)]
    shown = names[:max_columns]
    n_rows = row_count(con, table)
    select = f"SELECT {', '.join(quote_ident(n) for n in shown)} FROM {quote_ident(table)}"
    if which == "first":
        sql, label = f"{select} LIMIT {int(limit)}", "The first"
    elif which == "last":
        sql, label = f"{select} OFFSET {max(n_rows - int(limit), 0)}", "The last"
    elif n_rows <= limit:
        sql, label = select, "All"
    else:
        sql, label = f"{select} {seeded_sample(limit)}", "A seeded random sample of"
    rows = tuple(tuple(_plain(v) for v in row) for row in con.execute(sql).fetchall())
    note = f"{label} {len(rows):,} of {n_rows:,} rows"
    if len(names) > len(shown):
        note += f"; the first {len(shown):,} of {len(names):,} columns"
    return RowsShown(which, tuple(shown), rows, n_rows, note + ".")


def _plain(value: Any) -> Any:
    """A cell as a table shows it: dates as ISO text, decimals as floats, NaN as missing,
    nested values as JSON (never a Python repr)."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, list | tuple | dict):
        return canonical_json(json_safe(value))
    return value
