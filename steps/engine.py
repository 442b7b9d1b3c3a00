"""The DuckDB side of every step: one connection per analysis, one table per dataset.

Steps receive a connection and a table (or view) name and push aggregates down to DuckDB;
pandas only ever sees a bounded, seeded sample (`sample_frame`).
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb

from steps.errors import StepTimeoutError

T = TypeVar("T")

if TYPE_CHECKING:  # pandas is imported by DuckDB's `.df()` when a sample is drawn, not here
    import pandas as pd

SAMPLE_ROWS = 100_000
SAMPLE_SEED = 42
# DuckDB's default limit is 80 % of the machine's memory, and it keeps what it takes: a
# 200 MB CSV left its process at ~3-4.6x the file size. A limit that grows with the file
# bounds each analysis (tables and hash tables spill to a private temporary directory beyond
# it). Twice the file: a parsed table takes ~1.35x its CSV in memory (messy 200 MB bench
# file: 270 MB), so it loads without spilling; at 1x the load and every later scan read back
# spilled blocks: load + Steps 1-2 took 1.8 s longer there for 70 MB less peak RSS
# (bench/README.md).
# Exact quantiles cannot spill: they hold every value of every numeric column at once
# (8 bytes each, in Step 1's single pass), so the limit also leaves room for those, with
# slack, or a file of many short numbers would fail where it used to work.
MEMORY_FLOOR_BYTES = 256 * 1024 * 1024
MEMORY_PER_DATA_BYTE = 2.0
QUANTILE_BYTES_PER_VALUE = 12
QUANTILE_HEADROOM_BYTES = 64 * 1024 * 1024
WIDTH_BYTES_PER_COLUMN = 1024 * 1024

_NUMERIC_PREFIXES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
_TEMPORAL_PREFIXES = ("DATE", "TIMESTAMP", "TIME")
# Types whose values can be NaN or infinite, which no step counts as a present value.
_NON_FINITE_TYPES = frozenset({"FLOAT", "DOUBLE", "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"})


@dataclass(frozen=True)
class Column:
    """A column as DuckDB sees it: its name and its SQL type."""

    name: str
    dtype: str

    @property
    def is_numeric(self) -> bool:
        return self.dtype.upper().startswith(_NUMERIC_PREFIXES)

    @property
    def is_temporal(self) -> bool:
        return self.dtype.upper().startswith(_TEMPORAL_PREFIXES)

    @property
    def is_boolean(self) -> bool:
        return self.dtype.upper() == "BOOLEAN"

    @property
    def is_text(self) -> bool:
        return self.dtype.upper() == "VARCHAR"


def memory_limit_for(
    data_bytes: int,
    *,
    rows: int = 0,
    numeric_columns: int = 0,
    width: int = 0,
    configured: str | None = None,
) -> str:
    """The DuckDB memory limit for a file of `data_bytes`: `configured` when given
    (`SIGNOFF_DUCKDB_MEMORY`, read once into `Settings.duckdb_memory`),
    else twice the file's size, at least `MEMORY_FLOOR_BYTES` and at least what exact
    quantiles of `numeric_columns` columns of `rows` rows need (known once it is loaded).

    A wide table gets room for per-column working buffers on top (`width` columns): parsing
    and whole-row grouping of 10 000 columns need gigabytes however small the file is.
    """
    if configured:
        return configured
    quantiles = QUANTILE_BYTES_PER_VALUE * rows * numeric_columns + QUANTILE_HEADROOM_BYTES
    base = max(MEMORY_FLOOR_BYTES, int(data_bytes * MEMORY_PER_DATA_BYTE), quantiles)
    limit = base + width * WIDTH_BYTES_PER_COLUMN
    return f"{-(-limit // (1024 * 1024))}MiB"


def available_cpus() -> int:
    """The CPUs this process may use (a container's or taskset's, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def session_threads() -> int:
    """DuckDB threads for one analysis session: half the CPUs this process may use, at least 1.

    Why not DuckDB's default (every core): `marimo run` serves every viewer from one process,
    and a session whose query keeps every core busy leaves the others only the scheduler's
    leftovers. DuckDB releases the GIL while a query runs, so with half the cores a heavy
    session cannot take the machine: measured on 2 cores (bench/README.md, "Isolation"),
    loading a small CSV and running Steps 1-2 beside a heavy query took 1.0-1.6x as long as
    alone with 1 thread per session against 1.75-2.7x with 2, and one analysis alone was no
    faster with 2 on that shared machine. `python -m steps` is one analysis in a process of
    its own and takes every CPU (`available_cpus`).
    """
    return max(1, available_cpus() // 2)


def connect(
    *, memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open a private in-memory database for one analysis session.

    A bounded `memory_limit` lets DuckDB spill to disk instead of growing with the file;
    `steps.load.load` gives one chosen by `memory_limit_for` from the file's size; without one
    DuckDB's own default applies. `threads` defaults to `session_threads()`, so that one
    session's heavy query leaves cores to the others. Spilled data goes to a directory of
    its own under the system's temporary directory, which DuckDB creates only when it spills
    and removes when the connection closes (its default, `.tmp` in the working directory,
    may be shared or read-only).
    """
    spill = Path(tempfile.gettempdir()) / f"signoff-duckdb-{uuid.uuid4().hex}"
    config: dict[str, str | bool | int | float | list[str]] = {
        "temp_directory": str(spill),
        "threads": threads or session_threads(),
    }
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(":memory:", config=config)


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Forbid file and network access and freeze the configuration (hosted mode, custom SQL)."""
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def quote_ident(name: str) -> str:
    """Quote any column or table name for SQL, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def present_sql(column: Column) -> str:
    """The column as SQL with every value that is not *present* made NULL.

    The one definition every step uses: NULL, a float NaN and ±infinity (of floats, dates
    and timestamps) are not present. Counts, means, ranks and quantiles only see present
    values, so Step 1's count and Step 3's n of a column always agree; Step 1 reports how
    many infinities it set aside.
    """
    ident = quote_ident(column.name)
    if may_be_non_finite(column):
        return f"CASE WHEN isfinite({ident}) THEN {ident} END"
    return ident


def may_be_non_finite(column: Column) -> bool:
    """Whether the column's type can hold NaN or ±infinity (floats, dates, timestamps)."""
    return column.dtype.upper() in _NON_FINITE_TYPES


def quote_literal(value: str) -> str:
    """Quote a string as a SQL literal."""
    return "'" + value.replace("'", "''") + "'"


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[Column]:
    """The table's columns in order, with DuckDB's type names."""
    rel = con.sql(f"SELECT * FROM {quote_ident(table)} LIMIT 0")
    return [Column(name, str(dtype)) for name, dtype in zip(rel.columns, rel.types, strict=True)]


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    # fetchall, not fetchone: DuckDB 2.x keeps a half-read result open on the connection.
    [(n,)] = con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchall()
    return int(n)


# Hash buckets for `hash_sample`: a prime well above any sample fraction's resolution need.
_HASH_BUCKETS = 1_000_003


def hash_sample(key: str, rows: int, n_rows: int) -> str:
    """A WHERE condition keeping about `rows` of `n_rows` rows: those whose hash of `key`
    falls in the lowest buckets. The rows are chosen by the data alone (the same ones every
    run, whatever the threads do) at the cost of a plain scan; DuckDB's seeded reservoir
    took four times as long on the 200 MB bench file."""
    keep = -(-_HASH_BUCKETS * int(rows) // max(1, int(n_rows)))
    return f"hash({key}) % {_HASH_BUCKETS} < {keep}"


def seeded_sample(rows: int, seed: int = SAMPLE_SEED) -> str:
    """The clause drawing a seeded reservoir sample: the same rows for the same data and seed."""
    return f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE ({int(seed)})"


def sample_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    rows: int = SAMPLE_ROWS,
    seed: int = SAMPLE_SEED,
    select: list[str] | None = None,
) -> pd.DataFrame:
    """A seeded, bounded sample as pandas, for methods that need arrays.

    The whole table comes back when it is no larger than `rows`, in table order, so small
    data gives exact answers; the caller says "sample" in the UI when `len(result) < n_rows`.
    """
    cols = "*" if select is None else ", ".join(quote_ident(c) for c in select)
    source = quote_ident(table)
    if row_count(con, table) <= rows:
        return con.sql(f"SELECT {cols} FROM {source}").df()
    return con.sql(f"SELECT {cols} FROM {source} {seeded_sample(rows, seed)}").df()


@dataclass(frozen=True)
class Budget:
    """How long one step may take on a session's connection (`SIGNOFF_STEP_TIMEOUT`).

    On a shared server one file too large for its server would otherwise hold a thread and
    cores for as long as it takes. DuckDB stops a query it is told to interrupt; the work a
    step does in Python between queries (a few numpy passes over bounded arrays) is not
    interrupted, so a step ends within its budget plus that part.
    """

    con: duckdb.DuckDBPyConnection
    seconds: float
    size: str  # the table, as the refusal names it: "1,212,473 rows × 22 columns"

    def run(self, what: str, step: Callable[..., T], *args: object, **kwargs: object) -> T:
        """`step(*args, **kwargs)`, or `StepTimeoutError` once it runs past the budget."""
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            self.con.interrupt()

        timer = threading.Timer(self.seconds, stop)
        timer.daemon = True
        timer.start()
        try:
            result = step(*args, **kwargs)
        except Exception:
            if not fired.is_set():
                raise
            raise self._refusal(what) from None
        finally:
            timer.cancel()
        if fired.is_set():  # also when a query it interrupted was caught inside the step
            raise self._refusal(what)
        return result

    def _refusal(self, what: str) -> StepTimeoutError:
        return StepTimeoutError(
            f"{what} ran longer than {self.seconds:g} s and was stopped: {self.size} is more "
            "than this server analyses in that time (SIGNOFF_STEP_TIMEOUT)."
        )
