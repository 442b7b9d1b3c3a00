"""Append-only, hash-chained audit trail in one SQLite file.

Why a chain: an approval is only worth something if nobody can quietly edit or remove it
afterwards. Each event row stores the SHA-256 of the row before it, and its own SHA-256
covers (previous hash, id, at, kind, analysis_id, actor, canonical JSON payload). Editing,
deleting or reordering rows breaks the chain, and `verify()` names the first broken row.

Why a separate head: deleting the *last* rows leaves a shorter chain that is still valid in
itself. The `chain_head` table is updated in the same transaction as every append and names
the last id and hash; a chain that ends before (or after) the head is reported as broken.
Someone with write access to the file can still rewrite both the chain and the head: the
trail is tamper-*evident* against edits that do not rewrite everything after them. The
report carries the head hash (`head()`), so a copy kept elsewhere pins the history.

Concurrency: `marimo run` serves every viewer from threads of one process, and a team may
run several processes on one file. Every operation opens its own connection (so one
`AuditTrail` can be shared by threads), and an append reads the head and inserts inside one
`BEGIN IMMEDIATE` transaction with a busy timeout, so concurrent appends queue up instead of
forking the chain or losing an event. The file is in WAL mode, so readers never block the
writer.

What callers must not put in a payload: API keys or other secrets, and raw data rows. The
trail is meant to be exported and shown to reviewers; record digests (SHA-256), counts,
parameter values, model names, prompt hashes. Payload keys that name a secret are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from steps.errors import AuditError
from steps.results import ToDict, json_safe
from steps.text import canonical_json

GENESIS_SHA256 = "0" * 64
EVENT_KINDS = ("load", "step", "decision", "parameter", "ai_call", "export", "request", "stale")
BUSY_TIMEOUT_S = 30.0
SECRET_KEY_NAMES = frozenset(
    {"api_key", "apikey", "gemini_api_key", "google_api_key", "password", "secret", "token"}
)

_CREATE_EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    analysis_id TEXT,
    actor TEXT,
    payload TEXT NOT NULL,
    prev_sha256 TEXT NOT NULL,
    sha256 TEXT NOT NULL
)"""
_CREATE_HEAD = """
CREATE TABLE IF NOT EXISTS chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id INTEGER NOT NULL,
    sha256 TEXT NOT NULL
)"""
# Append-only is enforced by the database too, so a bug elsewhere cannot rewrite history;
# someone with the file can drop these triggers, which is what `verify()` is for.
_CREATE_GUARDS = (
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS chain_head_no_delete BEFORE DELETE ON chain_head
       BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END""",
    "CREATE INDEX IF NOT EXISTS events_analysis_kind ON events (analysis_id, kind)",
)


def utc_now_iso() -> str:
    """UTC timestamps with microseconds, so events written in one second still sort."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def event_sha256(
    *,
    prev_sha256: str,
    id: int,
    at: str,
    kind: str,
    analysis_id: str | None,
    actor: str | None,
    payload: Mapping[str, Any],
) -> str:
    """The hash that links an event into the chain: it covers every stored field."""
    document = [prev_sha256, id, at, kind, analysis_id, actor, json_safe(payload)]
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Event(ToDict):
    """One row of the trail, as stored."""

    id: int
    at: str
    kind: str
    analysis_id: str | None
    actor: str | None
    payload: dict[str, Any]
    prev_sha256: str
    sha256: str


@dataclass(frozen=True)
class Verification(ToDict):
    """The outcome of walking the whole chain; `reason` is one sentence for a person."""

    ok: bool
    n_events: int
    first_broken_id: int | None
    reason: str


def _event_from_row(row: Mapping[str, Any]) -> Event:
    return Event(
        id=row["id"],
        at=row["at"],
        kind=row["kind"],
        analysis_id=row["analysis_id"],
        actor=row["actor"],
        payload=json.loads(row["payload"]),
        prev_sha256=row["prev_sha256"],
        sha256=row["sha256"],
    )


def _secret_key_in(value: Any) -> str | None:
    """The first payload key (at any depth) that names a secret, if any."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).lower() in SECRET_KEY_NAMES:
                return str(key)
            found = _secret_key_in(item)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for item in value:
            found = _secret_key_in(item)
            if found is not None:
                return found
    return None


def _checked_payload(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    if kind not in EVENT_KINDS:
        raise AuditError(f"Unknown audit event kind {kind!r}: use one of {', '.join(EVENT_KINDS)}.")
    if not isinstance(payload, Mapping):
        raise AuditError("An audit event payload must be a mapping of names to values.")
    secret = _secret_key_in(payload)
    if secret is not None:
        raise AuditError(f"Audit payloads never carry secrets: remove the {secret!r} entry.")
    return json.loads(canonical_json(payload))


def trail_of(target: AuditTrail | Path | str) -> AuditTrail:
    """Accept a trail or the path of its SQLite file (each session may hold either)."""
    return target if isinstance(target, AuditTrail) else AuditTrail(target)


class AuditTrail:
    """The events of every analysis in one SQLite file, chained by SHA-256."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.enable_wal()
            with self.write_transaction(db):
                for statement in (_CREATE_EVENTS, _CREATE_HEAD, *_CREATE_GUARDS):
                    db.execute(statement)
                # Only a brand-new trail gets a genesis head: recreating a missing head over
                # existing events would hide a deletion.
                db.execute(
                    "INSERT OR IGNORE INTO chain_head (id, last_id, sha256) "
                    "SELECT 1, 0, ? WHERE NOT EXISTS (SELECT 1 FROM events)",
                    [GENESIS_SHA256],
                )

    def __repr__(self) -> str:
        return f"AuditTrail({str(self.path)!r})"

    @contextlib.contextmanager
    def connect(self) -> Iterator[Database]:
        """A fresh connection per operation: safe to share one trail between threads."""
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            yield Database(conn, execute_plugins=False)
        finally:
            conn.close()

    @staticmethod
    @contextlib.contextmanager
    def write_transaction(db: Database) -> Iterator[Database]:
        """`BEGIN IMMEDIATE`: take the write lock before reading, so read-then-write is atomic.

        Other `review` modules use it to change their own table and append the matching event
        in one transaction.
        """
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def append(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        analysis_id: str | None = None,
        actor: str | None = None,
    ) -> Event:
        """Add one event at the end of the chain and return it as stored."""
        with self.connect() as db, self.write_transaction(db):
            return self.append_in(db, kind, payload, analysis_id=analysis_id, actor=actor)

    def append_in(
        self,
        db: Database,
        kind: str,
        payload: Mapping[str, Any],
        *,
        analysis_id: str | None = None,
        actor: str | None = None,
    ) -> Event:
        """Append inside a write transaction the caller already holds (see `write_transaction`)."""
        if not db.conn.in_transaction:
            raise AuditError("Appending to the audit trail needs an open write transaction.")
        clean = _checked_payload(kind, payload)
        head = db.execute("SELECT last_id, sha256 FROM chain_head WHERE id = 1").fetchone()
        if head is None:
            raise AuditError("The audit trail has lost its chain head; run verify() to see why.")
        last_id, prev = head
        fields = {
            "id": last_id + 1,
            "at": utc_now_iso(),
            "kind": kind,
            "analysis_id": analysis_id,
            "actor": actor,
        }
        sha = event_sha256(prev_sha256=prev, payload=clean, **fields)
        db.execute(
            "INSERT INTO events (id, at, kind, analysis_id, actor, payload, prev_sha256, sha256) "
            "VALUES (:id, :at, :kind, :analysis_id, :actor, :payload, :prev, :sha)",
            {**fields, "payload": canonical_json(clean), "prev": prev, "sha": sha},
        )
        db.execute(
            "UPDATE chain_head SET last_id = ?, sha256 = ? WHERE id = 1", [fields["id"], sha]
        )
        return Event(payload=clean, prev_sha256=prev, sha256=sha, **fields)

    def events(
        self,
        *,
        analysis_id: str | None = None,
        kind: str | None = None,
        gate: str | None = None,
        actor: str | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Matching events oldest first; `limit` keeps the newest `limit` of them."""
        where, params = [], []
        for column, value in (("analysis_id", analysis_id), ("kind", kind), ("actor", actor)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if gate is not None:
            where.append("json_extract(payload, '$.gate') = ?")
            params.append(gate)
        sql = "SELECT * FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self.connect() as db:
            rows = list(db.query(sql, params))
        return [_event_from_row(row) for row in reversed(rows)]

    def head(self) -> str | None:
        """Hash of the last event (None for an empty trail): pins the history in a report."""
        with self.connect() as db:
            row = db.execute("SELECT last_id, sha256 FROM chain_head WHERE id = 1").fetchone()
        if row is None or row[0] == 0:
            return None
        return row[1]

    def verify(self) -> Verification:
        """Walk every row in id order and recompute each link; stop at the first broken one."""
        with self.connect() as db:
            head = db.execute("SELECT last_id, sha256 FROM chain_head WHERE id = 1").fetchone()
            rows = db.query("SELECT * FROM events ORDER BY id")
            broken = _first_break(rows, head)
            n_events = db.execute("SELECT count(*) FROM events").fetchone()[0]
        if broken is None:
            return Verification(True, n_events, None, f"All {n_events} events chain correctly.")
        return Verification(False, n_events, broken[0], broken[1])

    def to_jsonl(self, **filters: Any) -> str:
        """Matching events as JSON Lines (one event per line), for download or a bundle."""
        return "".join(canonical_json(event.to_dict()) + "\n" for event in self.events(**filters))


def _first_break(
    rows: Iterator[Mapping[str, Any]], head: tuple[int, str] | None
) -> tuple[int, str] | None:
    """(first broken id, one-sentence reason), or None when the chain and head agree."""
    expected_id, prev = 1, GENESIS_SHA256
    for row in rows:
        problem = _row_problem(row, expected_id, prev)
        if problem is not None:
            return problem
        expected_id, prev = row["id"] + 1, row["sha256"]
    last_id = expected_id - 1
    if head is None:
        return (
            expected_id,
            "The chain head record is missing, so trailing deletions would go unseen.",
        )
    head_id, head_sha = head
    if head_id > last_id:
        return (
            last_id + 1,
            f"Event {last_id + 1} is missing: the chain head records {head_id} events "
            f"but the table ends at event {last_id}.",
        )
    if head_id < last_id:
        return (head_id + 1, f"Event {head_id + 1} was added without updating the chain head.")
    if head_sha != prev:
        return (last_id, f"Event {last_id} does not match the hash recorded in the chain head.")
    return None


def _row_problem(row: Mapping[str, Any], expected_id: int, prev: str) -> tuple[int, str] | None:
    if row["id"] < expected_id:
        return (row["id"], f"Event {row['id']} has an id the chain never issued.")
    if row["id"] > expected_id:
        return (
            expected_id,
            f"Event {expected_id} is missing: event {row['id']} follows event {expected_id - 1}.",
        )
    if row["prev_sha256"] != prev:
        return (
            row["id"],
            f"Event {row['id']} does not link to event {row['id'] - 1}: "
            "a row before it was changed, removed or reordered.",
        )
    try:
        payload = json.loads(row["payload"])
    except (TypeError, json.JSONDecodeError):
        return (row["id"], f"Event {row['id']} has a payload that is not valid JSON.")
    fields = {k: row[k] for k in ("id", "at", "kind", "analysis_id", "actor")}
    if event_sha256(prev_sha256=prev, payload=payload, **fields) != row["sha256"]:
        return (row["id"], f"Event {row['id']} was altered after it was recorded.")
    return None
