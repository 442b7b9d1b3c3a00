"""Model answers cached by prompt hash in the app's SQLite file (table `ai_cache`).

The same figures give the same prompt, so a re-run (or another viewer of the same
analysis) costs no call. Keyed by prompt sha256 *and* advisor and model, since another
model would answer differently. Only validated answers are stored, never failures, and
never the prompt itself. A connection per operation keeps it safe across the threads
marimo serves viewers from.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import sqlite_utils

TABLE = "ai_cache"


class AICache:
    """Validated model answers by `(prompt_sha256, advisor, model)`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def _table(self, db: sqlite_utils.Database) -> Any:
        table = db.table(TABLE)
        if not table.exists():
            table.create(
                {
                    "prompt_sha256": str,
                    "advisor": str,
                    "model": str,
                    "response": str,
                    "created_at": str,
                },
                pk=("prompt_sha256", "advisor", "model"),
                if_not_exists=True,
            )
        return table

    def get(self, prompt_sha256: str, advisor: str, model: str) -> dict[str, Any] | None:
        """The cached answer as parsed JSON, or None."""
        with closing(self._connect()) as conn:
            db = sqlite_utils.Database(conn)
            if not db.table(TABLE).exists():
                return None
            row = conn.execute(
                f"SELECT response FROM {TABLE} "
                "WHERE prompt_sha256 = ? AND advisor = ? AND model = ?",
                (prompt_sha256, advisor, model),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, prompt_sha256: str, advisor: str, model: str, response: dict[str, Any]) -> None:
        with closing(self._connect()) as conn:
            db = sqlite_utils.Database(conn)
            self._table(db).upsert(
                {
                    "prompt_sha256": prompt_sha256,
                    "advisor": advisor,
                    "model": model,
                    "response": json.dumps(response, sort_keys=True),
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                },
                pk=("prompt_sha256", "advisor", "model"),
            )
            conn.commit()
