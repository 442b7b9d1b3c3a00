"""The process one custom SQL query runs in, so that no query can take the server with it.

Why a process of its own (measured on DuckDB 2.0.1, see bench/README.md): DuckDB's
`memory_limit` binds its operators (joins, sorts and aggregates spill beyond it) but not the
values a scalar function builds, and `interrupt()` is only seen between vectors, so a
one-row expression runs to its end whatever the timer says.
`SELECT len(list_sort(range(200000000)))` passed 3 GB in 7.5 s under a 256 MB limit;
`SELECT length(lpad('x', 2000000000, 'y'))` ran 28 s. Only the operating system can bound
those: this process caps its own address space (`RLIMIT_AS`, Linux) just before the query
runs, so an oversized allocation fails at once with DuckDB's out-of-memory error, and
`steps.sql` kills the process at the deadline, which stops any expression.

The connection here is the sandbox of `steps.sql` (layer 2): no file, no network, no
extension loading, no Python variables, configuration locked before the query runs.

Protocol, binary on stdin and stdout:

- parent → worker: one JSON line (the `Request` fields), then one Arrow IPC stream per
  name in `tables`, in that order;
- worker → parent: one JSON line, `{"ok": true, "truncated": bool}` followed by one Arrow
  IPC stream of at most `limit` rows, or `{"ok": false, "error": sentence}`.

Nothing here imports pandas or the rest of `steps`, and the worker runs with numpy blocked
(`steps.sql.WORKER_COMMAND`; neither DuckDB nor Arrow needs it for this): its start-up is
part of every query, and numpy alone was 0.3-0.8 s of it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc

MIB = 1024 * 1024
DUCKDB_SHARE = 2
"""DuckDB's own `memory_limit` is 1/`DUCKDB_SHARE` of the query's budget: its operators spill
there, leaving the rest of the capped address space for the allocations it does not count
(vectors of a scalar function, the Arrow result)."""
SPILL_PER_BUDGET = 8
"""Spilled bytes allowed per byte of budget (`max_temp_directory_size`): a sort that spills
cannot fill the disk before the deadline stops it either."""

SANDBOX_CONFIG: Mapping[str, str | bool] = MappingProxyType(
    {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "python_enable_replacements": False,
        # HUGEINT, UUID, BIT… travel to `steps.sql` as themselves, not as decimals or text
        "arrow_lossless_conversion": True,
    }
)


@contextmanager
def sandbox(**settings: str | int) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory DuckDB that can reach no file, no network and no Python variable."""
    con = duckdb.connect(":memory:", config={**SANDBOX_CONFIG, **settings})
    con.execute("SET enable_progress_bar = false")  # it prints to stdout, the answer's channel
    try:
        yield con
    finally:
        con.close()


def sentence(exc: BaseException) -> str:
    """DuckDB's message reduced to its first line (no caret diagram, no traceback)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first if first.endswith((".", "!", "?")) else first + "."


def memory_sentence(budget_bytes: int) -> str:
    return (
        f"The query needed more than {budget_bytes / MIB:g} MiB of working memory and was "
        "stopped; aggregate before building large lists or strings."
    )


def _address_space() -> int | None:
    """This process's virtual size in bytes, or None where `/proc` does not tell it."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def cap_address_space(extra_bytes: int) -> bool:
    """Let this process's address space grow by at most `extra_bytes` from now on.

    Linux only (elsewhere `RLIMIT_AS` is absent or not enforced, and only the deadline
    holds); returns whether the cap is in force. The soft limit is enough: nothing the query
    can do calls `setrlimit`.
    """
    size = _address_space()
    if size is None or sys.platform != "linux":
        return False
    import resource  # POSIX only: not importable where this module must still load

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return True


class Refusal(Exception):
    """The query failed or was refused here; `str()` is the sentence for the person."""


def run(request: Mapping[str, Any], tables: Mapping[str, pa.Table]) -> tuple[pa.Table, bool]:
    """Run the request's query over `tables` inside its caps; the rows and whether more existed."""
    budget = int(request["memory_bytes"])
    limit = int(request["limit"])
    settings: dict[str, str | int] = {
        "threads": int(request["threads"]),
        "memory_limit": f"{max(1, budget // DUCKDB_SHARE // MIB)}MiB",
        "temp_directory": str(request["spill"]),
        "max_temp_directory_size": f"{budget * SPILL_PER_BUDGET // MIB}MiB",
    }
    with sandbox(**settings) as con:
        for name, table in tables.items():
            con.register(name, table)
        con.execute("SET lock_configuration = true")
        cap_address_space(budget)
        try:
            result = con.sql(request["query"]).limit(limit + 1).to_arrow_table()
        except (duckdb.OutOfMemoryException, MemoryError):
            raise Refusal(memory_sentence(budget)) from None
        except duckdb.Error as exc:
            raise Refusal(sentence(exc)) from None
    kept = result.slice(0, limit)
    max_bytes = int(request["max_result_bytes"])
    if kept.nbytes > max_bytes:
        raise Refusal(
            f"The result holds {kept.nbytes / MIB:.1f} MiB, more than the "
            f"{max_bytes / MIB:g} MiB a query may return; select fewer or shorter values."
        )
    return kept, result.num_rows > limit


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Read one request and its tables from `stdin`, write the answer to `stdout`."""
    request = json.loads(stdin.readline())
    tables = {name: ipc.open_stream(stdin).read_all() for name in request["tables"]}
    try:
        result, truncated = run(request, tables)
    except Refusal as refusal:
        stdout.write(json.dumps({"ok": False, "error": str(refusal)}).encode() + b"\n")
        return
    stdout.write(json.dumps({"ok": True, "truncated": truncated}).encode() + b"\n")
    with ipc.new_stream(stdout, result.schema) as writer:
        writer.write_table(result)


def main() -> None:
    """The worker's entry point (`steps.sql.WORKER_COMMAND`)."""
    serve(sys.stdin.buffer, sys.stdout.buffer)
    sys.stdout.buffer.flush()
