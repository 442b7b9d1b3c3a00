"""Settling a gate: record a submitted answer (or refuse it), then say where the gate stands
and what its decision puts in force.

The notebook's two cells per gate are a form built from the spec and one call here; the
headless run, which decides nothing, settles every gate with no answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from review.audit import AuditTrail
from review.decisions import decide_answer
from review.gates import (
    GateState,
    gate_by_id,
    gate_ids,
    gate_state,
    latest_decision,
    record_stale,
    request_type,
    subject_of,
)
from review.identity import TYPED_NAMES, Signing
from review.requests import close_superseded, request_review
from steps.errors import SignoffError
from steps.record import Record


@dataclass(frozen=True)
class Settled:
    """A gate after an answer (if any): its state, the record as its decision leaves it,
    and the one-sentence refusal when the answer could not be recorded."""

    state: GateState
    record: Record
    refusal: str | None = None


def settle(
    trail: AuditTrail,
    *,
    analysis_id: str,
    gate: str,
    record: Record,
    answer: Mapping[str, Any] | None = None,
    upstream: GateState | None = None,
    file_requests: bool = True,
    rerun: str | None = None,
    signing: Signing = TYPED_NAMES,
) -> Settled:
    """Record `answer` (validated first: a refusal records nothing), then judge the gate.

    While the gate waits, a review request sits in the shared queue; when an earlier
    approval stops applying, a `stale` event says so in the trail. `file_requests=False`
    is for a run nobody reviews (headless), which must not fill the team's queue. `rerun`
    says what the gate's own last *modify* re-ran (see `review.gates.gate_state`).
    `signing` says who decides (`review.identity.Signing`): typed names unless the server
    knows people.
    """
    spec = gate_by_id(gate)
    refusal = None
    if answer is not None:
        try:
            decide_answer(
                trail,
                analysis_id=analysis_id,
                gate=gate,
                record=record,
                answer=answer,
                upstream=upstream,
                identity=signing.identity,
                identities=signing.settings,
            )
        except SignoffError as error:
            refusal = str(error)
    latest = latest_decision(trail, analysis_id=analysis_id, gate=gate)
    decided = spec.in_force(record, latest)
    chain = upstream.chain_sha256 if upstream is not None else None
    state = gate_state(
        trail,
        analysis_id=analysis_id,
        gate=gate,
        subject_sha256=subject_of(gate, decided, chain),
        upstream=upstream,
        rerun=rerun,
        parts=spec.subject(decided),
    )
    if state.decision is None or state.stale or state.status == "pending":
        decided = spec.in_force(record, None)
    if file_requests:
        _keep_queue(trail, analysis_id, state)
    return Settled(state, decided, refusal)


def _keep_queue(trail: AuditTrail, analysis_id: str, state: GateState) -> None:
    """Keep the team's queue true to the gate: a stale approval is recorded as such; a gate
    waiting for a reviewer has one open request, for its current subject; an open gate has
    none; and the gates after a closed one, which wait for it now, have none either."""
    record_stale(trail, analysis_id=analysis_id, state=state)
    later = gate_ids()[gate_ids().index(state.gate) + 1 :]
    if state.open:
        close_superseded(trail, analysis_id=analysis_id, gates=[state.gate])
        return
    close_superseded(
        trail, analysis_id=analysis_id, gates=later, resolution=f"waiting for {state.gate}"
    )
    if state.subject_sha256 is None or state.blocked_by is not None:
        close_superseded(trail, analysis_id=analysis_id, gates=[state.gate])
        return
    request_review(
        trail,
        analysis_id=analysis_id,
        gate=state.gate,
        subject_sha256=state.subject_sha256,
        type=request_type(state.gate, state.status),
        priority=2 if state.status in ("rejected", "stale") else 3,
    )


def notes_feedback(states: Sequence[GateState]) -> tuple[str, ...]:
    """The reviewers' notes at the gates so far, as lines Step 4 is asked to act on."""
    return tuple(
        f"{gate_by_id(s.gate).title} gate: {s.decision.notes.strip()}"
        for s in states
        if s.decision is not None and not s.stale and s.decision.notes.strip()
    )
