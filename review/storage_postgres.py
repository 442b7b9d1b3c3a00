"""The PostgreSQL review database: a connection pool per URL per process, shared by its
threads, and the writer lock as a transaction-scoped advisory lock."""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import psycopg.errors
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from review.storage import _ACTIVE, Connection, Storage, reason
from steps.errors import StorageError

DEFAULT_POOL_SIZE = 8
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_RETRIES = 3
DEFAULT_RETRY_WAIT_S = 1.0
# pg_advisory_xact_lock(class, object): the class spells "SIGN"; the object is the schema,
# so two installations in different schemas of one database do not wait for each other.
_LOCK_CLASS = 0x5349474E
_LOCK = f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, hashtext(current_schema()))"


class PostgresConnection(Connection):
    """A pooled psycopg connection in autocommit mode; transactions are explicit."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[DictRow]) -> None:
        self.raw = raw
        self.holds_writer_lock = False

    @staticmethod
    def _sql(sql: str, params: Sequence[Any]) -> str:
        # psycopg parses placeholders only when parameters are given.
        return sql.replace("%", "%%").replace("?", "%s") if params else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.raw.execute(self._sql(sql, params), params or None)

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self.raw.pipeline():
            for sql, params in statements:
                self.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.raw.execute(self._sql(sql, params), params or None).fetchall()

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        return self.raw.cursor().stream(self._sql(sql, params), params or None)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def begin_write(self, *, serialised: bool) -> None:
        # One round trip for both: the lock is what every writer queues on.
        self.execute("BEGIN" + (f"; {_LOCK}" if serialised else ""))
        self.holds_writer_lock = serialised

    def take_writer_lock(self) -> None:
        if not self.holds_writer_lock:
            self.execute(_LOCK)
            self.holds_writer_lock = True

    def begin_snapshot(self) -> None:
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def table_exists(self, name: str) -> bool:
        row = self.one("SELECT to_regclass(?) IS NOT NULL AS found", [name])
        return bool(row and row["found"])

    def json_text(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"

    def rollback(self) -> None:
        if not self.raw.broken:
            self.execute("ROLLBACK")


class PostgresStorage(Storage):
    """A PostgreSQL database through a connection pool shared by the process's threads."""

    dialect = "postgresql"
    lost_connection = (psycopg.OperationalError,)
    integrity_errors = (psycopg.IntegrityError,)
    privilege_errors = (psycopg.errors.InsufficientPrivilege,)

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        retry_wait_s: float = DEFAULT_RETRY_WAIT_S,
        application_name: str = "signoff",
    ) -> None:
        super().__init__(url, identity=f"postgresql:{url}")
        self.migrated = False
        self.retries = retries
        self.retry_wait_s = retry_wait_s
        self.connect_timeout_s = connect_timeout_s
        options = {
            "autocommit": True,
            "row_factory": dict_row,
            # libpq counts whole seconds and treats anything under 2 as 2.
            "connect_timeout": max(2, math.ceil(connect_timeout_s)),
            "application_name": application_name,
        }
        self._probe(options)
        # The connections' row factory is `dict_row` (in `options`), so their rows are dicts.
        self.pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=options,
            open=False,
            name=f"signoff {self.display}",
        )
        try:
            self.pool.open(wait=True, timeout=connect_timeout_s)
        except psycopg.OperationalError as error:
            self.pool.close()
            raise self._unreachable(error) from None

    def _probe(self, options: dict[str, Any]) -> None:
        """Connect once by hand, so a bad URL or an unreachable server is one sentence."""
        try:
            with psycopg.connect(self.location, **options) as conn:
                conn.execute("SELECT 1")
        except (psycopg.ProgrammingError, psycopg.OperationalError) as error:
            # libpq says "connection is bad" when it could not even parse the URL.
            if isinstance(error, psycopg.OperationalError) and "connection is bad" not in str(
                error
            ):
                raise self._unreachable(error) from None
            raise StorageError(
                f"The review database setting {self.display} is not a usable PostgreSQL URL "
                f"({reason(error, self.location)})."
            ) from None

    def _unreachable(self, error: BaseException) -> StorageError:
        return StorageError(
            f"The review database {self.display} cannot be reached "
            f"({reason(error, self.location)})."
        )

    @contextlib.contextmanager
    def _open(self) -> Iterator[Connection]:
        with self.pool.connection(timeout=self.connect_timeout_s) as raw:
            yield PostgresConnection(raw)

    def close(self) -> None:
        with _POOLS.lock:
            if _POOLS.by_url.get(self.location) is self:
                del _POOLS.by_url[self.location]
        self.pool.close()


class _Pools:
    """One pool per PostgreSQL URL per process: every session and trail of a process shares
    it (opening one per `AuditTrail` would open connections by the hundred)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_url: dict[str, PostgresStorage] = {}
        # Pools a forked child inherited: their sockets belong to the parent, so the child
        # must neither use nor close them (closing would end the parent's sessions).
        self.inherited: list[PostgresStorage] = []

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        self.inherited.extend(self.by_url.values())
        self.by_url = {}
        _ACTIVE.by_key = {}

    def close_all(self) -> None:
        with self.lock:
            pools, self.by_url = list(self.by_url.values()), {}
        for storage in pools:
            storage.pool.close()


_POOLS = _Pools()
os.register_at_fork(after_in_child=_POOLS.after_fork_in_child)
atexit.register(_POOLS.close_all)
