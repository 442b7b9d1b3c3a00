"""The storage layer: bad settings said in one sentence, a lost PostgreSQL connection retried
without losing or doubling an acknowledged event, schema versions, and files written before
versions existed."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from review.ai_cache import AICache
from review.audit import AuditTrail
from review.requests import open_requests, request_review
from review.storage import close_storage, mask_url, open_storage
from review.storage_postgres import PostgresConnection
from review.storage_schema import SCHEMA_VERSION
from steps.errors import StorageError, StorageUnavailable
from tests.pgcluster import free_port
from tests.rawdb import RawDb


def one_sentence(text: str) -> bool:
    return "\n" not in text and text.endswith(".") and text[0].isupper()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://ana:s3cret@db:5432/signoff", "postgresql://ana:***@db:5432/signoff"),
        ("postgres://ana:p%40ss@db/signoff", "postgres://ana:***@db/signoff"),
        ("postgresql://ana@db/signoff", "postgresql://ana@db/signoff"),
        (
            "postgresql://db/x?user=a&password=pw&sslmode=require",
            "postgresql://db/x?user=a&password=***&sslmode=require",
        ),
        ("postgresql://db/x?password=pw", "postgresql://db/x?password=***"),
        ("signoff.db", "signoff.db"),
    ],
)
def test_passwords_are_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_an_unreachable_server_is_one_sentence_with_the_password_masked() -> None:
    url = f"postgresql://ana:hunter2hunter2@127.0.0.1:{free_port()}/signoff"
    with pytest.raises(StorageError) as refused:
        AuditTrail(url)
    message = str(refused.value)
    assert one_sentence(message)
    assert "hunter2" not in message and "ana:***@127.0.0.1" in message
    assert "cannot be reached (Connection refused)" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@127.0.0.1:notaport/db", "not a usable PostgreSQL URL"),
        ("mysql://u:pw@127.0.0.1/db", "neither a file path nor a postgresql:// URL"),
    ],
)
def test_a_wrong_url_is_one_sentence(url: str, expected: str) -> None:
    with pytest.raises(StorageError, match=expected) as refused:
        open_storage(url)
    assert one_sentence(str(refused.value)) and "pw" not in str(refused.value)


def test_a_url_mangled_into_a_path_is_refused_not_made_a_file(tmp_path: Path) -> None:
    mangled = Path("postgresql://ana:pw123456@db/signoff")  # Path() folds the // into one
    with pytest.raises(StorageError, match="lost a slash") as refused:
        open_storage(mangled)
    assert one_sentence(str(refused.value)) and "pw123456" not in str(refused.value)
    assert not Path("postgresql:").exists()


def test_a_missing_database_is_named(pg_cluster) -> None:
    url = pg_cluster.url("nosuchdb").replace("signoff@", "signoff:pw12345678@")
    with pytest.raises(StorageError) as refused:
        open_storage(url)
    message = str(refused.value)
    assert one_sentence(message) and "pw12345678" not in message
    assert 'database "nosuchdb" does not exist' in message


def test_verify_never_creates_a_database_file(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="There is no review database at"):
        AuditTrail(tmp_path / "absent.db", read_only=True)
    assert not (tmp_path / "absent.db").exists()


VERSIONS = [(version,) for version in range(1, SCHEMA_VERSION + 1)]


def test_the_schema_is_versioned_and_a_newer_one_is_refused(db_location: str) -> None:
    AuditTrail(db_location)
    AuditTrail(db_location)  # a second start migrates nothing
    with RawDb(db_location) as db:
        assert db.rows("SELECT version FROM schema_migrations ORDER BY version") == VERSIONS
        db.execute(f"INSERT INTO schema_migrations VALUES ({SCHEMA_VERSION + 1}, 'later')")
    close_storage(db_location)
    with pytest.raises(StorageError, match="written by a newer signoff"):
        AuditTrail(db_location)


def migrate_from_process(url: str, barrier) -> None:
    barrier.wait()
    AuditTrail(url).append("load", {"n": 1})


def test_servers_starting_together_migrate_once(pg_target) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(3)
    workers = [
        context.Process(target=migrate_from_process, args=(url, barrier))
        for url in (pg_target.url, pg_target.socket_url, pg_target.url)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    with RawDb(pg_target.url) as db:
        assert db.rows("SELECT version FROM schema_migrations ORDER BY version") == VERSIONS
    assert AuditTrail(pg_target.url).verify().n_events == 3


# A review file as signoff wrote it before schema versions (review/audit.py, requests.py,
# analyses.py and ai/cache.py of that time).
_LEGACY_SCHEMA = """
CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
    analysis_id TEXT, actor TEXT, payload TEXT NOT NULL, prev_sha256 TEXT NOT NULL,
    sha256 TEXT NOT NULL);
CREATE TABLE chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), last_id INTEGER NOT NULL,
    sha256 TEXT NOT NULL);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON chain_head
    BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END;
CREATE INDEX events_analysis_kind ON events (analysis_id, kind);
CREATE TABLE analyses (id TEXT PRIMARY KEY, source_sha256 TEXT NOT NULL,
    source_name TEXT NOT NULL, created_at TEXT NOT NULL, parameters TEXT NOT NULL);
CREATE TABLE [ai_cache] ([prompt_sha256] TEXT, [advisor] TEXT, [model] TEXT, [response] TEXT,
    [created_at] TEXT, PRIMARY KEY ([prompt_sha256], [advisor], [model]));
"""


def legacy_file(path: Path, n_events: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(_LEGACY_SCHEMA)
    prev = "0" * 64
    for id_ in range(1, n_events + 1):
        document = [prev, id_, f"2025-01-01T00:00:0{id_}+00:00", "load", "an1", "ana", {"n": id_}]
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        sha = hashlib.sha256(text.encode()).hexdigest()
        conn.execute(
            "INSERT INTO events VALUES (?, ?, 'load', 'an1', 'ana', ?, ?, ?)",
            [id_, document[2], json.dumps({"n": id_}), prev, sha],
        )
        prev = sha
    conn.execute("INSERT INTO chain_head VALUES (1, ?, ?)", [n_events, prev])
    conn.execute(
        "INSERT INTO analyses VALUES ('an1', ?, 'old.csv', '2025-01-01', '{}')", ["a" * 64]
    )
    conn.execute("INSERT INTO ai_cache VALUES ('p', 'gemini', 'm', '{\"ok\": 1}', 'then')")
    conn.close()


def test_a_file_from_before_schema_versions_is_adopted_as_it_stands(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    legacy_file(path, 3)
    assert AuditTrail(path, read_only=True).verify().ok  # the verify command, before migrating
    trail = AuditTrail(path)
    assert trail.verify().ok and trail.verify().n_events == 3
    trail.append("export", {"format": "csv"}, analysis_id="an1")
    assert [e.scheme for e in trail.events()] == ["sha256"] * 4
    assert trail.verify().ok
    assert (
        request_review(
            trail, analysis_id="an1", gate="data_quality", subject_sha256="b" * 64
        ).source_name
        == "old.csv"
    )
    assert AICache(path).get("p", "gemini", "m") == {"ok": 1}
    with RawDb(str(path)) as db:
        assert db.rows("SELECT max(version) FROM schema_migrations") == [(SCHEMA_VERSION,)]


def test_reads_inside_a_write_transaction_use_its_connection(pg_target) -> None:
    """With a pool of one, a nested read on a second connection would wait forever."""
    storage = open_storage(pg_target.url, pool_size=1, connect_timeout_s=2)
    trail = AuditTrail(storage)
    with trail.connect() as db, trail.write_transaction(db):
        event = trail.append_in(db, "load", {"n": 1})
        assert trail.events() == [event]  # the uncommitted event, on the same connection
        assert trail.append("load", {"n": 2}).id == 2  # joins the open transaction
    assert trail.verify().ok and trail.verify().n_events == 2


def test_two_roads_to_one_database_share_one_queue(pg_target) -> None:
    """Server A (TCP) files a request; server B (unix socket) sees it and decides it."""
    from review.analyses import register_analysis
    from review.decisions import decide

    server_a, server_b = AuditTrail(pg_target.url), AuditTrail(pg_target.socket_url)
    register_analysis(server_a, analysis_id="an1", source_sha256="a" * 64, source_name="f.csv")
    made = request_review(server_a, analysis_id="an1", gate="data_quality", subject_sha256="b" * 64)
    assert [r.id for r in open_requests(server_b)] == [made.id]
    decide(
        server_b,
        analysis_id="an1",
        gate="data_quality",
        subject_sha256="b" * 64,
        verdict="approve",
        reviewer="Bo",
    )
    assert open_requests(server_a) == []
    assert server_a.verify().ok and server_a.head() == server_b.head()


def terminate(cluster, application_name: str) -> int:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        ).fetchall()
    return len(rows)


def test_connections_cut_mid_session_are_replaced_without_losing_events(pg_target) -> None:
    storage = open_storage(pg_target.url, application_name="signoff-cut", retry_wait_s=0.1)
    trail = AuditTrail(storage)
    acknowledged = [trail.append("load", {"n": n}).id for n in range(3)]
    assert terminate(pg_target.cluster, "signoff-cut") >= 1
    acknowledged += [trail.append("load", {"n": n}).id for n in range(3, 6)]
    assert [e.id for e in trail.events()] == acknowledged == [1, 2, 3, 4, 5, 6]
    assert trail.verify().ok


def test_a_commit_whose_answer_is_lost_is_neither_lost_nor_doubled(
    pg_target, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = AuditTrail(open_storage(pg_target.url, retry_wait_s=0.01))
    trail.append("load", {"n": 0})
    real_commit, cut = PostgresConnection.commit, []

    def commit_then_lose_the_answer(self) -> None:
        real_commit(self)
        if not cut:
            cut.append(True)
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(PostgresConnection, "commit", commit_then_lose_the_answer)
    event = trail.append("decision", {"gate": "data_quality"})
    assert cut and event.id == 2
    assert [e.id for e in trail.events()] == [1, 2]
    assert trail.append("export", {}).id == 3 and trail.verify().ok


def test_a_server_that_stays_down_is_said_once_then_recovered_from(pg_target) -> None:
    url = pg_target.url.replace("signoff@", "signoff:hunter2hunter2@")
    trail = AuditTrail(open_storage(url, retries=2, retry_wait_s=0.1, connect_timeout_s=1))
    trail.append("load", {"n": 1})
    pg_target.cluster.stop("immediate")
    try:
        with pytest.raises(StorageUnavailable) as down:
            trail.append("decision", {"gate": "data_quality"})
    finally:
        pg_target.cluster.start()
    message = str(down.value)
    assert one_sentence(message) and "hunter2" not in message
    assert (
        "stopped answering" in message and "2 attempts failed, so nothing was recorded" in message
    )
    # The pool reconnects on its own schedule (backing off while the server was away), so
    # the person's next try may be refused once more before it goes through.
    deadline = time.monotonic() + 30
    while True:
        try:
            recovered = trail.append("export", {})
            break
        except StorageUnavailable:
            assert time.monotonic() < deadline, "the pool never came back"
    assert recovered.id == 2  # the refused decision was never recorded
    assert trail.verify().ok and trail.verify().n_events == 2


def test_an_app_role_can_append_but_not_rewrite_or_unguard_the_trail(pg_target) -> None:
    """The deployment's split: the owner migrates, the app servers' role only appends."""
    from review.__main__ import main
    from review.analyses import register_analysis, update_parameters

    role = f"app_{pg_target.schema}"
    with psycopg.connect(pg_target.cluster.url(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
    assert main(["migrate", pg_target.url, "--app-role", role]) == 0
    app_url = pg_target.url.replace("signoff@", f"{role}@")
    trail = AuditTrail(app_url, key=b"k" * 32)
    register_analysis(trail, analysis_id="an1", source_sha256="a" * 64, source_name="f.csv")
    update_parameters(trail, "an1", {"threshold": 0.5})
    request_review(trail, analysis_id="an1", gate="data_quality", subject_sha256="b" * 64)
    AICache(app_url).put("p", "gemini", "m", {"ok": 1})
    AICache(app_url).put("p", "gemini", "m", {"ok": 2})
    assert AICache(app_url).get("p", "gemini", "m") == {"ok": 2}
    assert trail.verify().ok and trail.verify().n_events == 2
    with RawDb(app_url) as db:
        for statement in (
            "UPDATE events SET actor = 'mallory'",
            "DELETE FROM events",
            "TRUNCATE events",
            "DELETE FROM chain_head",
            "ALTER TABLE events DISABLE TRIGGER USER",
            "DROP TRIGGER events_no_update ON events",
            "DROP TABLE events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(statement)
    assert trail.verify().ok


def test_roles_are_refused_on_sqlite_and_odd_names_everywhere(tmp_path: Path, pg_target) -> None:
    from review.storage_schema import grant_app_role

    with pytest.raises(StorageError, match="only on PostgreSQL"):
        grant_app_role(open_storage(tmp_path / "x.db"), "app")
    with pytest.raises(StorageError, match="not a plain PostgreSQL role name"):
        grant_app_role(open_storage(pg_target.url), "app; DROP TABLE events")


def test_an_app_role_behind_the_schema_is_told_to_migrate_as_the_owner(pg_target) -> None:
    role = f"late_{pg_target.schema}"
    with psycopg.connect(pg_target.cluster.url(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT USAGE ON SCHEMA {pg_target.schema} TO {role}")
    with pytest.raises(StorageError) as refused:
        open_storage(pg_target.url.replace("signoff@", f"{role}@"))
    assert one_sentence(str(refused.value))
    assert "run `python -m review migrate` as the role that owns the tables" in str(refused.value)


def test_the_ai_cache_works_the_same_on_both_backends(db_location: str) -> None:
    cache = AICache(db_location)
    assert cache.get("p" * 64, "gemini", "flash") is None
    cache.put("p" * 64, "gemini", "flash", {"findings": [1]})
    cache.put("p" * 64, "gemini", "pro", {"findings": [2]})
    again = AICache(db_location)  # another session, another server
    assert again.get("p" * 64, "gemini", "flash") == {"findings": [1]}
    again.put("p" * 64, "gemini", "flash", {"findings": [3]})
    assert cache.get("p" * 64, "gemini", "flash") == {"findings": [3]}
    assert cache.get("p" * 64, "gemini", "pro") == {"findings": [2]}
    assert cache.get("p" * 64, "ollama", "flash") is None


def test_a_query_that_must_return_a_row_says_so_when_it_returns_none(db_location: str) -> None:
    storage = open_storage(db_location)
    count = storage.read(lambda db: db.single("SELECT count(*) AS n FROM events"))
    assert count == {"n": 0}
    with pytest.raises(StorageError, match="returned no row"):
        storage.read(lambda db: db.single("SELECT id FROM events WHERE id = ?", [-1]))
