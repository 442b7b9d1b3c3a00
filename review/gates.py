"""The review gates as data, and the state each is in for the subject under review.

Why a table: every gate is the same mechanism — a subject bound to an approval, a form, a
state — so the app, the report, the queue and the docs all read `GATES` instead of naming
gates by hand. A gate added to the table is ordered, bound, staled and reported with no
other change. Each spec says what it guards, how its subject is built from the typed
`Record`, which controls a *modify* offers and what an answer means (`review.answers`),
and what the queue asks for while it waits.

Why a subject hash: an approval is a statement about one exact thing — these bytes, this
cleaning plan, this threshold, these recommendations. Each gate's subject folds in the one
before it (`next_subject`), so a change at gate 2 makes gates 2–5 stale together; a decision
opens its gate only for the exact subject it was made on. Decisions live only in the audit
trail (kind `decision`), hash-chained like every other event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from review import answers
from review.answers import Answer, Control, Reading
from review.audit import AuditTrail, Event
from steps.errors import GateError
from steps.record import Record
from steps.report import GateEntry, GateStatus
from steps.results import ToDict
from steps.text import json_sha256

Verdict = Literal["approve", "reject", "modify"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
RequestType = Literal["approval", "validation", "correction"]
MAX_REVIEWER_CHARS = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")
STATUS_OF_VERDICT: dict[str, GateStatus] = {
    "approve": "approved",
    "reject": "rejected",
    "modify": "modified",
}


def _no_controls(record: Record) -> tuple[Control, ...]:
    return ()


def _nothing_in_force(record: Record, decision: answers.Decided | None) -> Record:
    return record


@dataclass(frozen=True)
class GateSpec:
    """One gate: what it signs off, how its subject is built, what *modify* means.

    `subject(record)` returns the parts an approval binds (None: not applicable, and the
    gate passes its upstream subject through). `controls(record)` lists what a *modify*
    offers — none means modify is not offered. `read(answer, record)` validates an answer
    and says what it records; it raises a `SignoffError` sentence before anything is
    recorded. `in_force(record, decision)` is the record as the gate's latest decision
    leaves it (gate 1's plan, gate 2's rejected findings, ...; None: as if undecided).
    """

    id: str
    title: str
    guards: str
    request_type: RequestType
    subject: Callable[[Record], Mapping[str, Any] | None]
    controls: Callable[[Record], tuple[Control, ...]] = _no_controls
    read: Callable[[Answer, Record], Reading] = answers.plain_reading
    in_force: Callable[[Record, answers.Decided | None], Record] = _nothing_in_force


GATES: tuple[GateSpec, ...] = (
    GateSpec(
        "data_quality",
        "Data quality",
        "the data (and cleaning plan) every step uses",
        "approval",
        answers.data_quality_subject,
        answers.data_quality_controls,
        answers.read_data_quality,
        answers.plan_in_force,
    ),
    GateSpec(
        "analysis_validation",
        "Analysis validation",
        "the statistics (threshold, methods) that findings are drawn from",
        "validation",
        answers.analysis_validation_subject,
        answers.analysis_validation_controls,
        answers.read_analysis_validation,
        answers.rejected_in_force,
    ),
    GateSpec(
        "model_approval",
        "Model approval",
        "the baseline model for the chosen target",
        "approval",
        answers.model_approval_subject,
        answers.model_approval_controls,
        answers.read_model_approval,
        answers.model_choice_in_force,
    ),
    GateSpec(
        "result_verification",
        "Result verification",
        "the recommendations and findings put in the report",
        "validation",
        answers.result_verification_subject,
        answers.result_verification_controls,
        answers.read_result_verification,
        answers.reviews_in_force,
    ),
    GateSpec(
        "export_authorization",
        "Export authorization",
        "the final exports that leave the app",
        "approval",
        answers.export_authorization_subject,
    ),
)


def gate_table() -> tuple[GateSpec, ...]:
    """The gates in flow order (read at call time, so a test may extend the table)."""
    return GATES


def gate_ids() -> tuple[str, ...]:
    return tuple(g.id for g in gate_table())


def gate_by_id(gate: str) -> GateSpec:
    """The gate with that id; an unknown id is refused (so a typo never opens anything)."""
    for spec in gate_table():
        if spec.id == gate:
            return spec
    raise GateError(f"Unknown gate {gate!r}: use one of {', '.join(gate_ids())}.")


def order_of(gate: str) -> int:
    """The gate's place in the flow, from 1."""
    return gate_ids().index(gate_by_id(gate).id) + 1


def upstream_of(gate: str) -> str | None:
    """The gate just before this one, whose subject this one's folds in."""
    position = order_of(gate) - 1
    return gate_ids()[position - 1] if position else None


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
    subject_parts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateState(ToDict):
    """Where a gate stands for the current subject, and whether downstream may run.

    `open` is the only thing a caller should test to let downstream run. `blocked_by`
    names the first upstream gate that is not open. `chain_sha256` is what the next gate's
    subject folds in: this gate's subject, or the one passed through when it does not
    apply. `message` holds the reviewer's name as typed: escape it wherever it is rendered
    as HTML or markdown.
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
    chain_sha256: str | None = None

    def report_entry(self) -> GateEntry:
        """What the report says of this gate (docs/report.md, `gates`)."""
        decision = self.decision
        return GateEntry(
            id=self.gate,
            title=gate_by_id(self.gate).title,
            status=self.status,
            open=self.open,
            message=self.message,
            verdict=decision.verdict if decision else None,
            reviewer=decision.reviewer if decision else None,
            decided_at=decision.decided_at if decision else None,
            subject_sha256=self.subject_sha256,
            decided_subject_sha256=decision.subject_sha256 if decision else None,
            notes=decision.notes if decision else None,
            modifications=decision.modifications if decision else None,
            details=decision.details if decision else None,
            blocked_by=self.blocked_by,
        )


def subject_hash(**parts: Any) -> str:
    """SHA-256 of the canonical JSON of the parts (data sha256, plan, threshold, digest, ...)."""
    if not parts:
        raise GateError("A subject hash needs at least one part to describe what is approved.")
    return json_sha256(parts)


def next_subject(upstream: str | None, gate: str, parts: Mapping[str, Any]) -> str:
    """One gate's subject: its own parts folded onto the nearest upstream gate's subject."""
    gate_by_id(gate)
    if {"upstream", "gate"} & set(parts):
        raise GateError("Subject parts may not be named 'upstream' or 'gate': those are set here.")
    return subject_hash(upstream=upstream, gate=gate, **parts)


def subject_of(gate: str, record: Record, upstream: str | None) -> str | None:
    """The gate's subject for this record, or None when the gate does not apply."""
    parts = gate_by_id(gate).subject(record)
    return None if parts is None else next_subject(upstream, gate, parts)


def subject_chain(record: Record) -> dict[str, str | None]:
    """Every gate's subject for a complete record; a gate that does not apply (None)
    passes the upstream subject through unchanged."""
    subjects: dict[str, str | None] = {}
    upstream: str | None = None
    for spec in gate_table():
        subject = subject_of(spec.id, record, upstream)
        subjects[spec.id] = subject
        upstream = subject or upstream
    return subjects


def checked_subject(subject_sha256: str) -> str:
    """The subject hash in lower case; anything but 64 hex characters is refused."""
    if not isinstance(subject_sha256, str) or not _SHA256.fullmatch(subject_sha256.lower()):
        raise GateError("A subject hash must be a SHA-256: 64 hexadecimal characters.")
    return subject_sha256.lower()


def checked_reviewer(reviewer: str | None) -> str:
    name = (reviewer or "").strip()
    if not name:
        raise GateError("A decision needs the reviewer's name.")
    if len(name) > MAX_REVIEWER_CHARS:
        raise GateError(f"A reviewer name must be at most {MAX_REVIEWER_CHARS} characters.")
    return name


def checked_modifications(verdict: str, modifications: Mapping[str, Any] | None) -> dict:
    if verdict not in VERDICTS:
        raise GateError(f"Unknown verdict {verdict!r}: use approve, reject or modify.")
    mods = dict(modifications or {})
    if verdict == "modify" and not mods:
        raise GateError("A modify decision needs the modifications it makes.")
    if verdict != "modify" and mods:
        raise GateError(f"Modifications go with a modify decision, not with {verdict}.")
    return mods


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
        subject_parts=payload.get("subject_parts", {}),
    )


def decisions(trail: AuditTrail, *, analysis_id: str, gate: str | None = None) -> list[Decision]:
    """Every decision of an analysis (optionally one gate), oldest first."""
    events = trail.events(analysis_id=analysis_id, kind="decision", gate=gate)
    return [decision_from_event(event) for event in events]


def latest_decision(trail: AuditTrail, *, analysis_id: str, gate: str) -> Decision | None:
    history = decisions(trail, analysis_id=analysis_id, gate=gate)
    return history[-1] if history else None


def gate_state(
    trail: AuditTrail,
    *,
    analysis_id: str,
    gate: str,
    subject_sha256: str | None,
    upstream: GateState | None = None,
    rerun: str | None = None,
    parts: Mapping[str, Any] | None = None,
) -> GateState:
    """The gate's state for this subject, judged on the decisions recorded so far.

    With the `upstream` gate's state, a gate behind a closed one is not open either and
    says what it waits for. `rerun` says what the gate's own latest *modify* re-ran (e.g.
    "re-run without x"): the new subject then waits for a reviewer as such, instead of
    reading as if something upstream had changed. With the subject's `parts`, a stale
    approval says what changed since.
    """
    gate_by_id(gate)
    history = decisions(trail, analysis_id=analysis_id, gate=gate)
    state = _state_from_history(gate, subject_sha256, history, rerun, parts)
    chain = state.subject_sha256 or (upstream.chain_sha256 if upstream is not None else None)
    return behind(replace(state, chain_sha256=chain), upstream)


def behind(state: GateState, upstream: GateState | None) -> GateState:
    """A gate's state once the gate before it is taken into account."""
    if upstream is None or upstream.open:
        return state
    blocker = upstream.blocked_by or upstream.gate
    if not state.open or state.status == "not_applicable":
        return replace(state, open=False, blocked_by=blocker)
    title = gate_by_id(blocker).title.lower()
    return replace(state, open=False, blocked_by=blocker, message=f"Waiting for {title} sign-off.")


def gate_states(trail: AuditTrail, *, analysis_id: str, record: Record) -> list[GateState]:
    """States of every gate in order, for a complete record."""
    states: list[GateState] = []
    for gate_id, subject in subject_chain(record).items():
        upstream = states[-1] if states else None
        states.append(
            gate_state(
                trail,
                analysis_id=analysis_id,
                gate=gate_id,
                subject_sha256=subject,
                upstream=upstream,
            )
        )
    return states


def what_changed(before: Mapping[str, Any], now: Mapping[str, Any] | None) -> str:
    """The change that made an approval stale, in words: the gate's own parts that differ
    (`threshold 0.7 → 0.8`), else the gates before it."""
    if now is None or not before:
        return "something it rests on changed"
    changed = [key for key in sorted({*before, *now}) if before.get(key) != now.get(key)]
    if not changed:
        return "an earlier gate's subject changed"
    said = [
        f"{key.replace('_', ' ')} {before.get(key)} → {now.get(key)}"
        for key in changed
        if _is_short(before.get(key)) and _is_short(now.get(key))
    ]
    said += [
        f"the {key.replace('_', ' ')} changed"
        for key in changed
        if not (_is_short(before.get(key)) and _is_short(now.get(key)))
    ]
    return ", ".join(said)


def _is_short(value: Any) -> bool:
    return isinstance(value, int | float | bool) or (isinstance(value, str) and len(value) <= 24)


def undecided_states(record: Record) -> list[GateState]:
    """Every gate's state for a run nobody reviews (headless): pending, or not applicable."""
    states: list[GateState] = []
    for gate_id, subject in subject_chain(record).items():
        state = _state_from_history(gate_id, subject, ())
        states.append(behind(state, states[-1] if states else None))
    return states


def _state_from_history(
    gate: str,
    subject_sha256: str | None,
    history: Sequence[Decision],
    rerun: str | None = None,
    parts: Mapping[str, Any] | None = None,
) -> GateState:
    """Latest decision for this exact subject wins; any other subject's decision is stale,
    unless it is the gate's own modify that produced this subject (`rerun`)."""
    title = gate_by_id(gate).title
    if subject_sha256 is None:
        return GateState(
            gate, "not_applicable", None, None, False, None, True, f"{title}: not applicable."
        )
    subject = checked_subject(subject_sha256)
    for decision in reversed(history):
        if decision.subject_sha256 == subject:
            status = STATUS_OF_VERDICT[decision.verdict]
            message = f"{title}: {status} by {decision.reviewer}."
            is_open = status != "rejected"
            return GateState(gate, status, subject, decision, False, None, is_open, message)
    if history and rerun is not None and history[-1].verdict == "modify":
        latest = history[-1]
        message = f"{title}: {rerun} as {latest.reviewer} asked; awaiting a reviewer."
        return GateState(gate, "pending", subject, latest, False, None, False, message)
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
            f"{title}: stale — {what_changed(latest.subject_parts, parts)} since "
            f"{latest.reviewer}'s {latest.verdict}; needs re-approval.",
        )
    return GateState(
        gate, "pending", subject, None, False, None, False, f"{title}: awaiting a reviewer."
    )


def request_type(gate: str, status: str) -> RequestType:
    """What the review queue asks for: a correction after a reject, else the gate's own."""
    return "correction" if status == "rejected" else gate_by_id(gate).request_type


def record_stale(trail: AuditTrail, *, analysis_id: str, state: GateState) -> Event | None:
    """One `stale` event when an approval stops applying, once per (decision, new subject).

    Why: the trail should show *that* an approval stopped applying, not only later decisions.
    """
    if not state.stale or state.decision is None:
        return None
    with trail.connect() as db, trail.write_transaction(db):
        # Holding the write lock, no other session can record the same change meanwhile.
        for e in trail.events(analysis_id=analysis_id, kind="stale"):
            if (
                e.payload.get("gate") == state.gate
                and e.payload.get("decision_event_id") == state.decision.event_id
                and e.payload.get("subject_sha256") == state.subject_sha256
            ):
                return None
        payload = {
            "gate": state.gate,
            "decision_event_id": state.decision.event_id,
            "decided_subject_sha256": state.stale_subject_sha256,
            "subject_sha256": state.subject_sha256,
        }
        return trail.append_in(db, "stale", payload, analysis_id=analysis_id)
