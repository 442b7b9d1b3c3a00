"""The report both producers write: the record's content under the gates' states and the
audit summary, and the figures that go with it."""

from __future__ import annotations

from collections.abc import Sequence

from review.audit import AuditTrail
from review.gates import STATUS_OF_VERDICT, GateState, gate_by_id, latest_decision
from steps.errors import ExportError
from steps.exports import AuditExtract
from steps.record import Record
from steps.report import AuditSummary, Report, build_report, result_digest
from steps.results import ToDict


def audit_summary(trail: AuditTrail, analysis_id: str) -> AuditSummary:
    """The report's audit block: this analysis's events and the chain head they hang from."""
    head = trail.chain_head()
    return AuditSummary(
        head_sha256=trail.head(),
        verified=trail.verify().ok,
        events=tuple(e.to_dict() for e in trail.events(analysis_id=analysis_id)),
        chain_head=head.to_dict() if head is not None else None,
    )


def report(
    record: Record,
    states: Sequence[GateState],
    *,
    audit: AuditSummary | None = None,
) -> Report:
    """The report of `record` as the gates stand (`states`, in flow order)."""
    return build_report(record, (s.report_entry() for s in states), audit=audit)


def check_decisions_stand(trail: AuditTrail, analysis_id: str, states: Sequence[GateState]) -> None:
    """Refuse (one `ExportError` sentence) when a gate's latest decision in the trail is not
    the one `states` were judged on.

    A page's gates are judged when its cells run; a reviewer in another session can reject
    or re-decide a gate afterwards, and that page never hears of it. Downloads call this at
    the moment of the click, so a revoked approval exports nothing.
    """
    for state in states:
        shown = state.decision
        latest = latest_decision(trail, analysis_id=analysis_id, gate=state.gate)
        if latest is None or shown is None or latest.event_id == shown.event_id:
            continue
        raise ExportError(
            f"{gate_by_id(state.gate).title} was {STATUS_OF_VERDICT[latest.verdict]} "
            f"by {latest.reviewer} at {latest.decided_at}, after this page was built; "
            "nothing was exported: reload the page to see the decisions as they stand."
        )


def audit_extract(trail: AuditTrail, analysis_id: str) -> AuditExtract:
    """The analysis's events for a bundle, then the sealed head (read after, so it is at
    or past every event)."""
    events = trail.to_jsonl(analysis_id=analysis_id).encode()
    head = trail.chain_head()
    return AuditExtract(events, head.to_dict() if head is not None else None)


def record_step(trail: AuditTrail, analysis_id: str, step: str, result: ToDict | None) -> None:
    """A `step` audit event naming a result by its digest (never its rows); nothing for a
    step that produced no result."""
    if result is None:
        return
    trail.append("step", {"step": step, "digest": result_digest(result)}, analysis_id=analysis_id)
