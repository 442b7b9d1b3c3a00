"""The team's side of the page: the review queue beside the analysis, the audit trail under it.

Both are shared by everyone on the server, while the rest of the page is one analysis, so
they live apart from it: the queue in marimo's sidebar, the trail at the foot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import marimo as mo

from flow.source import Source
from flow.views import esc, failure
from review.analyses import AnalysisError, analysis_source
from review.audit import AuditTrail, Event
from review.gates import gate_by_id
from review.requests import RequestError, ReviewRequest, get_request, route_request
from steps.settings import Settings

ALL = "(all)"


def queue_rows(requests: Sequence[ReviewRequest]) -> list[dict]:
    """The review queue as table rows; overdue requests say so first."""
    return [
        {
            "overdue": "OVERDUE" if r.overdue else "",
            "priority": r.priority,
            "deadline": r.deadline or "",
            "gate": gate_by_id(r.gate).title,
            "type": r.type,
            "file": r.source_name or "",
            "assignee": r.assignee or "",
            "analysis": r.analysis_id,
            "opened": r.created_at,
            "request": r.id,
        }
        for r in requests
    ]


def selected_request(selection: object) -> Mapping | None:
    """The queue row the reviewer picked, if any (a table's selection: a list of rows)."""
    rows = list(selection) if isinstance(selection, list | tuple) else []
    first = rows[0] if rows else None
    return first if isinstance(first, Mapping) and first.get("analysis") else None


def reopen(trail: AuditTrail, settings: Settings, rows: object) -> Source | None:
    """The kept source of the queued analysis picked, so this session sees what the analyst
    saw; None (nothing changes) when nothing is picked or the source is gone."""
    chosen = selected_request(rows)
    request = get_request(trail, chosen["request"]) if chosen is not None else None
    if request is None:
        return None
    try:
        analysis, path = analysis_source(trail, request.analysis_id, root=settings.workspace)
    except AnalysisError:
        return None
    return Source(
        analysis.source_name, path, awaiting=request.gate, analysis_id=request.analysis_id
    )


def route_selected(
    trail: AuditTrail, chosen: Mapping | None, answer: Mapping[str, Any], actor: str | None
) -> mo.Html:
    """Route the chosen queue row as the form asks; what happened, as a callout."""
    if chosen is None:
        return mo.callout(mo.md("Select a request in the queue first."), kind="warn")
    try:
        routed = route_request(
            trail,
            chosen["request"],
            assignee=answer["assignee"],
            deadline=answer["deadline"],
            priority=answer["priority"],
            actor=actor,
        )
    except RequestError as error:
        return failure(str(error))
    due = f", due {esc(routed.deadline)}" if routed.deadline else ""
    return mo.callout(
        mo.md(
            f"Request {routed.id} ({esc(gate_by_id(routed.gate).title)}) goes to "
            f"**{esc(routed.assignee or 'anyone')}**, priority {routed.priority}{due}."
        ),
        kind="success",
    )


def route_form(on_submit: Callable[[Mapping[str, Any]], None]) -> mo.ui.form:
    """Who a request goes to, by when, how urgent. Routing happens when the form is
    submitted, for the row selected then: a reaction to the selection would route every
    row picked later with the last form's values."""
    return (
        mo.md("**Route the selected request:** {assignee} {deadline} {priority}")
        .batch(
            assignee=mo.ui.text(label="Reviewer"),
            deadline=mo.ui.date(label="Deadline"),
            priority=mo.ui.slider(1, 5, value=3, label="Priority (1 = highest)", show_value=True),
        )
        .form(
            submit_button_label="Route",
            on_change=lambda answer: on_submit(answer) if answer else None,
        )
    )


def queue_sidebar(refresh: mo.ui.refresh, queue: mo.ui.table, form: mo.ui.form) -> mo.Html:
    """The queue in the sidebar, its items at their own height (marimo's default lets each
    grow to an equal share of the sidebar)."""
    heading = mo.hstack(
        [mo.md("### Review queue"), refresh], justify="space-between", align="center"
    )
    return mo.sidebar(mo.vstack([heading, queue, form], gap=1, heights=[0, 0, 0]), width="26rem")


def audit_filters(kind: str, gate: str, actor: str) -> dict[str, str | None]:
    """The trail's filters as the dropdowns and the name box leave them."""
    return {
        "kind": None if kind == ALL else kind,
        "gate": None if gate == ALL else gate,
        "actor": actor.strip() or None,
    }


def event_row(event: Event) -> dict:
    """One audit event as a table row; the payload shown as compact JSON."""
    return {
        "id": event.id,
        "at": event.at,
        "kind": event.kind,
        "gate": event.payload.get("gate", ""),
        "actor": event.actor or "",
        "analysis": event.analysis_id or "",
        "payload": json.dumps(event.payload, sort_keys=True)[:300],
        "sha256": event.sha256[:16],
    }


def audit_view(
    trail: AuditTrail, controls: Sequence[object], filters: Mapping[str, str | None]
) -> mo.Html:
    """The trail as it stands: whether the chain verifies, the latest 500 events that match
    the filters, and all of them as JSON Lines."""
    check = trail.verify()
    events = trail.events(**filters, limit=500)
    verdict = (
        f"**Chain verified:** {check.n_events:,} events, head `{(trail.head() or '')[:16]}…`"
        if check.ok
        else f"**Chain broken:** {esc(check.reason)}"
    )
    return mo.vstack(
        [
            mo.md("## Audit trail"),
            mo.callout(mo.md(verdict), kind="success" if check.ok else "danger"),
            mo.hstack(list(controls), justify="start", gap=1),
            mo.ui.table(
                [event_row(e) for e in reversed(events)] or [{"events": "none match"}],
                selection=None,
                page_size=15,
                show_download=False,
            ),
            mo.download(
                data=lambda: trail.to_jsonl(**filters).encode(),
                filename="signoff-audit.jsonl",
                mimetype="application/x-ndjson",
                label="Download as JSON Lines",
            ),
        ]
    )
