"""The SQLite review database: one file in WAL mode, a fresh connection per operation."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from review.storage import Connection, Storage
from steps.errors import StorageError

BUSY_TIMEOUT_S = 30.0


class SQLiteConnection(Connection):
    """A `sqlite3` connection in autocommit mode; transactions are explicit."""

    dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.raw.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.raw.execute(sql, params)]

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        return (dict(row) for row in self.raw.execute(sql, params))

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def begin_write(self, *, serialised: bool) -> None:
        self.execute("BEGIN IMMEDIATE")

    def take_writer_lock(self) -> None:
        """`BEGIN IMMEDIATE` took the file's write lock already."""

    def begin_snapshot(self) -> None:
        # In WAL mode a deferred transaction reads one snapshot from its first SELECT on.
        self.execute("BEGIN")

    def table_exists(self, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return self.one(sql, [name]) is not None

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"


class SQLiteStorage(Storage):
    """A SQLite file in WAL mode: a fresh connection per operation, safe across threads."""

    dialect = "sqlite"
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self._path = Path(path)
        self.read_only = read_only
        super().__init__(str(self._path), identity=f"sqlite:{self._path.resolve()}")
        if read_only:
            if not self._path.is_file():
                raise StorageError(f"There is no review database at {self._path}.")
        else:
            self._path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        """Nothing to release: every operation closed its own connection."""

    @contextlib.contextmanager
    def _open(self) -> Iterator[Connection]:
        target = f"file:{self._path}?mode=ro" if self.read_only else str(self._path)
        raw = sqlite3.connect(
            target,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
            uri=self.read_only,
        )
        raw.row_factory = sqlite3.Row
        try:
            yield SQLiteConnection(raw)
        finally:
            raw.close()
