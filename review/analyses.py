"""The analysis registry: which source file and parameters an analysis id stands for.

Why: a review request is picked up later, often by someone else in another browser session.
The registry (table `analyses`, in the audit trail's database) lets that session reopen
exactly what the analyst saw — the source kept in the workspace by SHA-256, and the
parameters (threshold, outlier method, cleaning plan) in force. Parameter changes are
recorded as `parameter` events, so the trail shows what changed under an approval.

Why an owner: when the server knows who people are (`review.identity`), an analysis
belongs to the person who opened it. Its id is derived from (owner, file SHA-256), so
another person uploading the same bytes starts an analysis of their own instead of
inheriting — and being able to change — someone else's approvals; they reach the owner's
analysis only through the review queue (`review.access`). Without an identity the id is the
file's (`sha256[:16]`, as before owners existed) and the analysis is everyone's.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from review.audit import AuditTrail, Event, trail_of, utc_now_iso
from review.storage import Connection
from review.workspace import source_path
from steps.errors import AnalysisError
from steps.results import ToDict
from steps.text import canonical_json, json_sha256

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Analysis(ToDict):
    """One analysis: a source file (by SHA-256) and the parameters applied to it."""

    id: str
    source_sha256: str
    source_name: str
    created_at: str
    parameters: dict[str, Any]
    owner: str | None = None


def analysis_id_for(sha256: str, owner: str | None = None) -> str:
    """The analysis a file's bytes belong to: the file's for everyone (no owner), else one
    per (owner, file), so two people uploading the same bytes never share approvals."""
    if owner is None:
        return sha256[:16]
    return json_sha256(["analysis", owner, sha256])[:16]


def _analysis_from_row(row: Mapping[str, Any]) -> Analysis:
    return Analysis(
        id=row["id"],
        source_sha256=row["source_sha256"],
        source_name=row["source_name"],
        created_at=row["created_at"],
        parameters=json.loads(row["parameters"]),
        owner=row.get("owner"),
    )


def read_analysis(db: Connection, analysis_id: str) -> Analysis | None:
    """The registered analysis with that id, read on the caller's connection."""
    row = db.one("SELECT * FROM analyses WHERE id = ?", [analysis_id])
    return _analysis_from_row(row) if row else None


def register_analysis(
    target: AuditTrail | Path | str,
    *,
    source_sha256: str,
    source_name: str,
    parameters: Mapping[str, Any] | None = None,
    analysis_id: str | None = None,
    owner: str | None = None,
) -> Analysis:
    """Register a new analysis (or return the same one again for the same id and source).

    `owner` is the person opening it (None: nobody's in particular); registering an existing
    analysis again never changes its owner."""
    sha = (source_sha256 or "").lower()
    if not _SHA256.fullmatch(sha):
        raise AnalysisError("An analysis needs its source's SHA-256 (64 hexadecimal characters).")
    trail = trail_of(target)
    new = Analysis(
        id=analysis_id or uuid.uuid4().hex,
        source_sha256=sha,
        source_name=str(source_name or "source"),
        created_at=utc_now_iso(),
        parameters=json.loads(canonical_json(dict(parameters or {}))),
        owner=owner,
    )

    def register(db: Connection) -> Analysis:
        existing = read_analysis(db, new.id)
        if existing is not None:
            if existing.source_sha256 != sha:
                raise AnalysisError(f"Analysis {new.id} is already registered for another file.")
            return existing
        db.execute(
            "INSERT INTO analyses (id, source_sha256, source_name, created_at, parameters, "
            "owner) VALUES (?, ?, ?, ?, ?, ?)",
            [
                new.id,
                sha,
                new.source_name,
                new.created_at,
                canonical_json(new.parameters),
                new.owner,
            ],
        )
        return new

    return trail.write(register)


def get_analysis(target: AuditTrail | Path | str, analysis_id: str) -> Analysis | None:
    """The registered analysis, or None if this file never saw that id."""
    return trail_of(target).storage.read(lambda db: read_analysis(db, analysis_id))


def list_analyses(target: AuditTrail | Path | str) -> list[Analysis]:
    """Every registered analysis, newest first."""
    rows = trail_of(target).storage.read(
        lambda db: db.query("SELECT * FROM analyses ORDER BY created_at DESC, id")
    )
    return [_analysis_from_row(row) for row in rows]


def update_parameters(
    target: AuditTrail | Path | str,
    analysis_id: str,
    parameters: Mapping[str, Any],
    *,
    actor: str | None = None,
) -> tuple[Analysis, Event | None]:
    """Merge new parameter values in; a real change is recorded as a `parameter` event.

    Returns the updated analysis and the event (None when nothing changed).
    """
    trail = trail_of(target)
    incoming = json.loads(canonical_json(dict(parameters)))

    def update(db: Connection) -> tuple[Analysis, Event | None]:
        current = read_analysis(db, analysis_id)
        if current is None:
            raise AnalysisError(f"Analysis {analysis_id} is not registered in this review file.")
        changed = {
            name: {"from": current.parameters.get(name), "to": value}
            for name, value in incoming.items()
            if current.parameters.get(name) != value or name not in current.parameters
        }
        if not changed:
            return current, None
        merged = {**current.parameters, **incoming}
        db.execute(
            "UPDATE analyses SET parameters = ? WHERE id = ?",
            [canonical_json(merged), analysis_id],
        )
        event = trail.append_in(
            db, "parameter", {"changed": changed}, analysis_id=analysis_id, actor=actor
        )
        return replace(current, parameters=merged), event

    return trail.write(update)


def analysis_source(
    target: AuditTrail | Path | str, analysis_id: str, *, root: Path
) -> tuple[Analysis, Path]:
    """The analysis and its kept source file, so another session can reopen it."""
    analysis = get_analysis(target, analysis_id)
    if analysis is None:
        raise AnalysisError(f"Analysis {analysis_id} is not registered in this review file.")
    path = source_path(analysis.source_sha256, root=root)
    if path is None:
        raise AnalysisError(
            f"The source file of analysis {analysis_id} is no longer in the workspace."
        )
    return analysis, path
