"""What a submitted gate form means: the plain dict a `mo.ui.form` returns, read as a decision.

The app's gate forms return dicts (`verdict`, `reviewer`, `notes` plus each gate's own
fields). What those fields ask for — the cleaning plan of a gate-1 *modify*, the findings a
gate-2 *modify* rejects, the candidate or exclusions of gate 3, the per-item verdicts of
gate 4 — is decided here, apart from the widgets, so a test can pin it without a browser
and the app's cells only choose, call and show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from review.gates import next_subject
from steps.cleaning import CleaningPlan

Answer = Mapping[str, Any]


class _Titled(Protocol):
    id: str
    title: str


def validate_answer(value: Answer | None) -> str | None:
    """The form's own check, shown before anything is recorded: a verdict and a reviewer's
    name are required."""
    if not value:
        return "Fill in the form."
    if not value.get("verdict"):
        return "Choose approve, reject or modify."
    if not (value.get("reviewer") or "").strip():
        return "A decision needs the reviewer's name."
    return None


def plan_from_answer(answer: Answer | None) -> CleaningPlan:
    """The cleaning plan a gate-1 form asks for (empty unless the verdict is modify)."""
    if not answer or answer.get("verdict") != "modify":
        return CleaningPlan()
    return CleaningPlan.from_mapping(answer)


def plan_of(decision: Any) -> CleaningPlan:
    """The cleaning plan a recorded gate-1 decision put in force (empty unless a modify)."""
    if decision is None or decision.verdict != "modify":
        return CleaningPlan()
    return CleaningPlan.from_mapping(decision.modifications.get("cleaning_plan", {}))


def data_quality_subject(sha256: str, plan: CleaningPlan) -> str:
    """Gate 1 approves these bytes with this cleaning plan, nothing else."""
    return next_subject(
        None, "data_quality", {"data_sha256": sha256, "cleaning_plan": plan.digest()}
    )


def request_type(gate_id: str, status: str) -> str:
    """What the review queue asks for: a correction after a reject, a validation of analysis
    and results, an approval otherwise."""
    if status == "rejected":
        return "correction"
    if gate_id in ("analysis_validation", "result_verification"):
        return "validation"
    return "approval"


def rejected_findings_from(answer: Answer | None, insights: Any) -> dict | None:
    """Gate 2's *modify*: the findings the reviewer rejected, each with the reason given (the
    form's reason, else its notes)."""
    if not answer or not answer.get("reject_findings"):
        return None
    titles = {f.id: f.title for f in insights.findings}
    reason = (answer.get("reason") or "").strip() or answer.get("notes") or ""
    return {
        "rejected_findings": [
            {"id": fid, "title": titles.get(fid, fid), "reason": reason}
            for fid in answer["reject_findings"]
        ]
    }


def mark_rejected(insights: Mapping[str, Any], rejected: tuple | list) -> dict:
    """Findings rejected at gate 2 stay in the report, marked, with the reason: a reader sees
    what the reviewer overruled instead of finding it silently gone."""
    reasons = {r["id"]: r.get("reason", "") for r in rejected}
    findings = [
        {**f, "rejected": True, "rejection_reason": reasons[f["id"]]}
        if f["id"] in reasons
        else dict(f)
        for f in insights["findings"]
    ]
    return {**insights, "findings": findings}


def model_modifications(answer: Answer | None, card: Any) -> dict | None:
    """Gate 3's *modify*: another candidate, and/or features to leave out of a re-run."""
    if not answer or answer.get("verdict") != "modify":
        return None
    mods: dict[str, Any] = {}
    if answer.get("candidate") and answer["candidate"] != card.selected:
        mods["selected"] = answer["candidate"]
    if answer.get("exclude"):
        mods["exclude_features"] = sorted(answer["exclude"])
    return mods or None


def approved_model(card: Any, state: Any) -> dict | None:
    """The model card Step 4 and the report receive: the approved (or chosen) candidate, or
    nothing while gate 3 is closed."""
    if card is None or state is None or not state.open:
        return None
    chosen = dict(card.to_dict())
    selected = (state.decision.modifications or {}).get("selected") if state.decision else None
    if selected:
        chosen["selected"] = selected
        chosen["metrics"] = next(
            c.to_dict()["metrics"] for c in card.candidates if c.name == selected
        )
    return chosen


def item_fields(action_plan: Sequence[_Titled]) -> list[tuple[str, str, _Titled]]:
    """The gate-4 form's field names for each recommendation: (verdict field, edit field,
    item). Flat names, so the form lays out one line per recommendation; `nested_items`
    reads them back by id."""
    return [(f"item_{k}", f"edit_{k}", item) for k, item in enumerate(action_plan)]


def nested_items(value: Answer | None, action_plan: Sequence[_Titled]) -> dict | None:
    """A submitted gate-4 form with its per-recommendation fields as `items` and `edits`
    keyed by recommendation id, the shape `item_reviews` and `feedback_lines` read."""
    if value is None:
        return None
    fields = item_fields(action_plan)
    flat = {name for verdict, edit, _ in fields for name in (verdict, edit)}
    return {
        **{k: v for k, v in value.items() if k not in flat},
        "items": {item.id: value[verdict] for verdict, _, item in fields if verdict in value},
        "edits": {item.id: value[edit] for _, edit, item in fields if edit in value},
    }


def item_reviews(answer: Answer | None, recs: Any) -> dict | None:
    """Gate 4's per-recommendation verdicts and edits, kept with whatever the overall verdict
    is; an edit counts only when its item is marked edit and the text is not empty."""
    if not answer or not recs.action_plan:
        return None
    items = dict(answer.get("items") or {})
    edits = {k: v for k, v in (answer.get("edits") or {}).items() if items.get(k) == "edit" and v}
    return {"items": items, "edits": edits}


def feedback_lines(answer: Answer, action_plan: tuple[_Titled, ...]) -> tuple[str, ...]:
    """What a *modify* at gate 4 tells the next generation of Step 4: the notes, then one
    line per rejected or reworded recommendation."""
    titles = {i.id: i.title for i in action_plan}
    edits = answer.get("edits") or {}
    lines = [answer.get("notes") or ""]
    for item_id, verdict in (answer.get("items") or {}).items():
        if verdict == "reject":
            lines.append(f"Drop the recommendation '{titles.get(item_id, item_id)}'.")
        elif verdict == "edit" and edits.get(item_id):
            lines.append(f"Reword '{titles.get(item_id, item_id)}' as: {edits[item_id]}")
    return tuple(line.strip() for line in lines if line.strip())
