"""Custom read-only SQL over the loaded tables, safe to offer to anyone who can open the app.

Three independent layers, so a gap in one is caught by another:

1. **DuckDB's own parser decides what the text is.** `duckdb.extract_statements` must find
   exactly one statement and it must be a SELECT (which includes `WITH … SELECT`, `VALUES`,
   `FROM t`, `DESCRIBE`, `SUMMARIZE`). `json_serialize_sql` then gives the full parse tree:
   every table function must be on a short allowlist (`range`, `generate_series`, `unnest`),
   and every table read must be one of the session's own tables or a CTE — so `read_csv(…)`,
   `read_text(…)`, `glob(…)`, `FROM '/etc/passwd'` are refused before anything runs. The
   text is capped (`MAX_SQL_CHARS`) before it is parsed here: parsing costs memory with the
   text's nesting (2 MB of parentheses took 2.5 GB).
2. **The query runs in a process of its own where files and the network are unreachable**
   (`steps.sql_worker`): a private in-memory DuckDB with external access off, extension
   auto-loading off, Python replacement scans off and its configuration locked. The tables
   the query reads are streamed to it as Arrow (the other tables get an empty copy, so
   `SHOW TABLES` and `DESCRIBE` still see them); the session's own connection is never
   handed to the query, locked or not.
3. **Bounded time, memory and output.** DuckDB neither interrupts nor counts a one-row
   scalar expression (`len(list_sort(range(200000000)))` passed 3 GB in 7.5 s under a 256 MB
   `memory_limit`), so the bounds are the operating system's: the worker caps its own address
   space at its tables plus `memory_bytes`, and is killed at `timeout_s` wherever it is
   (copying tables included). The row limit is part of the plan (`LIMIT limit + 1`, the extra
   row only tells us the result was truncated) and the rows returned are capped at
   `max_result_bytes`, so the browser never receives more.

Cost of the process (measured on 2 shared cores, bench/README.md): 0.4-1.0 s to start
Python, DuckDB and Arrow (numpy blocked), by how busy the machine is, plus one streamed Arrow
copy of each table the query names (1M rows × 21 columns: 0.7-0.9 s more), held by the
worker only while it runs. Errors become one sentence, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc

from steps.engine import quote_ident
from steps.errors import SqlError
from steps.results import ToDict
from steps.sql_worker import MIB, sandbox, sentence

DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MEMORY_BYTES = 512 * MIB
DEFAULT_MAX_RESULT_BYTES = 8 * MIB
MAX_SQL_CHARS = 20_000
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
COPY_BATCH_ROWS = 65_536
"""Rows per Arrow batch streamed to the worker: the session's process holds one batch of a
table at a time, never the whole copy."""

WORKER_COMMAND = (
    "import sys; sys.modules['numpy'] = None; from steps.sql_worker import main; main()"
)
"""What the worker process runs: numpy is blocked because nothing there needs it and
importing it was half the worker's start-up (pyarrow imports it when it can)."""
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SqlResult(ToDict):
    """At most `limit` rows of a read-only query, and whether more rows existed."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    n_rows_returned: int
    elapsed_ms: float
    limit: int


def run_readonly_sql(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    limit: int = DEFAULT_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
) -> SqlResult:
    """Run one SELECT over the session's tables with no way to touch files, settings or data,
    and no way to take more than `timeout_s` seconds, `memory_bytes` of working memory (on
    top of its copy of the tables) or `max_result_bytes` of rows back."""
    if limit < 1:
        raise SqlError(f"The row limit must be at least 1, not {limit}.")
    if len(sql) > MAX_SQL_CHARS:
        raise SqlError(
            f"The query is {len(sql):,} characters long; at most {MAX_SQL_CHARS:,} are allowed."
        )
    query = single_select(sql)
    start = time.perf_counter()
    source = con.cursor()  # its own connection: never disturbs a result the caller holds
    try:
        known = session_tables(source)
        with sandbox() as local:
            tables = _tables_read(_parse_tree(local, query), known)
            request = {
                "query": query,
                "limit": limit,
                "tables": sorted(known),
                "threads": int(_setting(source, "threads")),
                "memory_bytes": memory_bytes,
                "max_result_bytes": max_result_bytes,
            }
            answer, truncated = _in_worker(source, request, tables, timeout_s)
            # DuckDB reads its own lossless Arrow back into exactly the Python values a
            # query on the session's connection would give (HUGEINT, UUID, MAP, INTERVAL…).
            relation = local.from_arrow(answer)
            rows = tuple(tuple(row) for row in relation.fetchall())
            columns = tuple(answer.column_names)
    finally:
        source.close()
    return SqlResult(
        columns=columns,
        rows=rows,
        truncated=truncated,
        n_rows_returned=len(rows),
        elapsed_ms=(time.perf_counter() - start) * 1000.0,
        limit=limit,
    )


def single_select(sql: str) -> str:
    """The text of the one SELECT statement in `sql`, as DuckDB's parser splits it."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlError(sentence(exc)) from None
    if not statements:
        raise SqlError("The query is empty: write one SELECT statement.")
    if len(statements) > 1:
        raise SqlError(
            f"The text holds {len(statements)} statements; only one SELECT statement is allowed."
        )
    (statement,) = statements
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name
        raise SqlError(f"Only SELECT queries are allowed here; this is a {kind} statement.")
    return _without_terminator(statement.query)


def _without_terminator(query: str) -> str:
    """The statement without its closing `;` (and comments after it), so it can be nested."""
    tokens = [start for start, kind in duckdb.tokenize(query) if kind != duckdb.token_type.comment]
    if tokens and query[tokens[-1] :].startswith(";"):
        return query[: tokens[-1]]
    return query


def session_tables(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Lower-cased names of the tables and views the session created (not DuckDB's own)."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT internal "
        "UNION SELECT view_name FROM duckdb_views() WHERE NOT internal"
    ).fetchall()
    return frozenset(name.lower() for (name,) in rows)


def _parse_tree(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, Any]:
    """DuckDB's parse tree of one SELECT, as JSON."""
    ((serialized,),) = con.execute("SELECT json_serialize_sql(?)", [query]).fetchall()
    tree = json.loads(serialized)
    if tree.get("error"):
        raise SqlError(f"DuckDB could not read the query: {tree.get('error_message', '')}")
    return tree


def _tables_read(tree: dict[str, Any], known: frozenset[str]) -> frozenset[str]:
    """The session tables the query reads; refuses table functions and anything not a table."""
    ctes = {key.lower() for key in _cte_names(tree)}
    read: set[str] = set()
    for node in _nodes(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str(node.get("function", {}).get("function_name", "")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                allowed = ", ".join(sorted(ALLOWED_TABLE_FUNCTIONS))
                raise SqlError(
                    f"The table function {name}() is not allowed here "
                    f"(allowed: {allowed}); query the loaded tables instead."
                )
        elif kind == "BASE_TABLE" or _shows_a_table(node):
            read.add(_table_name(node, known, ctes))
    return frozenset(read - ctes)


def _shows_a_table(node: dict[str, Any]) -> bool:
    """`SHOW name` reads a table too (`SHOW TABLES` and `DESCRIBE <query>` do not)."""
    return (
        node.get("type") == "SHOW_REF"
        and node.get("show_type") != "SHOW_SPECIAL"
        and bool(node.get("table_name"))
    )


def _table_name(node: dict[str, Any], known: frozenset[str], ctes: set[str]) -> str:
    name = str(node.get("table_name", ""))
    if node.get("schema_name") or node.get("catalog_name"):
        raise SqlError(f"Refer to tables by their plain name, without a schema: {name!r}.")
    if name.lower() in known or name.lower() in ctes:
        return name.lower()
    available = ", ".join(sorted(known)) or "none"
    raise SqlError(f"There is no table named {name!r} here; the tables are: {available}.")


def _cte_names(tree: dict[str, Any]) -> Iterator[str]:
    for node in _nodes(tree):
        for entry in node.get("cte_map", {}).get("map", []):
            yield str(entry.get("key", ""))


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in the parse tree, depth first."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> Any:
    ((value,),) = con.execute("SELECT current_setting(?)", [name]).fetchall()
    return value


def _in_worker(
    source: duckdb.DuckDBPyConnection,
    request: dict[str, Any],
    tables: frozenset[str],
    timeout_s: float,
) -> tuple[pa.Table, bool]:
    """The rows a `steps.sql_worker` process answers, and whether more existed; the process
    is killed if it outlives `timeout_s`, copying included."""
    with tempfile.TemporaryDirectory(prefix="signoff-sql-") as spill:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER_COMMAND],
            cwd=_PACKAGE_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        stopped = threading.Event()

        def stop() -> None:
            stopped.set()
            worker.kill()
            source.interrupt()  # in case the deadline falls while a table is being copied

        timer = threading.Timer(timeout_s, stop)
        timer.start()
        try:
            _send(worker.stdin, {**request, "spill": spill}, source, tables)
            output = worker.stdout.read() if worker.stdout else b""
            worker.wait()
        finally:
            timer.cancel()
            timer.join()
            worker.kill()
            worker.wait()
    if stopped.is_set() and worker.returncode != 0:
        raise SqlError(f"The query ran longer than {timeout_s:g} s and was stopped.")
    return _answer(output, worker.returncode)


def _send(
    stdin: IO[bytes] | None,
    request: dict[str, Any],
    source: duckdb.DuckDBPyConnection,
    tables: frozenset[str],
) -> None:
    """The request line, then each session table as an Arrow stream (empty unless read).

    A worker that is gone (killed at the deadline, or failed) closes the pipe, and the timer
    interrupts a copy at the deadline (Arrow's stream reader raises that as an `OSError`):
    neither is an error here, the worker's answer or the timer says what happened.
    """
    if stdin is None:
        return
    try:
        stdin.write(json.dumps(request).encode() + b"\n")
        for name in request["tables"]:
            rows = "" if name in tables else " LIMIT 0"
            relation = source.sql(f"SELECT * FROM {quote_ident(name)}{rows}")
            reader = relation.to_arrow_reader(COPY_BATCH_ROWS)
            with ipc.new_stream(stdin, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
        stdin.close()
    except (OSError, duckdb.InterruptException):
        return
    except duckdb.Error as exc:  # the session's own table could not be read
        raise SqlError(sentence(exc)) from None


def _answer(output: bytes, returncode: int | None) -> tuple[pa.Table, bool]:
    """The worker's rows and truncation flag, or its refusal raised as a `SqlError`."""
    status_line, _, payload = output.partition(b"\n")
    try:
        status = json.loads(status_line)
    except ValueError:
        raise SqlError(
            f"The query stopped without an answer (its process exited with code {returncode})."
        ) from None
    if not status["ok"]:
        raise SqlError(str(status["error"]))
    return ipc.open_stream(pa.py_buffer(payload)).read_all(), bool(status["truncated"])
