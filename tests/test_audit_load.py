"""The trail under many writers and under violence: every acknowledged event is there once,
and the chain is one chain that verifies.

Each writer notes an event only after `append` returned (acknowledged), in a file of its
own, flushed at once, so what a killed writer acknowledged survives it.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest

from review.audit import AuditTrail
from review.storage import open_storage
from tests.rawdb import RawDb

FORK = multiprocessing.get_context("fork")


def writer(location: str, name: str, acks: str, seconds: float, barrier) -> None:
    """Append for `seconds` (forever when 0), noting each acknowledged event."""
    trail = AuditTrail(open_storage(location, application_name=f"signoff-{name}"))
    if barrier is not None:
        barrier.wait()
    stop = time.monotonic() + seconds if seconds else float("inf")
    with open(acks, "a", buffering=1) as out:
        i = 0
        while time.monotonic() < stop:
            event = trail.append("step", {"writer": name, "i": i}, analysis_id=name)
            out.write(f"{i} {event.id}\n")
            i += 1


def acknowledged(acks: Path) -> list[tuple[int, int]]:
    if not acks.exists():
        return []
    return [tuple(map(int, line.split())) for line in acks.read_text().splitlines() if line]


def stored(location: str) -> dict[tuple[str, int], int]:
    """(writer, i) -> id for every stored event; a duplicate would show as a lost key."""
    trail = AuditTrail(location)
    events = trail.events()
    found = {(e.payload["writer"], e.payload["i"]): e.id for e in events}
    assert len(found) == len(events), "an event was stored twice"
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    return found


def assert_one_chain(location: str) -> None:
    result = AuditTrail(location).verify()
    assert result.ok, result.reason
    with RawDb(location) as db:
        [(forks,)] = db.rows(
            "SELECT count(*) FROM (SELECT prev_sha256 FROM events GROUP BY prev_sha256 "
            "HAVING count(*) > 1) AS f"
        )
    assert forks == 0


def assert_acknowledged_are_stored(location: str, acks_by_writer: dict[str, Path]) -> int:
    events = stored(location)
    total = 0
    for name, acks in acks_by_writer.items():
        noted = acknowledged(acks)
        assert [i for i, _ in noted] == list(range(len(noted)))
        for i, event_id in noted:
            assert events[(name, i)] == event_id
        total += len(noted)
    return total


@pytest.mark.slow
def test_eight_processes_on_each_of_two_servers_for_20_s(
    db_location: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Server A and server B reach PostgreSQL by different roads (TCP, unix socket); on
    SQLite both are the same file."""
    if db_location.startswith("postgresql"):
        roads = {"a": db_location, "b": request.getfixturevalue("pg_target").socket_url}
    else:
        roads = {"a": db_location, "b": db_location}
    barrier = FORK.Barrier(16)
    acks = {f"{server}{n}": tmp_path / f"{server}{n}.acks" for server in roads for n in range(8)}
    workers = [
        FORK.Process(target=writer, args=(roads[name[0]], name, str(path), 20.0, barrier))
        for name, path in acks.items()
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * 16
    total = assert_acknowledged_are_stored(db_location, acks)
    assert total == len(stored(db_location)) > 16 * 20
    assert_one_chain(db_location)
    backend = "postgresql" if db_location.startswith("postgresql") else "sqlite"
    print(f"\n{backend}: {total} events from 16 processes in 20 s")


def wait_for_acks(acks: Path, at_least: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(acknowledged(acks)) < at_least:
        assert time.monotonic() < deadline, "the writer acknowledged too few events"
        time.sleep(0.02)


def test_a_writer_killed_mid_append_leaves_a_verifiable_chain(
    db_location: str, tmp_path: Path
) -> None:
    AuditTrail(db_location)
    rng = random.Random(17)
    acks = {}
    for round_ in range(3):
        name = f"k{round_}"
        acks[name] = tmp_path / f"{name}.acks"
        worker = FORK.Process(target=writer, args=(db_location, name, str(acks[name]), 0, None))
        worker.start()
        wait_for_acks(acks[name], 20)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=30)
        assert worker.exitcode == -signal.SIGKILL
        assert_one_chain(db_location)
    noted = assert_acknowledged_are_stored(db_location, acks)
    # At most the event being committed when the writer died is stored unacknowledged.
    assert noted <= len(stored(db_location)) <= noted + 3
    trail = AuditTrail(db_location)
    trail.append("export", {"after": "kills"})
    assert trail.verify().ok


@pytest.mark.slow
def test_the_database_server_crashing_mid_append_loses_no_acknowledged_event(
    pg_target, tmp_path: Path
) -> None:
    """PostgreSQL stopped the hard way (no checkpoint, sessions cut) while two writers
    append; they retry through the restart and carry on."""
    acks = {name: tmp_path / f"{name}.acks" for name in ("c0", "c1")}
    workers = [
        FORK.Process(target=writer, args=(pg_target.url, name, str(path), 0, None))
        for name, path in acks.items()
    ]
    for worker in workers:
        worker.start()
    for path in acks.values():
        wait_for_acks(path, 50)
    pg_target.cluster.stop("immediate")
    time.sleep(0.5)
    pg_target.cluster.start()
    for path in acks.values():
        wait_for_acks(path, len(acknowledged(path)) + 50)
    for worker in workers:
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=30)
    noted = assert_acknowledged_are_stored(pg_target.url, acks)
    assert noted <= len(stored(pg_target.url)) <= noted + 2
    assert_one_chain(pg_target.url)
