"""The five review gates and the decisions that open them, bound to a subject hash.

Why a subject hash: an approval is a statement about one exact thing — these bytes, this
cleaning plan, this threshold, these recommendations. `subject_hash(...)` digests those
parts; a decision records it; `gate_state(...)` opens a gate only when the latest decision
*for that exact subject* is approve or modify. Change anything upstream and the subject
changes, so the earlier decision shows as stale instead of silently applying.

`subject_chain(...)` folds each gate's subject into the next one's, so a change at gate 2
(say, the threshold) makes gates 2–5 stale together. Decisions live only in the audit
trail (kind `decision`), so they are hash-chained like every other event.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from review.audit import AuditTrail, Event, canonical_json
from steps.errors import GateError
from steps.results import ToDict

Verdict = Literal["approve", "reject", "modify"]
GateStatus = Literal["pending", "approved", "rejected", "modified", "stale", "not_applicable"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
MAX_REVIEWER_CHARS = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STATUS_OF_VERDICT: dict[str, GateStatus] = {
    "approve": "approved",
    "reject": "rejected",
    "modify": "modified",
}


@dataclass(frozen=True)
class Gate(ToDict):
    """A point where a person signs off before anything downstream builds on the result."""

    id: str
    title: str
    guards: str
    order: int


GATES: tuple[Gate, ...] = (
    Gate("data_quality", "Data quality", "the data (and cleaning plan) every step uses", 1),
    Gate(
        "analysis_validation",
        "Analysis validation",
        "the statistics (threshold, methods) that findings are drawn from",
        2,
    ),
    Gate("model_approval", "Model approval", "the baseline model for the chosen target", 3),
    Gate(
        "result_verification",
        "Result verification",
        "the recommendations and findings put in the report",
        4,
    ),
    Gate(
        "export_authorization",
        "Export authorization",
        "the final exports that leave the app",
        5,
    ),
)
GATE_IDS: tuple[str, ...] = tuple(gate.id for gate in GATES)


@dataclass(frozen=True)
class Decision(ToDict):
    """One reviewer's verdict on one subject at one gate, as recorded in the trail."""

    gate: str
    verdict: Verdict
    reviewer: str
    notes: str
    modifications: dict[str, Any]
    details: dict[str, Any]
    subject_sha256: str
    analysis_id: str
    decided_at: str
    event_id: int


@dataclass(frozen=True)
class GateState(ToDict):
    """Where a gate stands for the current subject, and whether downstream may run.

    `open` is the only thing a caller should test to let downstream run. `blocked_by`
    names the first upstream gate that is not open (set by `gate_states`). `message` holds
    the reviewer's name as typed: escape it wherever it is rendered as HTML or markdown.
    """

    gate: str
    status: GateStatus
    subject_sha256: str | None
    decision: Decision | None
    stale: bool
    stale_subject_sha256: str | None
    open: bool
    message: str
    blocked_by: str | None = None

    def report_entry(self) -> dict[str, Any]:
        """The report's `gates.<gate>` object (docs/report.md)."""
        decision = self.decision
        return {
            "status": self.status,
            "open": self.open,
            "verdict": decision.verdict if decision else None,
            "reviewer": decision.reviewer if decision else None,
            "decided_at": decision.decided_at if decision else None,
            "subject_sha256": self.subject_sha256,
            "decided_subject_sha256": decision.subject_sha256 if decision else None,
            "notes": decision.notes if decision else None,
            "modifications": decision.modifications if decision else None,
            "details": decision.details if decision else None,
            "blocked_by": self.blocked_by,
        }


def gate_by_id(gate: str) -> Gate:
    """The gate with that id; an unknown id is refused (so a typo never opens anything)."""
    for candidate in GATES:
        if candidate.id == gate:
            return candidate
    raise GateError(f"Unknown gate {gate!r}: use one of {', '.join(GATE_IDS)}.")


def subject_hash(**parts: Any) -> str:
    """SHA-256 of the canonical JSON of the parts (data sha256, plan, threshold, digest, ...)."""
    if not parts:
        raise GateError("A subject hash needs at least one part to describe what is approved.")
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


def subject_chain(parts_by_gate: Mapping[str, Mapping[str, Any] | None]) -> dict[str, str | None]:
    """Subjects for every gate, each including the nearest upstream subject.

    A gate missing from the mapping or mapped to None is not applicable (subject None) and
    passes the upstream subject through unchanged.
    """
    unknown = set(parts_by_gate) - set(GATE_IDS)
    if unknown:
        raise GateError(f"Unknown gate {sorted(unknown)[0]!r}: use one of {', '.join(GATE_IDS)}.")
    subjects: dict[str, str | None] = {}
    upstream: str | None = None
    for gate_id in GATE_IDS:
        parts = parts_by_gate.get(gate_id)
        if parts is None:
            subjects[gate_id] = None
            continue
        upstream = next_subject(upstream, gate_id, parts)
        subjects[gate_id] = upstream
    return subjects


def next_subject(upstream: str | None, gate: str, parts: Mapping[str, Any]) -> str:
    """One gate's subject: its own parts folded onto the nearest upstream gate's subject.

    The app computes subjects gate by gate as its cells run; `subject_chain` computes them
    all at once; both go through here, so they always agree.
    """
    gate_by_id(gate)
    if {"upstream", "gate"} & set(parts):
        raise GateError("Subject parts may not be named 'upstream' or 'gate': those are set here.")
    return subject_hash(upstream=upstream, gate=gate, **parts)


def checked_subject(subject_sha256: str) -> str:
    """The subject hash in lower case; anything but 64 hex characters is refused."""
    if not isinstance(subject_sha256, str) or not _SHA256.fullmatch(subject_sha256.lower()):
        raise GateError("A subject hash must be a SHA-256: 64 hexadecimal characters.")
    return subject_sha256.lower()


def _checked_reviewer(reviewer: str | None) -> str:
    name = (reviewer or "").strip()
    if not name:
        raise GateError("A decision needs the reviewer's name.")
    if len(name) > MAX_REVIEWER_CHARS:
        raise GateError(f"A reviewer name must be at most {MAX_REVIEWER_CHARS} characters.")
    return name


def _checked_modifications(verdict: str, modifications: Mapping[str, Any] | None) -> dict:
    if verdict not in VERDICTS:
        raise GateError(f"Unknown verdict {verdict!r}: use approve, reject or modify.")
    mods = dict(modifications or {})
    if verdict == "modify" and not mods:
        raise GateError("A modify decision needs the modifications it makes.")
    if verdict != "modify" and mods:
        raise GateError(f"Modifications go with a modify decision, not with {verdict}.")
    return mods


def decide(
    trail: AuditTrail,
    *,
    analysis_id: str,
    gate: str,
    subject_sha256: str,
    verdict: Verdict,
    reviewer: str,
    notes: str = "",
    modifications: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> Decision:
    """Validate and record a decision (a `decision` event); close matching review requests.

    `modifications` change what downstream builds on, so only a modify carries them;
    `details` annotate any verdict (e.g. gate 4's accept / reject / edit per item) and
    change nothing upstream.
    """
    gate_by_id(gate)
    if not analysis_id:
        raise GateError("A decision needs the analysis it belongs to.")
    payload = {
        "gate": gate,
        "verdict": verdict,
        "notes": notes or "",
        "modifications": _checked_modifications(verdict, modifications),
        "details": dict(details or {}),
        "subject_sha256": checked_subject(subject_sha256),
    }
    reviewer_name = _checked_reviewer(reviewer)
    # Imported here: requests builds on gates (it validates gate ids with them).
    from review.requests import close_requests_in

    with trail.connect() as db, trail.write_transaction(db):
        event = trail.append_in(
            db, "decision", payload, analysis_id=analysis_id, actor=reviewer_name
        )
        decision = decision_from_event(event)
        close_requests_in(trail, db, decision)
    return decision


def decision_from_event(event: Event) -> Decision:
    """Read a `decision` event back as a Decision."""
    payload = event.payload
    return Decision(
        gate=payload["gate"],
        verdict=payload["verdict"],
        reviewer=event.actor or "",
        notes=payload.get("notes", ""),
        modifications=payload.get("modifications", {}),
        details=payload.get("details", {}),
        subject_sha256=payload["subject_sha256"],
        analysis_id=event.analysis_id or "",
        decided_at=event.at,
        event_id=event.id,
    )


def decisions(trail: AuditTrail, *, analysis_id: str, gate: str | None = None) -> list[Decision]:
    """Every decision of an analysis (optionally one gate), oldest first."""
    events = trail.events(analysis_id=analysis_id, kind="decision", gate=gate)
    return [decision_from_event(event) for event in events]


def gate_state(
    trail: AuditTrail, *, analysis_id: str, gate: str, subject_sha256: str | None
) -> GateState:
    """The gate's state for this subject, judged on the decisions recorded so far."""
    gate_by_id(gate)
    history = decisions(trail, analysis_id=analysis_id, gate=gate)
    return _state_from_history(gate, subject_sha256, history)


def gate_states(
    trail: AuditTrail, *, analysis_id: str, subjects: Mapping[str, str | None]
) -> dict[str, GateState]:
    """States of all five gates in order; a gate is open only if every gate upstream is too.

    A gate absent from `subjects` counts as not applicable.
    """
    for gate_id in subjects:
        gate_by_id(gate_id)
    history = decisions(trail, analysis_id=analysis_id)
    states: dict[str, GateState] = {}
    blocker: str | None = None
    for gate_id in GATE_IDS:
        own = [d for d in history if d.gate == gate_id]
        state = _state_from_history(gate_id, subjects.get(gate_id), own)
        if blocker is not None and state.open:
            title = gate_by_id(blocker).title.lower()
            state = replace(
                state, open=False, blocked_by=blocker, message=f"Waiting for {title} sign-off."
            )
        elif blocker is not None:
            state = replace(state, blocked_by=blocker)
        if not state.open and blocker is None:
            blocker = gate_id
        states[gate_id] = state
    return states


def _state_from_history(
    gate: str, subject_sha256: str | None, history: list[Decision]
) -> GateState:
    """Latest decision for this exact subject wins; any other subject's decision is stale."""
    title = gate_by_id(gate).title
    if subject_sha256 is None:
        return GateState(
            gate, "not_applicable", None, None, False, None, True, f"{title}: not applicable."
        )
    subject = checked_subject(subject_sha256)
    for decision in reversed(history):
        if decision.subject_sha256 == subject:
            status = _STATUS_OF_VERDICT[decision.verdict]
            message = f"{title}: {status} by {decision.reviewer}."
            is_open = status != "rejected"
            return GateState(gate, status, subject, decision, False, None, is_open, message)
    if history:
        latest = history[-1]
        return GateState(
            gate,
            "stale",
            subject,
            latest,
            True,
            latest.subject_sha256,
            False,
            f"{title}: stale — something upstream changed since {latest.reviewer}'s "
            f"{latest.verdict}; needs re-approval.",
        )
    return GateState(
        gate, "pending", subject, None, False, None, False, f"{title}: awaiting a reviewer."
    )


def record_stale(
    trail: AuditTrail, *, analysis_id: str, states: Mapping[str, GateState]
) -> list[Event]:
    """Append one `stale` event per gate that turned stale, once per (decision, new subject).

    Why: the trail should show *that* an approval stopped applying, not only later decisions.
    """
    with trail.connect() as db, trail.write_transaction(db):
        # Holding the write lock, no other session can record the same change meanwhile.
        recorded = trail.events(analysis_id=analysis_id, kind="stale")
        seen = {
            (
                e.payload.get("gate"),
                e.payload.get("decision_event_id"),
                e.payload.get("subject_sha256"),
            )
            for e in recorded
        }
        appended = []
        for gate_id, state in states.items():
            if not state.stale or state.decision is None:
                continue
            key = (gate_id, state.decision.event_id, state.subject_sha256)
            if key in seen:
                continue
            payload = {
                "gate": gate_id,
                "decision_event_id": state.decision.event_id,
                "decided_subject_sha256": state.stale_subject_sha256,
                "subject_sha256": state.subject_sha256,
            }
            appended.append(trail.append_in(db, "stale", payload, analysis_id=analysis_id))
    return appended
