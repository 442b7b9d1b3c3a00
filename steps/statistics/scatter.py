"""Scatter samples: every complete row of a pair, or a seeded reservoir sample of them."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from steps.engine import quote_ident, seeded_sample
from steps.errors import StatisticsError
from steps.statistics.results import ScatterSample
from steps.statistics.sql import _numeric_columns, value_sql


def sample_rows(
    con: duckdb.DuckDBPyConnection,
    source: str,
    select: Sequence[str],
    required: Sequence[str],
    *,
    max_rows: int,
    seed: int,
) -> tuple[list[tuple], int]:
    """Rows of `select` where every `required` expression has a value: all, or a seeded sample.

    Returns the rows and how many qualified. The sample is DuckDB's reservoir with a fixed
    seed, so the same data and seed give the same points.
    """
    where = " AND ".join(f"({r}) IS NOT NULL" for r in required) or "TRUE"
    body = ", ".join(f"{e} AS s{i}" for i, e in enumerate(select))
    filtered = f"(SELECT {body} FROM {source} WHERE {where})"
    (total,) = con.execute(f"SELECT count(*) FROM {filtered}").fetchall()[0]
    if total <= max_rows:
        return con.execute(f"SELECT * FROM {filtered}").fetchall(), int(total)
    rows = con.execute(f"SELECT * FROM {filtered} {seeded_sample(max_rows, seed)}").fetchall()
    return rows, int(total)


def scatter_sample(
    con: duckdb.DuckDBPyConnection,
    table: str,
    x: str,
    y: str,
    *,
    max_points: int = 2000,
    seed: int = 42,
) -> ScatterSample:
    """At most `max_points` (x, y) points from rows where both are present."""
    if max_points < 1:
        raise StatisticsError(f"max_points must be at least 1, not {max_points!r}.")
    cx, cy = _numeric_columns(con, table, [x, y])
    select = [value_sql(cx), value_sql(cy)]
    rows, total = sample_rows(
        con, quote_ident(table), select, select, max_rows=max_points, seed=seed
    )
    return ScatterSample(
        x=x,
        y=y,
        points=tuple((float(a), float(b)) for a, b in rows),
        n_total=total,
        sampled=total > len(rows),
        seed=seed,
    )
