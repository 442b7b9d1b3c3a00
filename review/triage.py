"""A triage remembered from the trail: gate 1's recorded decisions, looked up by fingerprint.

Why the trail and no store of its own: every gate-1 decision already records its triage
(`details.alert_triage`), the columns it was made on (`details.alert_columns`), who decided
and when, and the file's SHA-256 (`subject_parts.data_sha256`). Loading the same bytes
again pre-fills that triage as decided; a file with the same columns but other bytes is
offered it as a suggestion, left open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from review.analyses import get_analysis
from review.audit import AuditTrail
from review.gates import Decision, decision_from_event
from steps.alerts import Alert
from steps.alerts.triage import AlertTriage, Origin, recorded_triage, triage_from_record


def _visible(trail: AuditTrail, decision: Decision, person: str | None) -> bool:
    """Whether `person` may be shown this decision's triage: with people known, only those
    made on analyses they own (or everyone's); without, every decision is everyone's."""
    if person is None:
        return True
    analysis = get_analysis(trail, decision.analysis_id)
    return analysis is None or analysis.owner in (None, person)


def remembered_triage(
    trail: AuditTrail,
    *,
    sha256: str,
    columns: Sequence[str],
    alerts: Iterable[Alert],
    person: str | None = None,
) -> AlertTriage:
    """The latest gate-1 triage recorded on these bytes (`origin: decided`), else the latest
    on a file with exactly these columns (`origin: suggested`); empty when there is none."""
    found = [
        decision_from_event(event) for event in trail.events(kind="decision", gate="data_quality")
    ]
    triaged = [
        d for d in reversed(found) if recorded_triage(d.details) and _visible(trail, d, person)
    ]
    same = next((d for d in triaged if d.subject_parts.get("data_sha256") == sha256), None)
    alike = next((d for d in triaged if d.details.get("alert_columns") == list(columns)), None)
    origin: Origin = "decided" if same is not None else "suggested"
    chosen = same if same is not None else alike
    if chosen is None:
        return AlertTriage()
    return triage_from_record(
        recorded_triage(chosen.details),
        list(alerts),
        reviewer=chosen.reviewer,
        decided_at=chosen.decided_at,
        origin=origin,
    )
