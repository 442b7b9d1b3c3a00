"""A sheet's cells as the text a CSV of the same table holds, a batch of rows at a time.

Why Arrow: a 50 MB workbook has some 18 million cells, and a Python call per cell is what
made workbooks slow. Here a batch of rows is turned into columns (`zip`), each column is
split by the Python type of its cells (one C-level pass per type present), the typed part
is made an Arrow array and rendered by Arrow, and the text part is kept as it is:

- numbers in their shortest exact form, whole numbers without `.0` (`39.1`, `181`);
- dates `2024-01-02`, date-times `2024-01-02 03:04:05.000000`, times `10:30:00.000000`;
- booleans as Excel shows them, `TRUE`/`FALSE`; empty cells empty; text as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BATCH_ROWS = 50_000
_ARROW_TYPES: dict[type, pa.DataType] = {
    float: pa.float64(),
    int: pa.int64(),
    bool: pa.bool_(),
    dt.date: pa.date32(),
    dt.datetime: pa.timestamp("us"),
    dt.time: pa.time64("us"),
}


def _rendered(typed: pa.Array, kind: type) -> pa.Array:
    if kind is bool:
        return pc.if_else(typed, "TRUE", "FALSE")
    return pc.cast(typed, pa.string())


def column_text(values: tuple[object, ...]) -> pa.Array:
    """One column of cells (Python values from the reader) as Arrow text."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return pa.array(values, pa.string())
    cells = np.array(values, dtype=object)
    types = np.frompyfunc(type, 1, 1)(cells)
    out = pa.nulls(len(values), pa.string())
    for kind in kinds:
        mask = (types == kind).astype(bool)
        if kind is str and values.count("") == mask.sum():
            continue  # only empty cells: left missing, which a CSV writes the same way
        chosen = np.where(mask, cells, np.array(None, dtype=object))
        if kind is str:
            text = pa.array(chosen, pa.string())
        elif kind in _ARROW_TYPES:
            text = _rendered(pa.array(chosen, _ARROW_TYPES[kind]), kind)
        else:  # durations and the like: rare, each as Python writes it
            text = pa.array(np.where(mask, np.frompyfunc(str, 1, 1)(cells), None), pa.string())
        out = pc.if_else(pa.array(mask), text, out)
    return out


def _table(rows: Sequence[Sequence[object]]) -> pa.Table:
    """A batch of rows as a table of text columns, rows with no filled cell left out."""
    columns = [column_text(c) for c in zip(*rows, strict=True)]
    table = pa.table(columns, names=[f"c{j}" for j in range(len(columns))])
    filled = [pc.fill_null(pc.not_equal(c, ""), False) for c in columns]
    keep = filled[0]
    for column in filled[1:]:
        keep = pc.or_(keep, column)
    return table.filter(keep)


def text_batches(rows: Iterable[Sequence[object]]) -> Iterator[pa.Table]:
    """The rows as tables of text, `BATCH_ROWS` at a time (empty tables skipped)."""
    batch: list[Sequence[object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            table = _table(batch)
            batch = []
            if table.num_rows:
                yield table
    if batch:
        table = _table(batch)
        if table.num_rows:
            yield table
