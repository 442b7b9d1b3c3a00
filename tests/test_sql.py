"""Read-only custom SQL: what runs, what is refused, and that the data survives every attempt."""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from steps.engine import connect, lock_down
from steps.sql import WORKER_COMMAND, SqlError, SqlResult, run_readonly_sql
from steps.sql_worker import sandbox

N_ROWS = 50


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE data AS SELECT range AS id, range * 1.5 AS x, "
        "CASE WHEN range % 3 = 0 THEN 'a' ELSE 'b' END AS grp FROM range(?)",
        [N_ROWS],
    )
    con.execute("CREATE VIEW cleaned AS SELECT * FROM data WHERE id % 2 = 0")
    yield con
    con.close()


def table_digest(con: duckdb.DuckDBPyConnection) -> str:
    """The full contents of `data`, so a test can prove nothing changed."""
    rows = con.execute("SELECT * FROM data ORDER BY id").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def assert_one_sentence(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    assert message.endswith((".", "!", "?"))


def test_select_returns_rows_and_truncates_at_limit(con):
    result = run_readonly_sql(con, "SELECT id, x FROM data ORDER BY id", limit=10)
    assert result.columns == ("id", "x")
    assert result.rows == tuple((i, i * 1.5) for i in range(10))
    assert result.truncated is True
    assert result.n_rows_returned == 10
    assert result.elapsed_ms >= 0


def test_exact_limit_is_not_truncated(con):
    result = run_readonly_sql(con, "SELECT * FROM data", limit=N_ROWS)
    assert result.n_rows_returned == N_ROWS
    assert result.truncated is False


def test_with_select_over_the_cleaned_view_matches_python(con):
    sql = """
        WITH g AS (SELECT grp, x FROM cleaned)
        SELECT grp, count(*) AS n, avg(x) AS mean_x FROM g GROUP BY grp ORDER BY grp;
    """
    result = run_readonly_sql(con, sql)
    kept = [i for i in range(N_ROWS) if i % 2 == 0]
    expected = []
    for grp in ("a", "b"):
        xs = [i * 1.5 for i in kept if ("a" if i % 3 == 0 else "b") == grp]
        expected.append((grp, len(xs), statistics.fmean(xs)))
    assert [r[:2] for r in result.rows] == [e[:2] for e in expected]
    for got, want in zip(result.rows, expected, strict=True):
        assert math.isclose(got[2], want[2], rel_tol=1e-12)
    assert result.truncated is False


@pytest.mark.parametrize(
    "sql",
    [
        "VALUES (1, 'one'), (2, 'two')",
        "FROM data SELECT count(*)",
        "DESCRIBE data",
        "SHOW data",
        "SHOW TABLES",
        "SUMMARIZE cleaned",
        "SELECT * FROM range(3)",
        "SELECT 'read_csv(''/etc/passwd'')' AS looks_like_a_call",
        "SELECT 1 AS one; -- a trailing comment after the semicolon",
    ],
)
def test_other_read_only_forms_run(con, sql):
    assert run_readonly_sql(con, sql).n_rows_returned >= 1


def test_rows_and_to_dict_are_json_safe(con):
    result = run_readonly_sql(
        con, "SELECT 'nan'::DOUBLE AS v, 1.25::DECIMAL(5,2) AS d, grp FROM data"
    )
    assert result.columns == ("v", "d", "grp")
    assert len(result.rows) == N_ROWS
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["rows"][0] == [None, 1.25, "a"]
    assert isinstance(result, SqlResult)


def test_empty_result_keeps_columns(con):
    result = run_readonly_sql(con, "SELECT id, grp FROM data WHERE id < 0")
    assert result.columns == ("id", "grp")
    assert result.rows == ()
    assert result.truncated is False


REFUSED = [
    "COPY data TO '{tmp}/out.csv'",
    "COPY (SELECT * FROM data) TO '{tmp}/out.parquet' (FORMAT parquet)",
    "ATTACH '{tmp}/other.db' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "SET threads = 1",
    "CALL pragma_version()",
    "EXPORT DATABASE '{tmp}/export'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SHOW '/etc/passwd'",
    "SUMMARIZE '/etc/passwd'",
    "DESCRIBE SELECT * FROM read_text('/etc/passwd')",
    "SELECT list_transform([1], x -> (SELECT content FROM read_text('/etc/passwd')))",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')",
    "SELECT * FROM glob('/*')",
    "SELECT id FROM data WHERE id IN (SELECT 1 FROM read_csv_auto('/etc/passwd'))",
    "WITH f AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM f",
    "SELECT * FROM query('SELECT 1')",
    "SELECT 1; DROP TABLE data",
    "SELECT 1; DELETE FROM data",
    "DROP TABLE data",
    "DELETE FROM data",
    "UPDATE data SET x = 0",
    "INSERT INTO data VALUES (99, 0, 'z')",
    "CREATE TABLE copy AS SELECT * FROM data",
    "ALTER TABLE data DROP COLUMN x",
    "DETACH memory",
    "SELECT * FROM main.data",
    "SELECT * FROM no_such_table",
    "EXPLAIN SELECT 1",
    "",
    "  ;  -- nothing",
]


@pytest.mark.parametrize("template", REFUSED)
def test_refused_with_a_sentence_and_table_intact(con, tmp_path, template):
    sql = template.format(tmp=tmp_path)
    before = table_digest(con)
    with pytest.raises(SqlError) as info:
        run_readonly_sql(con, sql)
    assert_one_sentence(str(info.value))
    assert table_digest(con) == before
    assert list(tmp_path.iterdir()) == []
    assert {name for (name,) in con.execute("SHOW TABLES").fetchall()} == {"data", "cleaned"}


def test_duckdb_errors_become_one_sentence(con):
    with pytest.raises(SqlError) as info:
        run_readonly_sql(con, "SELECT no_such_column FROM data")
    assert_one_sentence(str(info.value))
    assert "no_such_column" in str(info.value)


def test_a_long_query_is_interrupted(con):
    with pytest.raises(SqlError, match="stopped"):
        run_readonly_sql(con, "SELECT count(*) FROM range(100000000000) a", timeout_s=0.3)


def test_the_sandbox_itself_cannot_reach_files():
    """Second layer, tested alone: even a query the parse-tree check missed cannot read files."""
    with sandbox() as box:
        for sql in ("SELECT * FROM read_text('/etc/passwd')", "SELECT * FROM glob('/*')"):
            with pytest.raises(duckdb.PermissionException):
                box.execute(sql).fetchall()


def test_locked_connection_runs_in_place_and_still_refuses(con):
    lock_down(con)
    result = run_readonly_sql(con, "SELECT sum(id) FROM data")
    assert result.rows == ((sum(range(N_ROWS)),),)
    with pytest.raises(SqlError):
        run_readonly_sql(con, "SELECT * FROM read_text('/etc/passwd')")


def test_limit_must_be_positive(con):
    with pytest.raises(SqlError):
        run_readonly_sql(con, "SELECT 1", limit=0)


def test_show_tables_lists_the_session_tables(con):
    names = {row[0] for row in run_readonly_sql(con, "SHOW TABLES").rows}
    assert names == {"data", "cleaned"}


def test_caller_state_is_respected_and_the_worker_inherits_threads():
    """A result the caller has not fetched is left alone; the worker runs with the session's
    thread count, half its budget as DuckDB's own limit, and no way out."""
    con = connect(memory_limit="256MB", threads=1)
    con.execute("CREATE TABLE data AS SELECT range AS id FROM range(10)")
    pending = con.execute("SELECT id FROM data ORDER BY id")
    assert run_readonly_sql(con, "SELECT count(*) FROM data").rows == ((10,),)
    assert pending.fetchall() == [(i,) for i in range(10)]
    names = ("threads", "memory_limit", "enable_external_access", "lock_configuration")
    sql = "SELECT " + ", ".join(f"current_setting('{n}')" for n in names)
    ((threads, limit, external, locked),) = run_readonly_sql(
        con, sql, memory_bytes=512 * 2**20
    ).rows
    assert (threads, limit, external, locked) == (1, "256.0 MiB", False, True)


def test_values_come_back_as_the_session_connection_gives_them(con):
    """The rows travel as lossless Arrow and DuckDB converts them, so exotic types keep
    their Python form (HUGEINT as int, UUID, MAP as dict, INTERVAL as timedelta)."""
    sql = (
        "SELECT 2::HUGEINT AS h, '3ebd6161-a295-4c60-b2a9-9ab1742973b1'::UUID AS u, "
        "MAP {'k': 2} AS m, INTERVAL 3 DAY AS i, [1, 2]::INTEGER[2] AS a, '101'::BIT AS b, "
        "{'x': 1.5} AS s, 1 AS dup, 2 AS dup"
    )
    result = run_readonly_sql(con, sql)
    assert result.rows == tuple(con.execute(sql).fetchall())
    assert result.columns == ("h", "u", "m", "i", "a", "b", "s", "dup", "dup_1")


def test_query_text_is_capped_before_it_is_parsed(con):
    nested = "SELECT " + "(" * 15_000 + "1" + ")" * 15_000
    with pytest.raises(SqlError, match="at most 20,000") as info:
        run_readonly_sql(con, nested)
    assert_one_sentence(str(info.value))


def test_result_bytes_are_capped(con):
    sql = "SELECT repeat('x', 100000) AS wide FROM range(30)"
    assert run_readonly_sql(con, sql, max_result_bytes=4 * 2**20).n_rows_returned == 30
    with pytest.raises(SqlError, match="more than the 1 MiB a query may return") as info:
        run_readonly_sql(con, sql, max_result_bytes=2**20)
    assert_one_sentence(str(info.value))


def test_the_deadline_covers_copying_the_tables(tmp_path, monkeypatch):
    """A table too large to copy in time is stopped too; the session's connection still
    works, and the killed worker leaves no spill directory behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE data AS SELECT range AS id, range::VARCHAR AS s FROM range(5000000)")
    started = time.perf_counter()
    with pytest.raises(SqlError, match=r"longer than 0\.2 s"):
        run_readonly_sql(con, "SELECT count(*) FROM data", timeout_s=0.2)
    assert time.perf_counter() - started < 2.0
    assert con.execute("SELECT count(*) FROM data").fetchall() == [(5000000,)]
    assert list(tmp_path.iterdir()) == []


def test_the_worker_refuses_files_even_without_the_parse_check():
    """Second layer, tested alone: a request sent straight to the worker process, past every
    check in `run_readonly_sql`, still cannot read a file."""
    request = {
        "query": "SELECT * FROM read_text('/etc/passwd')",
        "limit": 10,
        "tables": [],
        "threads": 1,
        "memory_bytes": 256 * 2**20,
        "max_result_bytes": 2**20,
        "spill": tempfile.gettempdir(),
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER_COMMAND],
        input=json.dumps(request).encode() + b"\n",
        capture_output=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=30,
        check=True,
    )
    status = json.loads(done.stdout.partition(b"\n")[0])
    assert status["ok"] is False and status["error"].startswith("Permission Error")


def test_the_sql_box_shows_a_missing_value_blank_never_none_or_nan() -> None:
    import html

    from flow import widgets
    from steps.settings import Settings

    db = duckdb.connect()
    db.execute("CREATE TABLE t AS SELECT NULL::DOUBLE AS v, 'nan'::DOUBLE AS w, 'a' AS s")
    shown = html.unescape(widgets.sql_result(db, "SELECT * FROM t", Settings()).text)
    cells = json.loads(json.loads(shown.split("data-data='")[1].split("'")[0]))
    assert cells == [{"v": "", "w": "", "s": "a"}]
