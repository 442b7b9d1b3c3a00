"""Append-only, hash-chained audit trail in the review database (SQLite or PostgreSQL).

Why a chain: an approval is only worth something if nobody can quietly edit or remove it
afterwards. Each event row stores the hash of the row before it, and its own hash covers
(previous hash, id, at, kind, analysis_id, actor, canonical JSON payload). Editing,
deleting or reordering rows breaks the chain, and `verify()` names the first broken row.

Why a separate head: deleting the *last* rows leaves a shorter chain that is still valid in
itself. The `chain_head` row is updated in the same transaction as every append and names
the last id and hash; a chain that ends before (or after) the head is reported as broken.

Why a key: whoever can write the database can drop the triggers, edit a decision and
recompute every SHA-256 after it. With an audit key (`key=`, from the server's settings)
each new event's hash is an HMAC-SHA256 under that key (`scheme` "hmac-sha256") and the
head carries a `seal`, an HMAC of (last id, last hash). Rewriting any part of the chain, or
cutting its end and moving the head back, then needs the key, and `verify(key)` says so.
Rows written before a key was configured keep their plain SHA-256 (`scheme` "sha256") and
verify as before; the first start with a key seals the head over them, so from then on they
are pinned too (trust on first use: that start cannot tell an old file from a forged one).
What the key does not stop: someone holding it, or replaying an older copy of the whole
database. The report carries the head hash (`head()`), so a copy kept elsewhere pins that.

Concurrency: every operation takes its own connection (so one `AuditTrail` can be shared
by threads), and an append reads the head and inserts inside one write transaction that
holds the writer lock (see `review.storage`), so concurrent appends from any number of
processes and machines queue up instead of forking the chain or losing an event; the
database also refuses a second successor to any event outright.

What callers must not put in a payload: API keys or other secrets, and raw data rows. The
trail is meant to be exported and shown to reviewers; record digests (SHA-256), counts,
parameter values, model names, prompt hashes. Payload keys that name a secret are refused.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from review.audit_chain import KEYED, PLAIN, event_sha256, first_break, head_seal
from review.storage import Connection, Storage, open_storage
from review.storage import utc_now_iso as utc_now_iso
from review.storage_schema import GENESIS_SHA256 as GENESIS_SHA256
from steps.errors import AuditError as AuditError
from steps.errors import AuditKeyError
from steps.results import ToDict
from steps.text import canonical_json

T = TypeVar("T")
EVENT_KINDS = (
    "load",
    "step",
    "decision",
    "parameter",
    "ai_call",
    "export",
    "request",
    "stale",
    "upload",
    "retention",
)
MIN_KEY_BYTES = 16
SECRET_KEY_NAMES = frozenset(
    {"api_key", "apikey", "gemini_api_key", "google_api_key", "password", "secret", "token"}
)
_EVENT_COLUMNS = "id, at, kind, analysis_id, actor, payload, prev_sha256, sha256, scheme"


def checked_key(key: bytes | None) -> bytes | None:
    """The key as given, or None; one too short to resist guessing is refused."""
    if key is None:
        return None
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"An audit key must be at least {MIN_KEY_BYTES} bytes.")
    return key


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
    scheme: str = PLAIN


@dataclass(frozen=True)
class Verification(ToDict):
    """The outcome of walking the whole chain; `reason` is one sentence for a person."""

    ok: bool
    n_events: int
    first_broken_id: int | None
    reason: str


@dataclass(frozen=True)
class ChainHead(ToDict):
    """Where the chain ends: what a bundle embeds so a reader can check it against the key."""

    last_id: int
    sha256: str
    seal: str | None


def event_from_row(row: Mapping[str, Any]) -> Event:
    """An event from a stored row or a JSON Lines object (either has the same fields)."""
    payload = row["payload"]
    return Event(
        id=row["id"],
        at=row["at"],
        kind=row["kind"],
        analysis_id=row["analysis_id"],
        actor=row["actor"],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
        prev_sha256=row["prev_sha256"],
        sha256=row["sha256"],
        scheme=row.get("scheme") or PLAIN,
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
    """Accept a trail or the location of its database (each session may hold either).

    A location gives an unkeyed trail: on a keyed database, pass the keyed trail instead.
    """
    return target if isinstance(target, AuditTrail) else AuditTrail(target)


def _has_keyed_events(db: Connection) -> bool:
    return db.one("SELECT 1 AS found FROM events WHERE scheme <> ? LIMIT 1", [PLAIN]) is not None


class AuditTrail:
    """The events of every analysis in one review database, chained by (keyed) hashes.

    `location` is a SQLite path or a `postgresql://` URL (or an open `Storage`); `key` the
    server's audit key (None: plain SHA-256, as before keys existed). `read_only=True`
    changes nothing in the database (no migration, no seal), for `verify` on a copy.
    """

    def __init__(
        self,
        location: Storage | Path | str,
        *,
        key: bytes | None = None,
        read_only: bool = False,
    ) -> None:
        self.key = checked_key(key)
        self.storage = open_storage(location, migrate=not read_only)
        if not read_only:
            self._seal_on_start()

    def __repr__(self) -> str:
        keyed = ", keyed" if self.key else ""
        return f"AuditTrail({self.storage.display!r}{keyed})"

    @property
    def path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL: use `location`)."""
        return self.storage.path

    @property
    def location(self) -> str:
        """The path or URL the trail was opened with (a URL may hold a password)."""
        return self.storage.location

    def connect(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection for one operation: safe to share one trail between threads."""
        return self.storage.connect()

    @staticmethod
    def write_transaction(db: Connection) -> contextlib.AbstractContextManager[Connection]:
        """Take the writer lock before reading, so read-then-write is atomic.

        Other `review` modules use it to change their own table and append the matching event
        in one transaction. Inside a transaction already open it joins that one.
        """
        return Storage.write_transaction(db)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """`fn(db)` in one write transaction, run again on a fresh connection if the
        database connection is lost (see `Storage.write`)."""
        return self.storage.write(fn)

    def _seal_on_start(self) -> None:
        """Check the key against the head's seal, or seal a head written before keys."""
        if self.key is None:
            return
        head = self.storage.read(self._head_row)
        if head is None:
            return  # verify() reports the lost head; appends refuse
        if head["seal"] is not None:
            if not hmac.compare_digest(head["seal"], self._seal(head)):
                raise AuditKeyError(
                    "The audit key does not match the seal on this trail's chain head: start "
                    "with the key it was written with, or run `python -m review verify` to "
                    "see whether it was tampered with."
                )
            return

        def adopt(db: Connection) -> None:
            current = self._head_row(db)
            if current is not None and current["seal"] is None and not _has_keyed_events(db):
                db.execute("UPDATE chain_head SET seal = ? WHERE id = 1", [self._seal(current)])

        self.storage.write(adopt)

    @staticmethod
    def _head_row(db: Connection) -> dict[str, Any] | None:
        return db.one("SELECT last_id, sha256, seal FROM chain_head WHERE id = 1")

    def _seal(self, head: Mapping[str, Any]) -> str:
        assert self.key is not None
        return head_seal(self.key, head["last_id"], head["sha256"])

    def _checked_head(self, db: Connection) -> dict[str, Any]:
        """The head an append builds on, refused if its seal says it was tampered with."""
        head = self._head_row(db)
        if head is None:
            raise AuditError("The audit trail has lost its chain head; run verify() to see why.")
        seal = head["seal"]
        if self.key is None:
            if seal is not None:
                raise AuditKeyError("This audit trail is keyed: appending needs its audit key.")
        elif seal is None:
            if _has_keyed_events(db):
                raise AuditError("The audit chain head has lost its seal; run verify() to see why.")
        elif not hmac.compare_digest(seal, self._seal(head)):
            raise AuditKeyError(
                "The audit chain head's seal does not match the audit key; run verify()."
            )
        return head

    def append(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        analysis_id: str | None = None,
        actor: str | None = None,
    ) -> Event:
        """Add one event at the end of the chain and return it as stored.

        If the connection drops while committing, the retry first looks for the event it
        was writing: found, the commit landed and that event is returned (never written
        twice); not found, it is appended afresh.
        """
        attempted: list[Event] = []

        def write(db: Connection) -> Event:
            if attempted:
                sql = "SELECT 1 AS found FROM events WHERE sha256 = ?"
                if db.one(sql, [attempted[-1].sha256]) is not None:
                    return attempted[-1]
            event = self.append_in(db, kind, payload, analysis_id=analysis_id, actor=actor)
            attempted.append(event)
            return event

        return self.storage.write(write)

    def append_in(
        self,
        db: Connection,
        kind: str,
        payload: Mapping[str, Any],
        *,
        analysis_id: str | None = None,
        actor: str | None = None,
    ) -> Event:
        """Append inside a write transaction the caller already holds (see `write_transaction`)."""
        if not db.in_transaction:
            raise AuditError("Appending to the audit trail needs an open write transaction.")
        clean = _checked_payload(kind, payload)
        head = self._checked_head(db)
        prev = head["sha256"]
        fields = {
            "id": head["last_id"] + 1,
            "at": utc_now_iso(),
            "kind": kind,
            "analysis_id": analysis_id,
            "actor": actor,
        }
        sha = event_sha256(prev_sha256=prev, payload=clean, key=self.key, **fields)
        scheme = KEYED if self.key else PLAIN
        event = Event(payload=clean, prev_sha256=prev, sha256=sha, scheme=scheme, **fields)
        seal = head_seal(self.key, event.id, sha) if self.key else None
        db.execute_all(
            [
                (
                    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [*fields.values(), canonical_json(clean), prev, sha, scheme],
                ),
                (
                    "UPDATE chain_head SET last_id = ?, sha256 = ?, seal = ? WHERE id = 1",
                    [event.id, sha, seal],
                ),
            ]
        )
        return event

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

        def read(db: Connection) -> list[Event]:
            where: list[str] = []
            params: list[object] = []
            for column, value in (("analysis_id", analysis_id), ("kind", kind), ("actor", actor)):
                if value is not None:
                    where.append(f"{column} = ?")
                    params.append(value)
            if gate is not None:
                where.append(f"{db.json_text('payload', 'gate')} = ?")
                params.append(gate)
            sql = "SELECT * FROM events"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += " ORDER BY id DESC"
            if limit is not None:
                sql += " LIMIT ?"
                params.append(int(limit))
            return [event_from_row(row) for row in reversed(db.query(sql, params))]

        return self.storage.read(read)

    def head(self) -> str | None:
        """Hash of the last event (None for an empty trail): pins the history in a report."""
        head = self.chain_head()
        return None if head is None or head.last_id == 0 else head.sha256

    def chain_head(self) -> ChainHead | None:
        """The head row with its seal (None if it was deleted), for a bundle to embed."""
        row = self.storage.read(self._head_row_any)
        return None if row is None else ChainHead(row["last_id"], row["sha256"], row.get("seal"))

    @staticmethod
    def _head_row_any(db: Connection) -> dict[str, Any] | None:
        """The head row of a database at any schema version (a file from before keys has no
        seal column), for the read-only paths."""
        return db.one("SELECT * FROM chain_head WHERE id = 1")

    def verify(self) -> Verification:
        """Walk every row in id order and recompute each link; stop at the first broken one.

        Reads one snapshot, so appends running meanwhile do not look like tampering.
        """

        def walk(db: Connection) -> Verification:
            head = self._head_row_any(db)
            n_events = db.single("SELECT count(*) AS n FROM events")["n"]
            broken = first_break(db.stream("SELECT * FROM events ORDER BY id"), head, self.key)
            if broken is None:
                return Verification(True, n_events, None, f"All {n_events} events chain correctly.")
            return Verification(False, n_events, broken[0], broken[1])

        return self.storage.read(walk, snapshot=True)

    def to_jsonl(self, **filters: Any) -> str:
        """Matching events as JSON Lines (one event per line), for download or a bundle."""
        return "".join(canonical_json(event.to_dict()) + "\n" for event in self.events(**filters))
