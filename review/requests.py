"""Review requests: the queue a team shares, in the same database as the audit trail.

Why in the review database: reviews happen later and by other people, so a request must
outlive the browser session that raised it, and every session (thread, process or server)
on the database must see it. A request names an analysis, a gate and the exact subject to
review; at most one request is open per (analysis, gate, subject). When the subject
changes, the open request for the old one is closed as superseded; when a decision on the
subject lands, it is closed with the verdict. Each of these changes is a `request` event in
the audit trail, written in the same transaction as the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal, TypedDict, get_args

from review.analyses import read_analysis
from review.audit import AuditTrail, trail_of, utc_now_iso
from review.gates import Decision, checked_subject, decisions, gate_by_id
from review.storage import Connection
from steps.errors import GateError, RequestError
from steps.results import ToDict

RequestType = Literal["approval", "correction", "validation"]
REQUEST_TYPES: tuple[str, ...] = get_args(RequestType)
OPENING_VERDICTS = ("approve", "modify")

_SELECT = """
SELECT r.*, a.source_sha256, a.source_name
FROM review_requests r LEFT JOIN analyses a ON a.id = r.analysis_id
"""


class _NewRequest(TypedDict):
    """The columns a new request row is given, in the INSERT's column order."""

    analysis_id: str
    gate: str
    subject_sha256: str
    type: RequestType
    priority: int
    deadline: str | None
    assignee: str | None
    requested_by: str | None
    note: str


@dataclass(frozen=True)
class ReviewRequest(ToDict):
    """One entry of the review queue; `overdue` is judged against the time it was read."""

    id: int
    analysis_id: str
    gate: str
    type: RequestType
    priority: int
    deadline: str | None
    assignee: str | None
    created_at: str
    status: Literal["open", "closed"]
    source_sha256: str | None
    source_name: str | None
    subject_sha256: str
    requested_by: str | None
    note: str
    overdue: bool
    closed_at: str | None
    closed_by: str | None
    resolution: str | None


def normalise_deadline(deadline: str | date | datetime | None) -> str | None:
    """ISO text: a date stays a date (due by the end of that day, UTC), a time becomes UTC.

    A time without a zone is taken as UTC.
    """
    if deadline is None or deadline == "":
        return None
    if isinstance(deadline, str):
        try:
            parsed: date | datetime = (
                date.fromisoformat(deadline)
                if len(deadline.strip()) == 10
                else datetime.fromisoformat(deadline.strip())
            )
        except ValueError:
            raise RequestError(
                f"The deadline {deadline!r} is not an ISO date or time (e.g. 2025-03-31)."
            ) from None
        return normalise_deadline(parsed)
    if isinstance(deadline, datetime):
        aware = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(deadline, date):
        return deadline.isoformat()
    raise RequestError("A deadline must be an ISO date or time, or None.")


def deadline_moment(deadline: str | None) -> datetime | None:
    """The instant a deadline passes: the end of the day for a date-only deadline."""
    if deadline is None:
        return None
    if len(deadline) == 10:
        return datetime.combine(date.fromisoformat(deadline), time.max, tzinfo=UTC)
    return datetime.fromisoformat(deadline)


def _request_from_row(row: Mapping[str, Any], now: datetime) -> ReviewRequest:
    moment = deadline_moment(row["deadline"])
    return ReviewRequest(
        id=row["id"],
        analysis_id=row["analysis_id"],
        gate=row["gate"],
        type=row["type"],
        priority=row["priority"],
        deadline=row["deadline"],
        assignee=row["assignee"],
        created_at=row["created_at"],
        status=row["status"],
        source_sha256=row["source_sha256"],
        source_name=row["source_name"],
        subject_sha256=row["subject_sha256"],
        requested_by=row["requested_by"],
        note=row["note"],
        overdue=row["status"] == "open" and moment is not None and moment < now,
        closed_at=row["closed_at"],
        closed_by=row["closed_by"],
        resolution=row["resolution"],
    )


def _queue_order(request: ReviewRequest) -> tuple:
    moment = deadline_moment(request.deadline)
    return (
        request.priority,
        moment is None,
        moment or datetime.min,
        request.created_at,
        request.id,
    )


def _checked_priority(priority: int) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
        raise RequestError("A review priority is a whole number from 1 (highest) to 5.")
    return priority


def _select(db: Connection, where: str, params: list[Any], now: datetime) -> list[ReviewRequest]:
    rows = db.query(f"{_SELECT} WHERE {where}", params)
    return [_request_from_row(row, now) for row in rows]


def _close_in(
    trail: AuditTrail,
    db: Connection,
    request: ReviewRequest,
    *,
    resolution: str,
    actor: str | None,
) -> None:
    """Close one open request and record it, inside the caller's write transaction."""
    db.execute(
        "UPDATE review_requests SET status = 'closed', closed_at = ?, closed_by = ?, "
        "resolution = ? WHERE id = ? AND status = 'open'",
        [utc_now_iso(), actor, resolution, request.id],
    )
    payload = {
        "action": "closed",
        "request_id": request.id,
        "gate": request.gate,
        "subject_sha256": request.subject_sha256,
        "resolution": resolution,
    }
    trail.append_in(db, "request", payload, analysis_id=request.analysis_id, actor=actor)


def request_review(
    target: AuditTrail | Path | str,
    *,
    analysis_id: str,
    gate: str,
    subject_sha256: str,
    type: RequestType = "approval",
    priority: int = 3,
    deadline: str | date | datetime | None = None,
    assignee: str | None = None,
    requested_by: str | None = None,
    note: str = "",
) -> ReviewRequest | None:
    """Ask for a review of one subject at one gate; idempotent while the request is open.

    Returns the open request (new or existing), or None when a decision has already opened
    the gate for this exact subject (nothing is left to review). An open request for an
    older subject at the same gate is closed as superseded.
    """
    try:
        gate_by_id(gate)
        subject = checked_subject(subject_sha256)
    except GateError as error:
        raise RequestError(str(error)) from None
    if type not in REQUEST_TYPES:
        raise RequestError(
            f"Unknown request type {type!r}: use approval, correction or validation."
        )
    fields: _NewRequest = {
        "analysis_id": analysis_id,
        "gate": gate,
        "subject_sha256": subject,
        "type": type,
        "priority": _checked_priority(priority),
        "deadline": normalise_deadline(deadline),
        "assignee": (assignee or "").strip() or None,
        "requested_by": (requested_by or "").strip() or None,
        "note": note or "",
    }
    trail = trail_of(target)
    now = datetime.now(UTC)

    def request(db: Connection) -> ReviewRequest | None:
        if read_analysis(db, analysis_id) is None:
            raise RequestError(
                f"Analysis {analysis_id} is not registered, so a reviewer could not reopen it."
            )
        history = decisions(trail, analysis_id=analysis_id, gate=gate)
        settled = [d for d in history if d.subject_sha256 == fields["subject_sha256"]]
        if settled and settled[-1].verdict in OPENING_VERDICTS:
            return None
        same_gate = _select(
            db, "r.status = 'open' AND r.analysis_id = ? AND r.gate = ?", [analysis_id, gate], now
        )
        for existing in same_gate:
            if existing.subject_sha256 == fields["subject_sha256"]:
                return existing
            _close_in(trail, db, existing, resolution="superseded", actor=fields["requested_by"])
        row = db.single(
            "INSERT INTO review_requests (analysis_id, gate, subject_sha256, type, priority, "
            "deadline, assignee, requested_by, note, created_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open') RETURNING id",
            [*fields.values(), utc_now_iso()],
        )
        request_id = row["id"]
        payload = {"action": "opened", "request_id": request_id, **fields}
        payload.pop("analysis_id")
        trail.append_in(
            db, "request", payload, analysis_id=analysis_id, actor=fields["requested_by"]
        )
        return _select(db, "r.id = ?", [request_id], now)[0]

    return trail.write(request)


def open_requests(
    target: AuditTrail | Path | str,
    *,
    now: datetime | None = None,
    analysis_id: str | None = None,
    gate: str | None = None,
    assignee: str | None = None,
) -> list[ReviewRequest]:
    """The queue across all analyses in the file: priority first, then earliest deadline."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    where, params = ["r.status = 'open'"], []
    for column, value in (("analysis_id", analysis_id), ("gate", gate), ("assignee", assignee)):
        if value is not None:
            where.append(f"r.{column} = ?")
            params.append(value)
    requests = trail_of(target).storage.read(
        lambda db: _select(db, " AND ".join(where), params, moment)
    )
    return sorted(requests, key=_queue_order)


def get_request(target: AuditTrail | Path | str, request_id: int) -> ReviewRequest | None:
    """One request, open or closed."""
    found = trail_of(target).storage.read(
        lambda db: _select(db, "r.id = ?", [request_id], datetime.now(UTC))
    )
    return found[0] if found else None


def route_request(
    target: AuditTrail | Path | str,
    request_id: int,
    *,
    assignee: str | None,
    deadline: str | date | datetime | None,
    priority: int,
    actor: str | None = None,
) -> ReviewRequest:
    """Give an open request its reviewer, deadline and priority; recorded as a `request`
    event with what changed, so the trail shows who routed the review and when.

    Routing is how a person is invited to someone else's analysis (`review.access`), so a
    request already routed to a person of an analysis with an owner may be routed again only
    by that owner or that assignee (`actor`); anyone may route an unassigned one, which the
    whole team may take up anyway."""
    fields = {
        "assignee": (assignee or "").strip() or None,
        "deadline": normalise_deadline(deadline),
        "priority": _checked_priority(priority),
    }
    trail = trail_of(target)
    now = datetime.now(UTC)

    def route(db: Connection) -> ReviewRequest:
        found = _select(db, "r.id = ?", [request_id], now)
        if not found:
            raise RequestError(f"There is no review request {request_id} in this review file.")
        if found[0].status != "open":
            raise RequestError(f"Review request {request_id} is closed; it cannot be routed.")
        analysis = read_analysis(db, found[0].analysis_id)
        owner = analysis.owner if analysis is not None else None
        assignee = found[0].assignee
        if owner is not None and assignee is not None and actor not in (owner, assignee):
            raise RequestError(
                f"Review request {request_id} is routed to {assignee}: only they or {owner}, "
                "whose analysis it is, may route it elsewhere."
            )
        db.execute(
            "UPDATE review_requests SET assignee = ?, deadline = ?, priority = ? WHERE id = ?",
            [*fields.values(), request_id],
        )
        payload = {"action": "routed", "request_id": request_id, "gate": found[0].gate, **fields}
        trail.append_in(db, "request", payload, analysis_id=found[0].analysis_id, actor=actor)
        return _select(db, "r.id = ?", [request_id], now)[0]

    return trail.write(route)


def close_request(
    target: AuditTrail | Path | str,
    request_id: int,
    *,
    resolution: str = "withdrawn",
    actor: str | None = None,
) -> ReviewRequest:
    """Close a request by hand (e.g. withdrawn); closing a closed one changes nothing."""
    trail = trail_of(target)

    def close(db: Connection) -> ReviewRequest:
        found = _select(db, "r.id = ?", [request_id], datetime.now(UTC))
        if not found:
            raise RequestError(f"There is no review request {request_id} in this review file.")
        if found[0].status == "open":
            _close_in(trail, db, found[0], resolution=resolution, actor=actor)
        return _select(db, "r.id = ?", [request_id], datetime.now(UTC))[0]

    return trail.write(close)


def close_requests_in(trail: AuditTrail, db: Connection, decision: Decision) -> list[int]:
    """Close the open requests a decision answers (same analysis, gate and subject).

    Runs inside the decision's own write transaction, so a decision never leaves its request
    open. Returns the ids closed.
    """
    answered = _select(
        db,
        "r.status = 'open' AND r.analysis_id = ? AND r.gate = ? AND r.subject_sha256 = ?",
        [decision.analysis_id, decision.gate, decision.subject_sha256],
        datetime.now(UTC),
    )
    for request in answered:
        _close_in(trail, db, request, resolution=decision.verdict, actor=decision.reviewer)
    return [request.id for request in answered]


def close_superseded(
    target: AuditTrail | Path | str,
    *,
    analysis_id: str,
    gates: Sequence[str],
    keep: str | None = None,
    resolution: str = "superseded",
) -> list[int]:
    """Close the open requests at `gates` whose subject is not `keep`, with `resolution`.

    Why: a request asks about one subject; once that subject is no longer the one under
    review (a slider moved and moved back, an upstream gate closed again), the request would
    sit in the team's queue for something nobody can decide. Returns the ids closed.
    """
    if not gates:
        return []
    trail = trail_of(target)
    marks = ", ".join("?" for _ in gates)

    def close(db: Connection) -> list[int]:
        stale = [
            r
            for r in _select(
                db,
                f"r.status = 'open' AND r.analysis_id = ? AND r.gate IN ({marks})",
                [analysis_id, *gates],
                datetime.now(UTC),
            )
            if r.subject_sha256 != keep
        ]
        for request in stale:
            _close_in(trail, db, request, resolution=resolution, actor=None)
        return [r.id for r in stale]

    return trail.write(close)
