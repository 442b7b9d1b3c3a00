"""Where values are missing together: the structure behind Step 1's missing-values bar.

One scan groups the rows by (block of rows, missingness pattern), the pattern being one bit
per column with missing values. Summing over blocks gives every pair's co-missing count
exactly (pattern counts times their bits), and summing over patterns gives the share of
each column missing in each block of consecutive rows: the "missingness matrix", drawn
from these binned counts rather than from rows, so it stays the same size whatever the
table. Missing means not present (`steps.engine.present_sql`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np

from steps.engine import Column, present_sql, quote_ident
from steps.results import ToDict

# At most this many columns (those missing the most cells) in the matrices; the rest are
# named in `notes`. A bit per column makes the pattern one BIGINT.
MAX_COLUMNS = 50
ROW_BINS = 100


@dataclass(frozen=True)
class Missingness(ToDict):
    """Co-missingness of the columns with missing values, and missing shares by row block.

    `co_missing[i][j]`: rows where both `columns[i]` and `columns[j]` are missing (the
    diagonal is each column's own count). `by_block[b][i]`: the share of rows
    `block_starts[b]` to the next start (`block_rows` each; row numbers from 0 in table
    order) where `columns[i]` is missing; empty when the rows have no order (a view).
    `patterns`: distinct combinations of missing columns among the rows.
    """

    columns: tuple[str, ...]
    co_missing: tuple[tuple[int, ...], ...]
    patterns: int
    block_rows: int
    block_starts: tuple[int, ...]
    by_block: tuple[tuple[float, ...], ...]
    basis: str
    notes: tuple[str, ...]


def _chosen(missing: dict[str, int], cols: Sequence[Column]) -> tuple[list[Column], list[str]]:
    """The columns with missing values, the `MAX_COLUMNS` missing most, in table order."""
    found = [c for c in cols if missing.get(c.name, 0) > 0]
    if len(found) <= MAX_COLUMNS:
        return found, []
    kept = set(sorted(found, key=lambda c: -missing[c.name])[:MAX_COLUMNS])
    note = (
        f"The missing-data matrices show the {MAX_COLUMNS} of {len(found):,} columns with "
        "missing values that miss the most cells."
    )
    return [c for c in found if c in kept], [note]


def missingness(
    con: duckdb.DuckDBPyConnection,
    table: str,
    cols: Sequence[Column],
    missing: dict[str, int],
    *,
    n_rows: int,
    has_rowid: bool,
) -> Missingness:
    """Co-missing counts and missing shares per block of rows, in one grouped scan."""
    chosen, notes = _chosen(missing, cols)
    k = len(chosen)
    block_rows = max(1, -(-n_rows // ROW_BINS))
    if k == 0:
        return Missingness((), (), 0, block_rows, (), (), "No column has missing values.", ())
    bits = " + ".join(
        f"(({present_sql(c)}) IS NULL)::BIGINT * {1 << i}" for i, c in enumerate(chosen)
    )
    block = f"rowid // {block_rows}" if has_rowid else "0"
    rows = con.execute(
        f"SELECT {block} AS b, {bits} AS p, count(*) FROM {quote_ident(table)} GROUP BY ALL"
    ).fetchall()
    blocks = np.array([r[0] for r in rows], dtype=np.int64)
    patterns = np.array([r[1] for r in rows], dtype=np.int64)
    counts = np.array([r[2] for r in rows], dtype=np.int64)
    flags = (patterns[:, None] >> np.arange(k)) & 1
    co = (flags * counts[:, None]).T @ flags
    by_block: tuple[tuple[float, ...], ...] = ()
    starts: tuple[int, ...] = ()
    if has_rowid:
        # rowid runs 0..n-1 in a loaded table, so block b holds rows b·size up to the next.
        order = np.unique(blocks)
        index = np.searchsorted(order, blocks)
        missing_in = np.zeros((len(order), k))
        np.add.at(missing_in, index, flags * counts[:, None])
        sizes = np.bincount(index, weights=counts)
        by_block = tuple(tuple(float(v) for v in row) for row in missing_in / sizes[:, None])
        starts = tuple(int(b) * block_rows for b in order)
    else:
        notes.append("The rows of a view have no order: no missingness matrix by row block.")
    basis = (
        f"Exact counts over all {n_rows:,} rows; the matrix shows the share missing in "
        f"blocks of {block_rows:,} consecutive rows."
    )
    return Missingness(
        columns=tuple(c.name for c in chosen),
        co_missing=tuple(tuple(int(v) for v in row) for row in co),
        patterns=len(np.unique(patterns)),
        block_rows=block_rows,
        block_starts=starts,
        by_block=by_block,
        basis=basis,
        notes=tuple(notes),
    )
