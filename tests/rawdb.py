"""Raw access to a review database, around `review.storage`: what a person holding the file
or a database login can do. Tests tamper through it, and re-derive the chain through it, so
a mistake in the storage layer cannot hide itself."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from review.storage import close_storage, is_postgres_url


@dataclass
class PgTarget:
    """One test's schema in the session cluster, reachable two ways."""

    cluster: Any
    schema: str

    @classmethod
    def create(cls, cluster: Any) -> PgTarget:
        target = cls(cluster, f"t_{uuid.uuid4().hex[:12]}")
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {target.schema}")
        return target

    @property
    def _options(self) -> dict[str, str]:
        return {"options": f"-csearch_path%3D{self.schema}"}

    @property
    def url(self) -> str:
        return self.cluster.url(**self._options)

    @property
    def socket_url(self) -> str:
        return self.cluster.socket_url(**self._options)

    def drop(self) -> None:
        close_storage(self.url)
        close_storage(self.socket_url)
        if not self.cluster.running():
            self.cluster.start()
        with psycopg.connect(self.cluster.url(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.schema} CASCADE")


class RawDb:
    """Statements with `?` placeholders, each committed on its own, on either backend."""

    def __init__(self, location: str) -> None:
        self.postgres = is_postgres_url(location)
        if self.postgres:
            self.conn: Any = psycopg.connect(location, autocommit=True)
        else:
            self.conn = sqlite3.connect(location, isolation_level=None)

    def __enter__(self) -> RawDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def _run(self, sql: str, params: tuple | list) -> Any:
        if self.postgres:
            return self.conn.execute(sql.replace("?", "%s"), params or None)
        return self.conn.execute(sql, params)

    def rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return self._run(sql, params).fetchall()

    def execute(self, *statements: str, params: tuple | list = ()) -> None:
        for statement in statements:
            self._run(statement, params)

    def drop_guards(self) -> None:
        """Drop the append-only triggers, as the owner of the tables can."""
        if self.postgres:
            self.execute(
                "ALTER TABLE events DISABLE TRIGGER USER",
                "ALTER TABLE chain_head DISABLE TRIGGER USER",
            )
        else:
            self.execute(
                "DROP TRIGGER events_no_update",
                "DROP TRIGGER events_no_delete",
                "DROP TRIGGER chain_head_no_delete",
            )

    @property
    def integrity_error(self) -> type[Exception]:
        return psycopg.IntegrityError if self.postgres else sqlite3.IntegrityError


def tamper(location: str, *statements: str) -> None:
    """What someone with the database can do: drop the guards and rewrite rows."""
    with RawDb(location) as db:
        db.drop_guards()
        db.execute(*statements)
