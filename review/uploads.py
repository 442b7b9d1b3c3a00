"""Uploads streamed to the server: each one an `upload` event, and a daily allowance per person.

Why in the audit trail: who put which bytes on the server, and when, is part of the record
an auditor reads; and an allowance counted from an append-only trail cannot be reset by
the person it limits. The window is the last 24 hours, not the calendar day, so there is
no midnight at which a whole second allowance opens at once. Without server-side identity
every upload is nobody's (`person` None) and they share one allowance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from review.audit import AuditTrail, Event
from review.storage import Connection
from steps.results import ToDict
from steps.settings import MIB, UploadSettings

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Usage(ToDict):
    """What a person uploaded in the window: files kept and their bytes."""

    files: int = 0
    bytes: int = 0

    def plus(self, files: int, size: int) -> Usage:
        return Usage(self.files + files, self.bytes + size)


def usage_since(trail: AuditTrail, person: str | None, since: datetime) -> Usage:
    """The uploads `person` (None: nobody in particular) made since `since`."""
    moment = since.astimezone(UTC).isoformat(timespec="microseconds")
    who = "actor IS NULL" if person is None else "actor = ?"

    def read(db: Connection) -> Usage:
        rows = db.query(
            "SELECT payload FROM events WHERE analysis_id IS NULL AND kind = 'upload' "
            f"AND {who} AND at >= ?",
            [moment] if person is None else [person, moment],
        )
        sizes = [int(json.loads(row["payload"]).get("bytes", 0)) for row in rows]
        return Usage(len(sizes), sum(sizes))

    return trail.storage.read(read)


def usage_today(trail: AuditTrail, person: str | None, now: datetime | None = None) -> Usage:
    """Uploads by `person` in the last 24 hours."""
    return usage_since(trail, person, (now or datetime.now(UTC)) - WINDOW)


def over_allowance(used: Usage, settings: UploadSettings) -> str | None:
    """One sentence when `used` (kept, plus anything still arriving) passes the allowance."""
    if used.files > settings.quota_files:
        return (
            f"You have uploaded {settings.quota_files:,} files in the last 24 hours, the most "
            "allowed; nothing was kept. Try again later."
        )
    if used.bytes > settings.quota_bytes:
        return (
            f"This upload would take you past {settings.quota_bytes / MIB:,.1f} MB in 24 hours "
            f"({used.bytes / MIB:,.1f} MB with it); nothing was kept."
        )
    return None


def record_upload(
    trail: AuditTrail, *, sha256: str, name: str, size: int, person: str | None
) -> Event:
    """The `upload` event of a kept file: its hash, name and size, by whom."""
    payload = {"sha256": sha256, "name": name, "bytes": size}
    return trail.append("upload", payload, actor=person)
