"""Retention: kept sources nobody has used for `SIGNOFF_RETENTION_DAYS` are removed.

Why: the workspace holds people's data so that a reviewer can reopen exactly what the
analyst saw; once nobody is working on or waiting for an analysis, keeping the file is
only a liability. "Used" is the later of the folder's time (the last upload, load or
reopening of those bytes, `review.workspace.touch`) and the last audit event of any
analysis of them (a step, a decision). A source that an open review request still needs is
never removed, however old: the reviewer it waits for must be able to open it.

The sweep removes a folder by renaming it out of the way first (atomic), so no one ever
opens half a source. What it removed is one `retention` event in the trail; the analyses
stay registered, and reopening one says its source is no longer in the workspace. Staging
folders left behind by a crash are cleared after a day.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from review.audit import AuditTrail
from review.storage import Connection
from steps.results import ToDict

LEFTOVER_AGE = timedelta(days=1)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_LEFTOVER = (".incoming-", ".removing-")


@dataclass(frozen=True)
class Swept(ToDict):
    """One sweep: the sources removed, and the old ones kept because a request needs them."""

    removed: tuple[str, ...]
    kept_for_requests: tuple[str, ...]


def _needed_and_last_used(db: Connection) -> tuple[set[str], dict[str, str]]:
    needed = {
        row["sha"]
        for row in db.query(
            "SELECT DISTINCT a.source_sha256 AS sha FROM review_requests r "
            "JOIN analyses a ON a.id = r.analysis_id WHERE r.status = 'open'"
        )
    }
    last = {
        row["sha"]: row["at"]
        for row in db.query(
            "SELECT a.source_sha256 AS sha, max(e.at) AS at FROM analyses a "
            "JOIN events e ON e.analysis_id = a.id GROUP BY a.source_sha256"
        )
    }
    return needed, last


def _folder_time(folder: Path) -> datetime:
    """The latest time of a folder and the files in it."""
    stamps = [folder.stat().st_mtime]
    stamps += [p.stat().st_mtime for p in folder.iterdir()]
    return datetime.fromtimestamp(max(stamps), UTC)


def _remove(folder: Path) -> None:
    hidden = folder.with_name(f".removing-{folder.name[:12]}-{secrets.token_hex(4)}")
    os.rename(folder, hidden)
    shutil.rmtree(hidden, ignore_errors=True)


def sweep_sources(
    trail: AuditTrail, *, root: Path, older_than_days: float, now: datetime | None = None
) -> Swept:
    """Remove the kept sources of `root` unused for longer than `older_than_days`, except
    those an open review request needs; record what was removed."""
    moment = now or datetime.now(UTC)
    cutoff = moment - timedelta(days=older_than_days)
    sources = root / "sources"
    if not sources.is_dir():
        return Swept((), ())
    needed, last_event = trail.storage.read(_needed_and_last_used)
    removed: list[str] = []
    kept: list[str] = []
    for folder in sorted(sources.iterdir()):
        with contextlib.suppress(OSError):  # a folder removed or renamed meanwhile
            if folder.name.startswith(_LEFTOVER):
                if _folder_time(folder) < moment - LEFTOVER_AGE:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            if not (folder.is_dir() and _SHA256.fullmatch(folder.name)):
                continue
            used = _folder_time(folder)
            if folder.name in last_event:
                used = max(used, datetime.fromisoformat(last_event[folder.name]))
            if used >= cutoff:
                continue
            if folder.name in needed:
                kept.append(folder.name)
                continue
            _remove(folder)
            removed.append(folder.name)
    swept = Swept(tuple(removed), tuple(kept))
    if removed:
        payload = {"older_than_days": older_than_days, **swept.to_dict()}
        trail.append("retention", payload)
    return swept
