"""Read-only custom SQL: what runs, what is refused, and that the data survives every attempt."""

from __future__ import annotations

import hashlib
import json
import math
import statistics

import duckdb
import pytest

from steps.engine import connect, lock_down
from steps.sql import SqlError, SqlResult, _sandbox, run_readonly_sql

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


def test_frame_and_to_dict_are_json_safe(con):
    result = run_readonly_sql(
        con, "SELECT 'nan'::DOUBLE AS v, 1.25::DECIMAL(5,2) AS d, grp FROM data"
    )
    frame = result.frame()
    assert list(frame.columns) == ["v", "d", "grp"]
    assert len(frame) == N_ROWS
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
    with _sandbox() as sandbox:
        for sql in ("SELECT * FROM read_text('/etc/passwd')", "SELECT * FROM glob('/*')"):
            with pytest.raises(duckdb.PermissionException):
                sandbox.execute(sql).fetchall()


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


def test_caller_state_and_settings_are_respected():
    """A result the caller has not fetched is left alone; the sandbox inherits the limits."""
    con = connect(memory_limit="256MB", threads=1)
    con.execute("CREATE TABLE data AS SELECT range AS id FROM range(10)")
    pending = con.execute("SELECT id FROM data ORDER BY id")
    assert run_readonly_sql(con, "SELECT count(*) FROM data").rows == ((10,),)
    assert pending.fetchall() == [(i,) for i in range(10)]
    query = "SELECT current_setting(?)"
    with _sandbox(like=con) as sandbox:
        assert sandbox.execute(query, ["threads"]).fetchall() == [(1,)]
        ((limit,),) = sandbox.execute(query, ["memory_limit"]).fetchall()
    number, unit = limit.split()
    assert unit == "MiB" and abs(float(number) - 256e6 / 2**20) < 0.5  # shown rounded to 0.1
