"""Custom read-only SQL over the loaded tables, safe to offer to anyone who can open the app.

Three independent layers, so a gap in one is caught by another:

1. **DuckDB's own parser decides what the text is.** `duckdb.extract_statements` must find
   exactly one statement and it must be a SELECT (which includes `WITH … SELECT`, `VALUES`,
   `FROM t`, `DESCRIBE`, `SUMMARIZE`). `json_serialize_sql` then gives the full parse tree:
   every table function must be on a short allowlist (`range`, `generate_series`, `unnest`),
   and every table read must be one of the session's own tables or a CTE — so `read_csv(…)`,
   `read_text(…)`, `glob(…)`, `FROM '/etc/passwd'` are refused before anything runs.
2. **The query runs where files and the network are unreachable.** If the caller's
   connection already has `enable_external_access = false` (hosted mode locks it once the
   data is loaded, see `steps.engine.lock_down`), the query runs on a cursor of it. Otherwise
   — the local app, whose connection must keep loading files and writing exports — the
   tables the query reads are copied into a private in-memory DuckDB opened with external
   access off, extension auto-loading off, Python replacement scans off and its
   configuration locked (the other tables get an empty copy, so `SHOW TABLES` and `DESCRIBE`
   still see them); the copy travels as Arrow and DuckDB scans it in place. Its cost is
   one Arrow copy of each table the query names, for the duration of the call (measured:
   1M rows x 21 columns ≈ 0.3 s and ≈ 170 MB of Arrow, released when the call returns). A caller who
   wants no copy locks its connection after loading.
3. **Bounded output and time.** The row limit is part of the plan (`LIMIT limit + 1`, the
   extra row only tells us the result was truncated), so the browser never receives more;
   a timer interrupts a query that runs longer than `timeout_s`.

Errors from DuckDB become one sentence (its first line), never a traceback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import duckdb
import pandas as pd

from steps.engine import quote_ident
from steps.errors import SqlError
from steps.results import ToDict

DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT_S = 20.0
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})

_SANDBOX_CONFIG: Mapping[str, str | bool] = MappingProxyType(
    {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "python_enable_replacements": False,
    }
)


@dataclass(frozen=True)
class SqlResult(ToDict):
    """At most `limit` rows of a read-only query, and whether more rows existed."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    n_rows_returned: int
    elapsed_ms: float
    limit: int

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(self.columns))


def run_readonly_sql(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    limit: int = DEFAULT_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> SqlResult:
    """Run one SELECT over the session's tables with no way to touch files, settings or data."""
    if limit < 1:
        raise SqlError(f"The row limit must be at least 1, not {limit}.")
    query = single_select(sql)
    source = con.cursor()  # its own connection: never disturbs a result the caller holds
    try:
        known = session_tables(source)
        with _sandbox(like=source) as sandbox:
            tables = _tables_read(_parse_tree(sandbox, query), known)
            if not _setting(source, "enable_external_access"):
                return _execute(source, query, limit, timeout_s)
            for name in sorted(known):
                rows = "" if name in tables else " LIMIT 0"
                copy = source.sql(f"SELECT * FROM {quote_ident(name)}{rows}").to_arrow_table()
                sandbox.register(name, copy)
            sandbox.execute("SET lock_configuration = true")
            return _execute(sandbox, query, limit, timeout_s)
    finally:
        source.close()


def single_select(sql: str) -> str:
    """The text of the one SELECT statement in `sql`, as DuckDB's parser splits it."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlError(_sentence(exc)) from None
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


@contextmanager
def _sandbox(like: duckdb.DuckDBPyConnection | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory DuckDB that can reach no file, no network and no Python variable,
    with the same memory limit and thread count as the session's own database."""
    config: dict[str, str | bool] = dict(_SANDBOX_CONFIG)
    if like is not None:
        config["memory_limit"] = str(_setting(like, "memory_limit"))
        config["threads"] = str(_setting(like, "threads"))
    con = duckdb.connect(":memory:", config=config)
    try:
        yield con
    finally:
        con.close()


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


def _execute(con: duckdb.DuckDBPyConnection, query: str, limit: int, timeout_s: float) -> SqlResult:
    """Run the query with the limit in its plan and a timer that interrupts it."""
    timer = threading.Timer(timeout_s, con.interrupt)
    start = time.perf_counter()
    timer.start()
    try:
        relation = con.sql(query).limit(limit + 1)
        columns = tuple(relation.columns)
        rows = relation.fetchall()
    except duckdb.InterruptException:
        raise SqlError(f"The query ran longer than {timeout_s:g} s and was stopped.") from None
    except duckdb.Error as exc:
        raise SqlError(_sentence(exc)) from None
    finally:
        timer.cancel()
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    kept = tuple(tuple(row) for row in rows[:limit])
    return SqlResult(
        columns=columns,
        rows=kept,
        truncated=len(rows) > limit,
        n_rows_returned=len(kept),
        elapsed_ms=elapsed_ms,
        limit=limit,
    )


def _sentence(exc: BaseException) -> str:
    """DuckDB's message reduced to its first line (no caret diagram, no traceback)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first if first.endswith((".", "!", "?")) else first + "."
