"""Where the review state lives: one SQLite file, or one PostgreSQL database, behind one API.

Why one interface: the audit trail, review queue, analysis registry and AI cache are the
same few SQL statements whichever engine holds them. SQLite is the embedded default for one
machine; a `postgresql://` URL lets several app servers on several machines share one
state. The modules above this one write their SQL once, with `?` placeholders, and ask the
connection for the two things that differ (`json_text`, and the writer lock taken by
`write_transaction`).

Why a writer lock: every read-then-write (the next link of the audit chain, one open
request per subject) must see the last committed write and nothing may slip in between.
SQLite's `BEGIN IMMEDIATE` takes the file's write lock; on PostgreSQL a transaction-scoped
advisory lock plays the same part across every process and machine on the database. Both
are released by commit, rollback or a dead client, so a killed writer never leaves the lock
held.

Why connections are shared within a thread: a caller inside a write transaction often
reads through another helper (`trail.events()` while deciding). That read must use the
transaction's own connection: on SQLite a second connection would wait on its own lock,
and on PostgreSQL a pool whose connections are all held by threads waiting for the writer
lock would starve. So `connect()` hands a thread the connection it already holds.

The engines live in `review.storage_sqlite` and `review.storage_postgres`.

Why retries: a PostgreSQL server restarts, a network blips. `read` and `write` run their
function again on a fresh connection (a few times, with a pause) before saying in one
sentence that the database stopped answering; nothing is acknowledged unless its commit
returned. SQLite has no connection to lose, so there they run once.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from steps.errors import StorageError, StorageUnavailable

T = TypeVar("T")
POSTGRES_SCHEMES = ("postgresql", "postgres")
_log = logging.getLogger(__name__)


def utc_now_iso() -> str:
    """UTC timestamps with microseconds, so events written in one second still sort."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def is_postgres_url(location: object) -> bool:
    """True for a `postgresql://` (or `postgres://`) URL; anything else is a SQLite path."""
    if not isinstance(location, str) or "://" not in location:
        return False
    return location.split("://", 1)[0].lower() in POSTGRES_SCHEMES


def mask_url(location: str) -> str:
    """The location with any password replaced by `***`, fit for a message or a log."""
    masked = re.sub(r"(:/+[^/@:]*:)[^@/]*@", r"\1***@", location)
    return re.sub(r"(?i)((?:^|[?&])password=)[^&]*", r"\1***", masked)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0].strip().rstrip(".") if text else type(error).__name__


def reason(error: BaseException, location: str) -> str:
    """libpq's message without its 'connection to server at ... failed:' preamble, masked."""
    line = _first_line(error)
    line = line.rsplit(" failed: ", 1)[-1]
    line = re.sub(r"^(connection failed|connection is bad|FATAL|ERROR):\s*", "", line).strip()
    password = re.search(r":/+[^/@:]*:([^@/]*)@", location)
    if password and password.group(1):
        line = line.replace(password.group(1), "***")
    return mask_url(line)


class Connection(ABC):
    """One database connection as the review modules use it: `?` placeholders, dict rows."""

    dialect: str

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run statements in order; PostgreSQL sends them in one round trip (pipeline), which
        shortens the time an append holds the writer lock."""
        for sql, params in statements:
            self.execute(sql, params)

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row of a query, as dictionaries."""

    @abstractmethod
    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """The rows of a query one by one, for walks over the whole trail."""

    @property
    @abstractmethod
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection."""

    @abstractmethod
    def begin_write(self, *, serialised: bool) -> None:
        """Open a write transaction; `serialised` takes the writer lock first."""

    @abstractmethod
    def take_writer_lock(self) -> None:
        """Inside an open write transaction, make sure it holds the writer lock."""

    @abstractmethod
    def begin_snapshot(self) -> None:
        """Open a read-only transaction in which every statement sees the same state."""

    @abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether the table is there (a file written before a table existed may lack it)."""

    @abstractmethod
    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of a top-level key of a JSON text column."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row of a query, or None."""
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def single(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any]:
        """The row of a query that always returns one (an aggregate, `INSERT ... RETURNING`,
        `SELECT current_schema()`); a StorageError if the database returned none."""
        row = self.one(sql, params)
        if row is None:
            raise StorageError(
                f"The review database returned no row where one is always expected ({sql.strip()})."
            )
        return row

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")


class _Active(threading.local):
    """The connection each thread holds per database (see the module docstring)."""

    def __init__(self) -> None:
        self.by_key: dict[str, Connection] = {}


_ACTIVE = _Active()


class Storage(ABC):
    """One review database. `location` may carry a password: show `display` instead."""

    dialect: str
    retries: int = 1
    retry_wait_s: float = 0.0
    lost_connection: tuple[type[BaseException], ...] = ()
    integrity_errors: tuple[type[BaseException], ...] = ()
    privilege_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, location: str, identity: str) -> None:
        self.location = location
        self.display = mask_url(location)
        self._identity = identity

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display!r})"

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a PostgreSQL database."""
        return None

    @abstractmethod
    def _open(self) -> contextlib.AbstractContextManager[Connection]:
        """A new connection for one operation."""

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for one operation; the thread's current one if it holds one already."""
        active = _ACTIVE.by_key.get(self._identity)
        if active is not None:
            yield active
            return
        with self._open() as conn:
            _ACTIVE.by_key[self._identity] = conn
            try:
                yield conn
            finally:
                _ACTIVE.by_key.pop(self._identity, None)

    @staticmethod
    @contextlib.contextmanager
    def write_transaction(conn: Connection, *, serialised: bool = True) -> Iterator[Connection]:
        """Take the writer lock, then read and write atomically; commit on leaving.

        Inside a transaction the caller already holds, it joins that one (which commits).
        """
        if conn.in_transaction:
            if serialised:
                conn.take_writer_lock()
            yield conn
            return
        conn.begin_write(serialised=serialised)
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        conn.commit()

    def read(self, fn: Callable[[Connection], T], *, snapshot: bool = False) -> T:
        """`fn(conn)`, retried on a lost connection; `snapshot` reads one consistent state."""
        return self._run(fn, write=False, snapshot=snapshot, serialised=False)

    def write(self, fn: Callable[[Connection], T], *, serialised: bool = True) -> T:
        """`fn(conn)` in a write transaction, retried whole on a lost connection.

        A retry runs `fn` again from the start, so it must find out for itself whether an
        earlier attempt's commit landed (see `AuditTrail.append`). `serialised=False` skips
        the writer lock, for writes that are atomic in themselves (the AI cache's upsert).
        """
        return self._run(fn, write=True, snapshot=False, serialised=serialised)

    def _run(
        self, fn: Callable[[Connection], T], *, write: bool, snapshot: bool, serialised: bool
    ) -> T:
        nested = self._identity in _ACTIVE.by_key
        attempts = 1 if nested else self.retries
        for attempt in range(1, attempts + 1):
            try:
                return self._once(fn, write=write, snapshot=snapshot, serialised=serialised)
            except self.lost_connection as error:
                if nested:
                    raise
                last = error
                _log.warning(
                    "review database %s: attempt %d of %d failed: %s",
                    self.display,
                    attempt,
                    attempts,
                    reason(error, self.location),
                )
                # A connection found dead (the server restarted) is replaced at once; a
                # database that stays away gets a growing pause.
                if attempt < attempts:
                    time.sleep(self.retry_wait_s * (attempt - 1))
        outcome = "nothing was recorded" if write else "it could not be read"
        raise StorageUnavailable(
            f"The review database {self.display} stopped answering "
            f"({reason(last, self.location)}) and {attempts} attempts failed, so {outcome}."
        ) from last

    def _once(
        self, fn: Callable[[Connection], T], *, write: bool, snapshot: bool, serialised: bool
    ) -> T:
        with self.connect() as conn:
            if write:
                with self.write_transaction(conn, serialised=serialised):
                    return fn(conn)
            if not snapshot or conn.in_transaction:
                return fn(conn)
            conn.begin_snapshot()
            try:
                return fn(conn)
            finally:
                if conn.in_transaction:
                    conn.rollback()

    @abstractmethod
    def close(self) -> None:
        """Release what the storage holds (a PostgreSQL pool)."""


def close_storage(location: str) -> None:
    """Close the process's pool for a PostgreSQL URL, if one is open (tests, shutdown)."""
    from review.storage_postgres import _POOLS

    with _POOLS.lock:
        storage = _POOLS.by_url.get(location)
    if storage is not None:
        storage.close()


def open_storage(
    location: str | Path | Storage, *, migrate: bool = True, **postgres_options: Any
) -> Storage:
    """The storage at `location` (a SQLite path or a `postgresql://` URL), schema migrated.

    `migrate=False` opens a SQLite file read-only and changes nothing, for `verify`. A
    PostgreSQL URL gives the process's shared pool (`postgres_options` apply when it is
    first opened: pool_size, connect_timeout_s, retries, retry_wait_s, application_name).
    """
    # Imported here: the engines' modules build on this one's interface.
    from review.storage_postgres import _POOLS, PostgresStorage
    from review.storage_schema import migrate_schema
    from review.storage_sqlite import SQLiteStorage

    if isinstance(location, Storage):
        return location
    if isinstance(location, str) and "://" in location and not is_postgres_url(location):
        raise StorageError(
            f"The review database setting {mask_url(location)} is neither a file path nor a "
            "postgresql:// URL."
        )
    if not is_postgres_url(location) and re.match(r"(?i)postgres(ql)?:/", str(location)):
        raise StorageError(
            f"The review database setting {mask_url(str(location))} is a PostgreSQL URL that "
            "lost a slash, having been kept as a file path rather than as text."
        )
    if not is_postgres_url(location):
        sqlite = SQLiteStorage(location, read_only=not migrate)
        if migrate:
            migrate_schema(sqlite)
        return sqlite
    url = str(location)
    with _POOLS.lock:
        shared = _POOLS.by_url.get(url)
    if shared is None:
        fresh = PostgresStorage(url, **postgres_options)
        with _POOLS.lock:
            shared = _POOLS.by_url.setdefault(url, fresh)
        if shared is not fresh:
            fresh.pool.close()
    if migrate and not shared.migrated:
        migrate_schema(shared)
        shared.migrated = True
    return shared
