"""Uploads streamed to the server: each one an `upload` event, and a daily allowance per person.

Why in the audit trail: who put which bytes on the server, and when, is part of the record
an auditor reads; and an allowance counted from an append-only trail cannot be reset by
the person it limits. The window is the last 24 hours, not the calendar day, so there is
no midnight at which a whole second allowance opens at once. Without server-side identity
every upload is nobody's (`person` None) and they share one allowance.

Why `uploaded_by`: a kept upload opens from the address `/?upload=<sha256>`. When the server
knows people, only the person who sent those bytes may open them that way; anyone else
must be invited through the review queue (`review.access`), even if they learn the hash
from a report someone shared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from review.audit import AuditTrail, Event
from review.storage import Connection
from steps.errors import QuotaExceeded
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


def _uploads_of(person: str | None) -> tuple[str, list[str]]:
    """The WHERE clause (and its parameters) of the upload events of `person`."""
    clause = "analysis_id IS NULL AND kind = 'upload' AND actor "
    if person is None:
        return clause + "IS NULL", []
    return clause + "= ?", [person]


def usage_since(trail: AuditTrail, person: str | None, since: datetime) -> Usage:
    """The uploads `person` (None: nobody in particular) made since `since`."""
    moment = since.astimezone(UTC).isoformat(timespec="microseconds")
    where, params = _uploads_of(person)

    def read(db: Connection) -> Usage:
        rows = db.query(f"SELECT payload FROM events WHERE {where} AND at >= ?", [*params, moment])
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
            "allowed, so nothing was kept; try again later."
        )
    if used.bytes > settings.quota_bytes:
        return (
            f"This upload would take you past {settings.quota_bytes / MIB:,.1f} MB in 24 hours "
            f"({used.bytes / MIB:,.1f} MB with it); nothing was kept."
        )
    return None


def check_allowance(
    trail: AuditTrail, person: str | None, size: int, settings: UploadSettings
) -> None:
    """Refuse one more upload of `size` bytes past `person`'s allowance (`QuotaExceeded`)."""
    sentence = over_allowance(usage_today(trail, person).plus(1, size), settings)
    if sentence is not None:
        raise QuotaExceeded(sentence)


def record_upload(
    trail: AuditTrail, *, sha256: str, name: str, size: int, person: str | None
) -> Event:
    """The `upload` event of a kept file: its hash, name and size, by whom."""
    payload = {"sha256": sha256, "name": name, "bytes": size}
    return trail.append("upload", payload, actor=person)


def uploaded_by(trail: AuditTrail, sha256: str, person: str | None) -> bool:
    """True when `person` (None: nobody in particular) streamed these bytes to the server."""
    where, params = _uploads_of(person)

    def read(db: Connection) -> bool:
        found = f"{db.json_text('payload', 'sha256')} = ?"
        sql = f"SELECT 1 AS found FROM events WHERE {where} AND {found} LIMIT 1"
        return db.one(sql, [*params, sha256.lower()]) is not None

    return trail.storage.read(read)
