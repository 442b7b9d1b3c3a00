"""Checking a review database or an export bundle from outside the app.

Why a separate reader: the person who checks is often not the one who ran the app — an
auditor handed a bundle, an operator after an incident. `verify_database` walks a trail
without changing anything (no migration, no seal); `verify_bundle` checks a bundle zip on
its own: every member against `manifest.json`, the manifest against the report, each audit
event's own hash (keyed events need the key), the links between consecutive events, the
report's events against `audit_events.jsonl`, and, when the manifest carries the signed
chain head (`audit_head`: `AuditTrail.chain_head().to_dict()`), its seal. Given the review
database too, each event of the bundle must be in the trail as it is in the bundle.

Each check answers with one sentence naming the first broken member or event.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.audit import AuditTrail, event_from_row
from review.audit_chain import ChainWalk, own_hash_problem, seal_problem
from review.storage import Storage
from steps.errors import StorageError
from steps.exports import BUNDLE_AUDIT, BUNDLE_MANIFEST, BUNDLE_REPORT
from steps.results import ToDict


@dataclass(frozen=True)
class Check(ToDict):
    """The outcome of a check: `reason` is one sentence for a person."""

    ok: bool
    reason: str


class _Broken(Exception):
    """The first problem found; its text is the sentence."""


def verify_database(location: str | Path | Storage, *, key: bytes | None = None) -> Check:
    """Walk the trail at `location` without changing it."""
    trail = AuditTrail(location, key=key, read_only=True)
    if not trail.storage.read(lambda db: db.table_exists("events")):
        raise StorageError(f"The review database {trail.storage.display} holds no audit trail.")
    result = trail.verify()
    return Check(result.ok, result.reason)


def verify_bundle(
    path: Path, *, key: bytes | None = None, trail: AuditTrail | None = None
) -> Check:
    """Check a bundle zip; with `trail`, also that its events are the trail's own."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        return Check(False, f"{path.name} is not a readable zip file.")
    try:
        n_members, n_events = _check_bundle(members, key, trail)
    except _Broken as problem:
        return Check(False, str(problem))
    return Check(
        True,
        f"The bundle is intact: {n_members} members match {BUNDLE_MANIFEST} and its "
        f"{n_events} audit events check out.",
    )


def _check_bundle(
    members: Mapping[str, bytes], key: bytes | None, trail: AuditTrail | None
) -> tuple[int, int]:
    for required in (BUNDLE_MANIFEST, BUNDLE_REPORT, BUNDLE_AUDIT):
        if required not in members:
            raise _Broken(f"The bundle has no {required}.")
    manifest = _json(members[BUNDLE_MANIFEST], BUNDLE_MANIFEST)
    _check_members(members, manifest)
    report = _json(members[BUNDLE_REPORT], BUNDLE_REPORT)
    if manifest.get("content_sha256") != report.get("content_sha256"):
        raise _Broken(f"{BUNDLE_MANIFEST} names another report than {BUNDLE_REPORT}.")
    events = _events(members[BUNDLE_AUDIT])
    _check_events(events, key)
    _check_report_events(report, events)
    if manifest.get("audit_head") is not None:
        _check_head(manifest["audit_head"], events, key)
    if trail is not None:
        _check_against_trail(events, trail)
    return len(members), len(events)


def _json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Broken(f"{name} is not valid JSON.") from None


def _check_members(members: Mapping[str, bytes], manifest: Mapping[str, Any]) -> None:
    listed = {entry.get("filename"): entry for entry in manifest.get("files") or ()}
    for name, data in members.items():
        if name == BUNDLE_MANIFEST:
            continue
        entry = listed.get(name)
        if entry is None:
            raise _Broken(f"Member {name} is not listed in {BUNDLE_MANIFEST}.")
        if hashlib.sha256(data).hexdigest() != entry.get("sha256") or len(data) != entry.get(
            "bytes"
        ):
            raise _Broken(f"Member {name} does not match its sha256 in {BUNDLE_MANIFEST}.")
    for name in listed:
        if name not in members:
            raise _Broken(f"Member {name} is listed in {BUNDLE_MANIFEST} but not in the bundle.")


def _events(data: bytes) -> list[dict[str, Any]]:
    events = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            raise _Broken(f"Line {number} of {BUNDLE_AUDIT} is not JSON.") from None
    return events


def _check_events(events: list[dict[str, Any]], key: bytes | None) -> None:
    """Each event's own hash; the link wherever two events are consecutive in the chain (a
    bundle holds one analysis's events, so others' events sit in the gaps)."""
    previous: dict[str, Any] | None = None
    for event in events:
        if previous is not None and event["id"] <= previous["id"]:
            raise _Broken(f"{BUNDLE_AUDIT}: event {event['id']} is out of order.")
        if previous is not None and event["id"] == previous["id"] + 1:
            walk = ChainWalk(key, expected_id=event["id"], prev=previous["sha256"])
            problem = walk.step(event)
        else:
            problem = own_hash_problem(event, key)
        if problem is not None:
            raise _Broken(f"{BUNDLE_AUDIT}: {problem[1]}")
        previous = event


def _check_report_events(report: Mapping[str, Any], events: list[dict[str, Any]]) -> None:
    by_id = {event["id"]: event_from_row(event) for event in events}
    for event in (report.get("audit") or {}).get("events") or ():
        if by_id.get(event["id"]) != event_from_row(event):
            raise _Broken(
                f"Event {event['id']} in {BUNDLE_REPORT} differs from {BUNDLE_AUDIT} "
                "or is missing there."
            )


def _check_head(head: Mapping[str, Any], events: list[dict[str, Any]], key: bytes | None) -> None:
    problem = seal_problem(head, key)
    if problem is not None:
        raise _Broken(f"{BUNDLE_MANIFEST} audit_head: {problem[1]}")
    for event in events:
        if event["id"] > head["last_id"]:
            raise _Broken(f"Event {event['id']} comes after the chain head the bundle names.")
        if event["id"] == head["last_id"] and event["sha256"] != head["sha256"]:
            raise _Broken(f"Event {event['id']} does not match the chain head the bundle names.")


def _check_against_trail(events: list[dict[str, Any]], trail: AuditTrail) -> None:
    ids = [event["id"] for event in events]

    def stored(db: Any) -> dict[int, Any]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = db.query(f"SELECT * FROM events WHERE id IN ({marks})", ids)
        return {row["id"]: event_from_row(row) for row in rows}

    in_trail = trail.storage.read(stored)
    for event in events:
        if in_trail.get(event["id"]) != event_from_row(event):
            raise _Broken(f"Event {event['id']} of the bundle is not in the trail as it is there.")
