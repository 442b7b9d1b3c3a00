"""The audit trail on both backends (a real SQLite file, a real PostgreSQL schema), tampered
with through a raw connection.

The chain is re-derived here with hashlib and json directly (not with the module's own
hashing helper), so a mistake in the module's hashing would not hide itself.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from review.audit import GENESIS_SHA256, AuditError, AuditTrail
from steps.settings import Settings
from tests.rawdb import RawDb, tamper


def independent_chain_ok(location: str) -> bool:
    """Recompute every link from the stored columns, the way an outside auditor would."""
    with RawDb(location) as db:
        rows = db.rows(
            "SELECT id, at, kind, analysis_id, actor, payload, prev_sha256, sha256 FROM events "
            "ORDER BY id"
        )
    prev = "0" * 64
    for expected_id, (id_, at, kind, analysis_id, actor, payload, stored_prev, sha) in enumerate(
        rows, start=1
    ):
        document = [prev, id_, at, kind, analysis_id, actor, json.loads(payload)]
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if id_ != expected_id or stored_prev != prev:
            return False
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != sha:
            return False
        prev = sha
    return True


@pytest.fixture
def trail(db_location: str) -> AuditTrail:
    return AuditTrail(db_location)


def fill(trail: AuditTrail, n: int) -> None:
    for i in range(n):
        trail.append("step", {"step": "overview", "i": i}, analysis_id="a1", actor="ana")


def test_chain_is_valid_after_many_appends(trail: AuditTrail) -> None:
    fill(trail, 250)
    result = trail.verify()
    assert (result.ok, result.n_events, result.first_broken_id) == (True, 250, None)
    assert independent_chain_ok(trail.location)
    events = trail.events()
    assert [e.id for e in events] == list(range(1, 251))
    assert events[0].prev_sha256 == GENESIS_SHA256
    assert all(b.prev_sha256 == a.sha256 for a, b in itertools.pairwise(events))
    assert trail.head() == events[-1].sha256


def test_empty_trail_verifies_and_has_no_head(trail: AuditTrail) -> None:
    assert trail.head() is None
    assert trail.verify().ok
    assert trail.verify().n_events == 0


def test_wal_mode_is_on(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "signoff.db")
    conn = sqlite3.connect(trail.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_database_refuses_updates_and_deletes(trail: AuditTrail) -> None:
    fill(trail, 3)
    with RawDb(trail.location) as db:
        for statement in (
            "UPDATE events SET actor = 'mallory' WHERE id = 2",
            "DELETE FROM events WHERE id = 3",
        ):
            with pytest.raises(db.integrity_error, match="append-only"):
                db.execute(statement)
        with pytest.raises(db.integrity_error, match="cannot be deleted"):
            db.execute("DELETE FROM chain_head")
        if db.postgres:
            with pytest.raises(db.integrity_error, match="append-only"):
                db.execute("TRUNCATE events")
    assert trail.verify().ok


def test_edited_payload_is_named(trail: AuditTrail) -> None:
    fill(trail, 10)
    tamper(
        trail.location, """UPDATE events SET payload = '{"i":99,"step":"overview"}' WHERE id = 4"""
    )
    result = trail.verify()
    assert not result.ok
    assert result.first_broken_id == 4
    assert "4" in result.reason and result.reason.endswith(".")
    assert not independent_chain_ok(trail.location)


@pytest.mark.parametrize("column", ["actor", "kind", "analysis_id", "at"])
def test_edited_field_is_named(trail: AuditTrail, column: str) -> None:
    fill(trail, 6)
    tamper(trail.location, f"UPDATE events SET {column} = 'x' WHERE id = 2")
    assert trail.verify().first_broken_id == 2


def test_edit_with_recomputed_hash_breaks_the_next_link(trail: AuditTrail) -> None:
    fill(trail, 6)
    with RawDb(trail.location) as db:
        [(id_, at, kind, analysis_id, actor, prev)] = db.rows(
            "SELECT id, at, kind, analysis_id, actor, prev_sha256 FROM events WHERE id = 3"
        )
    forged_payload = {"i": 1000, "step": "overview"}
    document = [prev, id_, at, kind, analysis_id, actor, forged_payload]
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    forged_sha = hashlib.sha256(text.encode()).hexdigest()
    tamper(
        trail.location,
        f"UPDATE events SET payload = '{json.dumps(forged_payload, separators=(',', ':'))}', "
        f"sha256 = '{forged_sha}' WHERE id = 3",
    )
    result = trail.verify()
    assert (result.ok, result.first_broken_id) == (False, 4)


def test_deleted_row_is_named(trail: AuditTrail) -> None:
    fill(trail, 10)
    tamper(trail.location, "DELETE FROM events WHERE id = 5")
    result = trail.verify()
    assert (result.ok, result.first_broken_id) == (False, 5)
    assert "missing" in result.reason


def test_deleted_row_with_renumbered_ids_is_named(trail: AuditTrail) -> None:
    fill(trail, 8)
    tamper(
        trail.location,
        "DELETE FROM events WHERE id = 5",
        *(f"UPDATE events SET id = {i - 1} WHERE id = {i}" for i in (6, 7, 8)),
        "UPDATE chain_head SET last_id = 7",
    )
    assert trail.verify().first_broken_id == 5


def test_deleted_last_row_is_caught_by_the_chain_head(trail: AuditTrail) -> None:
    """The chain alone cannot see a truncated end; the head table written with every append can."""
    fill(trail, 7)
    tamper(trail.location, "DELETE FROM events WHERE id = 7")
    assert independent_chain_ok(trail.location)  # the shortened chain is consistent in itself
    result = trail.verify()
    assert (result.ok, result.first_broken_id) == (False, 7)
    assert "chain head" in result.reason


def test_append_after_a_deleted_last_row_keeps_the_gap_visible(trail: AuditTrail) -> None:
    fill(trail, 4)
    tamper(trail.location, "DELETE FROM events WHERE id = 4")
    trail.append("export", {"format": "json"})
    assert trail.verify().first_broken_id == 4


def test_row_added_behind_the_trails_back_is_named(trail: AuditTrail) -> None:
    fill(trail, 3)
    last = trail.events()[-1]
    with RawDb(trail.location) as db:
        db.execute(
            "INSERT INTO events (id, at, kind, analysis_id, actor, payload, prev_sha256, sha256) "
            "VALUES (4, ?, 'decision', 'a1', 'mallory', '{}', ?, ?)",
            params=[last.at, last.sha256, "f" * 64],
        )
    assert trail.verify().first_broken_id == 4


def test_reordered_rows_are_named(trail: AuditTrail) -> None:
    fill(trail, 6)
    tamper(
        trail.location,
        "UPDATE events SET id = -3 WHERE id = 3",
        "UPDATE events SET id = 3 WHERE id = 4",
        "UPDATE events SET id = 4 WHERE id = -3",
    )
    result = trail.verify()
    assert (result.ok, result.first_broken_id) == (False, 3)


def test_deleted_chain_head_is_reported_and_stops_appends(trail: AuditTrail) -> None:
    fill(trail, 3)
    tamper(trail.location, "DELETE FROM chain_head")
    result = trail.verify()
    assert (result.ok, result.first_broken_id) == (False, 4)
    assert "chain head" in result.reason
    with pytest.raises(AuditError, match="lost its chain head"):
        trail.append("load", {})
    # Reopening the file must not quietly plant a fresh head over the existing events.
    assert not AuditTrail(trail.location).verify().ok


def test_events_filters_and_limit(trail: AuditTrail) -> None:
    trail.append("load", {"sha256": "a" * 64, "rows": 10}, analysis_id="a1", actor="ana")
    trail.append("decision", {"gate": "data_quality", "verdict": "approve"}, analysis_id="a1")
    trail.append("decision", {"gate": "model_approval", "verdict": "reject"}, analysis_id="a2")
    trail.append("request", {"gate": "data_quality"}, analysis_id="a2", actor="bob")
    assert [e.id for e in trail.events(analysis_id="a2")] == [3, 4]
    assert [e.id for e in trail.events(kind="decision")] == [2, 3]
    assert [e.id for e in trail.events(gate="data_quality")] == [2, 4]
    assert [e.id for e in trail.events(actor="bob")] == [4]
    assert [e.id for e in trail.events(limit=2)] == [3, 4]
    assert trail.events(analysis_id="nobody") == []


def test_jsonl_lines_are_the_events(trail: AuditTrail) -> None:
    fill(trail, 3)
    trail.append("export", {"format": "html", "sha256": "b" * 64}, analysis_id="a2")
    lines = trail.to_jsonl(analysis_id="a1").splitlines()
    assert [json.loads(line) for line in lines] == [
        e.to_dict() for e in trail.events(analysis_id="a1")
    ]
    assert len(lines) == 3


def test_payload_is_stored_json_safe(trail: AuditTrail) -> None:
    event = trail.append("step", {"mean": math.nan, "n": 3, "values": (1.5, math.inf)})
    assert event.payload == {"mean": None, "n": 3, "values": [1.5, None]}
    assert trail.events()[0].payload == event.payload
    assert trail.verify().ok


@pytest.mark.parametrize(
    "payload", [{"api_key": "x"}, {"config": {"Password": "x"}}, {"a": [{"token": 1}]}]
)
def test_secrets_are_refused(trail: AuditTrail, payload: dict) -> None:
    with pytest.raises(AuditError, match="never carry secrets"):
        trail.append("ai_call", payload)
    assert trail.events() == []


def test_unknown_kind_is_refused(trail: AuditTrail) -> None:
    with pytest.raises(AuditError, match="Unknown audit event kind"):
        trail.append("delete_everything", {})


def test_reopening_the_file_keeps_the_chain(db_location: str) -> None:
    first = AuditTrail(db_location)
    fill(first, 3)
    second = AuditTrail(db_location)
    second.append("export", {"format": "csv"})
    assert second.verify().ok and second.verify().n_events == 4
    assert first.head() == second.head()


def test_the_trail_file_comes_from_the_settings(tmp_path: Path) -> None:
    """Read once at start-up (`SIGNOFF_DB`, else `signoff.db` in the working directory)."""
    assert Settings.from_env({}).db == "signoff.db"
    settings = Settings.from_env({"SIGNOFF_DB": str(tmp_path / "team" / "x.db")})
    trail = AuditTrail(settings.db)
    trail.append("load", {"rows": 1})
    assert trail.path == tmp_path / "team" / "x.db" and trail.path.is_file()
    assert trail.verify().ok


def test_threads_sharing_one_trail_lose_nothing(trail: AuditTrail) -> None:
    def worker(n: int) -> None:
        for i in range(40):
            trail.append("step", {"thread": n, "i": i}, analysis_id=f"t{n}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_all_present(trail, writers=6, per_writer=40, key="thread")


def test_threads_with_their_own_trails_lose_nothing(db_location: str) -> None:
    path = db_location
    AuditTrail(path)

    def worker(n: int) -> None:
        own = AuditTrail(path)
        for i in range(30):
            own.append("step", {"thread": n, "i": i})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_all_present(AuditTrail(path), writers=4, per_writer=30, key="thread")


def append_from_process(path: str, writer: int, count: int, barrier, spans) -> None:
    trail = AuditTrail(path)
    barrier.wait()
    started = time.monotonic()
    for i in range(count):
        trail.append("step", {"process": writer, "i": i}, analysis_id=f"p{writer}")
    spans.put((started, time.monotonic()))


def test_two_processes_appending_at_once_lose_nothing(db_location: str) -> None:
    path = db_location
    context = multiprocessing.get_context("fork")
    barrier, spans = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=append_from_process, args=(str(path), n, 200, barrier, spans))
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    intervals = [spans.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    # Both were appending at the same time (who holds the lock when is up to the database).
    assert max(start for start, _ in intervals) < min(end for _, end in intervals)
    assert_all_present(AuditTrail(path), writers=2, per_writer=200, key="process")


def assert_all_present(trail: AuditTrail, *, writers: int, per_writer: int, key: str) -> None:
    events = trail.events()
    assert len(events) == writers * per_writer
    seen = sorted((e.payload[key], e.payload["i"]) for e in events)
    assert seen == [(w, i) for w in range(writers) for i in range(per_writer)]
    for writer in range(writers):
        own = [e.payload["i"] for e in events if e.payload[key] == writer]
        assert own == list(range(per_writer))
    assert trail.verify().ok
    assert independent_chain_ok(trail.location)
