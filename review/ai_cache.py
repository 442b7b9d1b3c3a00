"""Model answers cached by prompt hash in the review database (table `ai_cache`).

The same figures give the same prompt, so a re-run (or another viewer of the same
analysis, on any server sharing the database) costs no call. Keyed by prompt sha256 *and*
advisor and model, since another model would answer differently. Only validated answers are
stored, never failures, and never the prompt itself. The storage hands each operation its
own connection, which keeps it safe across the threads marimo serves viewers from; a put is
one atomic upsert, so it does not wait for the audit trail's writer lock.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from review.storage import Connection, Storage, open_storage

TABLE = "ai_cache"


class AICache:
    """Validated model answers by `(prompt_sha256, advisor, model)`.

    `location` is the review database: a SQLite path, a `postgresql://` URL, or an open
    `Storage` (e.g. `AuditTrail.storage`).
    """

    def __init__(self, location: str | Path | Storage) -> None:
        self.storage = open_storage(location)

    def get(self, prompt_sha256: str, advisor: str, model: str) -> dict[str, Any] | None:
        """The cached answer as parsed JSON, or None."""
        row = self.storage.read(
            lambda db: db.one(
                f"SELECT response FROM {TABLE} "
                "WHERE prompt_sha256 = ? AND advisor = ? AND model = ?",
                [prompt_sha256, advisor, model],
            )
        )
        return json.loads(row["response"]) if row else None

    def put(self, prompt_sha256: str, advisor: str, model: str, response: dict[str, Any]) -> None:
        """Store (or replace) the answer for that prompt, advisor and model."""
        values = [
            prompt_sha256,
            advisor,
            model,
            json.dumps(response, sort_keys=True),
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        ]

        def upsert(db: Connection) -> None:
            db.execute(
                f"INSERT INTO {TABLE} (prompt_sha256, advisor, model, response, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (prompt_sha256, advisor, model) "
                "DO UPDATE SET response = excluded.response, created_at = excluded.created_at",
                values,
            )

        self.storage.write(upsert, serialised=False)
