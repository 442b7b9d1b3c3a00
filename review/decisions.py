"""Recording a decision: validated first, then one write that also closes the requests it
answers.

Why here and not in `review.gates`: a decision touches both the gates (what it is bound to)
and the review queue (which requests it settles); this module is the one place that knows
both, so neither imports the other.

Who decides: when the server knows who people are (`review.identity`), `decide_answer` is
given the signed-in person and records the decision under their name whatever was typed;
refuses a person the analysis does not belong to and whom no open review request invites
(`review.access`); and refuses the export authorisation of the person who opened the
analysis (maker-checker). All of it before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from review.access import check_access
from review.answers import Answer, validate_answer
from review.audit import AuditTrail
from review.gates import (
    Decision,
    GateState,
    Verdict,
    checked_modifications,
    checked_reviewer,
    checked_subject,
    decision_from_event,
    gate_by_id,
    subject_of,
    upstream_of,
)
from review.identity import Identity, check_maker_checker, reviewer_for
from review.requests import close_requests_in
from steps.errors import GateError
from steps.record import Record
from steps.settings import IdentitySettings


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
    subject_parts: Mapping[str, Any] | None = None,
) -> Decision:
    """Validate and record a decision (a `decision` event); close matching review requests.

    `subject_parts` are what the subject hash was made of, kept so that when the approval
    stops applying the gate can say what changed.

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
        "modifications": checked_modifications(verdict, modifications),
        "details": dict(details or {}),
        "subject_sha256": checked_subject(subject_sha256),
        "subject_parts": dict(subject_parts or {}),
    }
    reviewer_name = checked_reviewer(reviewer)
    with trail.connect() as db, trail.write_transaction(db):
        event = trail.append_in(
            db, "decision", payload, analysis_id=analysis_id, actor=reviewer_name
        )
        decision = decision_from_event(event)
        close_requests_in(trail, db, decision)
    return decision


def decide_answer(
    trail: AuditTrail,
    *,
    analysis_id: str,
    gate: str,
    record: Record,
    answer: Answer,
    upstream: GateState | None,
    identity: Identity | None = None,
    identities: IdentitySettings | None = None,
) -> Decision:
    """Record a submitted gate form for this record.

    Everything is checked before anything is written: the gate before it must be open, the
    answer must mean something at this gate (`GateSpec.read`), and the decision is bound to
    the subject of the record *as the answer leaves it* (a gate-1 modify binds its plan).
    With `identities` (the settings' `identity`; None: typed names) saying the server
    knows people, the reviewer is `identity` (the typed name is ignored), who must own the
    analysis or be invited to it, and who may not authorise the export of an analysis they
    opened (maker-checker, unless turned off).
    """
    spec = gate_by_id(gate)
    before = upstream_of(gate)
    if before is not None and (upstream is None or upstream.gate != before):
        # Without the state of the gate just before this one there is nothing to check it is
        # open, and the subject would fold in the wrong (or no) upstream subject.
        waiting = gate_by_id(before).title
        raise GateError(f"{spec.title} waits for {waiting.lower()} sign-off; decide that first.")
    if upstream is not None and not upstream.open:
        waiting = gate_by_id(upstream.blocked_by or upstream.gate).title
        raise GateError(f"{spec.title} waits for {waiting.lower()} sign-off; decide that first.")
    identities = identities or IdentitySettings()
    if answer:
        answer = {**answer, "reviewer": reviewer_for(answer.get("reviewer"), identity, identities)}
    missing = validate_answer(answer)
    if missing:
        raise GateError(missing)
    reviewer = answer["reviewer"]
    if identities.source is not None:
        check_access(trail, analysis_id, reviewer)
    check_maker_checker(
        trail, analysis_id, gate, reviewer, identities, verdict=answer.get("verdict") or ""
    )
    reading = spec.read(answer, record)
    parts = spec.subject(reading.record)
    subject = subject_of(gate, reading.record, upstream.chain_sha256 if upstream else None)
    if subject is None:
        raise GateError(f"{spec.title} does not apply to this analysis.")
    verdict = answer["verdict"]
    return decide(
        trail,
        analysis_id=analysis_id,
        gate=gate,
        subject_sha256=subject,
        verdict=verdict,
        reviewer=reviewer,
        notes=answer.get("notes") or "",
        modifications=reading.modifications if verdict == "modify" else None,
        details=reading.details,
        subject_parts=parts,
    )
