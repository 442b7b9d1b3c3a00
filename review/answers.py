"""What each gate asks about, and what an answer to it means.

For every gate: the subject parts an approval is bound to (from the typed `Record`), the
controls a *modify* offers (described apart from any widget toolkit, so the app draws
them and a test fills them), and `read`, which turns a submitted answer into the
modifications and details a decision records — validating everything *before* anything
is recorded, so a refusal leaves no trace in the trail. Then the readers the flow uses to
learn what a recorded decision put in force (the plan, the rejected findings, ...).

`review.gates.GATES` assembles these into the table of gates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from steps.alerts.triage import (
    AlertTriage,
    Triage,
    read_triage,
    recorded_triage,
    triage_from_record,
)
from steps.alerts.types import SEVERITIES
from steps.cleaning import CleaningPlan
from steps.errors import FeatureError, GateError, TriageError
from steps.load import CHOSEN_NOTHING
from steps.recommend import ItemReviews
from steps.record import Record, RejectedFinding
from steps.report import content_sha256, report_parts, result_digest
from steps.text import json_sha256

Answer = Mapping[str, Any]
ControlKind = Literal["checkbox", "multiselect", "dropdown", "text", "table"]
ITEM_VERDICTS = ("accept", "reject", "edit")


@dataclass(frozen=True)
class Control:
    """One control of a gate's *modify*: what it asks, its options as (label, value) pairs,
    its starting value. Controls sharing a `line` are laid out on one line. A `table` holds
    rows (`value`, dicts) whose columns named in `options` are editable. `always`: the
    control is read whatever the verdict (gate 1's triage), not only with *modify*."""

    name: str
    kind: ControlKind
    label: str
    options: tuple[tuple[str, str], ...] = ()
    value: Any = None
    line: str | None = None
    always: bool = False


class Decided(Protocol):
    """What the readers below need of a recorded decision (`review.gates.Decision`)."""

    @property
    def verdict(self) -> str: ...

    @property
    def modifications(self) -> Mapping[str, Any]: ...

    @property
    def details(self) -> Mapping[str, Any]: ...

    @property
    def reviewer(self) -> str: ...

    @property
    def decided_at(self) -> str: ...


@dataclass(frozen=True)
class Reading:
    """What an answer means: the modifications it makes (modify only), the details it
    annotates (any verdict), and the record as the decision leaves it in force — the
    subject it is bound to is computed from that record."""

    modifications: Mapping[str, Any] | None
    details: Mapping[str, Any] | None
    record: Record


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


def _modify(answer: Answer) -> bool:
    return answer.get("verdict") == "modify"


def plain_reading(answer: Answer, record: Record) -> Reading:
    """A gate whose *modify* has no controls: modify is not an answer it accepts."""
    if _modify(answer):
        raise GateError("This gate has nothing to modify: approve or reject it.")
    return Reading(None, None, record)


# --- gate 1 · data quality --------------------------------------------------------------


def data_quality_subject(record: Record) -> dict[str, Any]:
    """Gate 1 approves these bytes, read this way, with this cleaning plan and this triage of
    the alerts, nothing else. How the file was read counts only once someone chose (the same
    bytes read with another delimiter are another table); detection alone adds nothing, and
    so does a triage that leaves every alert open."""
    parts = {"data_sha256": record.source.sha256, "cleaning_plan": record.plan.digest()}
    if record.source.read_options != CHOSEN_NOTHING:
        parts["read_options"] = json_sha256(record.source.read_options.to_dict())
    if not record.triage.is_empty():
        parts["alert_triage"] = json_sha256(record.triage.to_dict())
    return parts


TRIAGE_EDITABLE = ("status", "note")


def _remembered_text(triage: Triage) -> str:
    """Where a pre-filled triage came from, for the reviewer to weigh."""
    if triage.origin is None or triage.status == "open":
        return ""
    when = f" on {triage.decided_at[:10]}" if triage.decided_at else ""
    if triage.origin == "decided":
        return f"decided by {triage.reviewer}{when}"
    return f"suggested: {triage.status} by {triage.reviewer}{when} on a file with these columns"


def triage_rows(record: Record) -> tuple[dict[str, str], ...]:
    """Gate 1's triage table: one row per alert of the file as loaded, pre-filled with the
    triage in force, else the one remembered (a suggestion stays open until decided)."""
    rows = []
    # Most severe first (stable within a severity), so a reviewer starts with what matters.
    for alert in sorted(record.original.alerts, key=lambda a: SEVERITIES.index(a.severity)):
        current, remembered = record.triage.of(alert), record.remembered.of(alert)
        shown = current if current.status != "open" else remembered
        status = shown.status if shown.origin != "suggested" else "open"
        rows.append(
            {
                "alert": alert.type.replace("_", " "),
                "columns": ", ".join(alert.columns) or "all columns",
                "status": status,
                "note": shown.note if shown.origin != "suggested" else "",
                "severity": alert.severity,
                "what": alert.message,
                "remembered": _remembered_text(remembered),
                "key": alert.key,
            }
        )
    return tuple(rows)


def data_quality_controls(record: Record) -> tuple[Control, ...]:
    names = tuple((c.name, c.name) for c in record.original.overview.columns)
    editable = tuple((c, c) for c in TRIAGE_EDITABLE)
    triage = (
        (
            Control(
                "alert_triage",
                "table",
                "Alerts: set each status to accepted, dismissed (say why in the note) or deferred",
                editable,
                triage_rows(record),
                always=True,
            ),
        )
        if record.original.alerts
        else ()
    )
    return (
        *triage,
        Control("drop_duplicates", "checkbox", "Drop duplicate rows", line="plan"),
        Control("drop_columns", "multiselect", "Drop columns", names, line="plan"),
        Control("drop_rows_missing", "multiselect", "Drop rows missing", names, line="plan"),
    )


def triage_of(answer: Answer, record: Record) -> AlertTriage:
    """The triage table of an answer, checked against the alerts (one sentence if not)."""
    rows = answer.get("alert_triage") or ()
    if not isinstance(rows, list | tuple):
        raise TriageError("The alert triage must be a table of alerts.")
    alerts = {a.key: a for a in record.original.alerts}
    entries = []
    for row in rows:
        alert = alerts.get(str(row.get("key"))) if isinstance(row, Mapping) else None
        if alert is None:
            raise TriageError("The alert triage names an alert this analysis does not have.")
        entries.append({**row, "type": alert.type, "columns": list(alert.columns)})
    columns = [c.name for c in record.original.overview.columns]
    return read_triage(entries, record.original.alerts, columns)


def read_data_quality(answer: Answer, record: Record) -> Reading:
    """A *modify* is a cleaning plan, checked against the columns before it is recorded;
    any other verdict is about the data as loaded. The alert triage goes with any verdict,
    checked first, and is recorded in the details with the columns it was made on (so a
    file with the same columns can be offered it later)."""
    triage = triage_of(answer, record)
    plan = CleaningPlan.from_mapping(answer) if _modify(answer) else CleaningPlan()
    plan.check([c.name for c in record.original.overview.columns])
    mods = {"cleaning_plan": plan.to_dict()} if not plan.is_empty() else None
    details = None
    if not triage.is_empty():
        columns = [c.name for c in record.original.overview.columns]
        details = {"alert_triage": triage.to_dict(), "alert_columns": columns}
    return Reading(mods, details, dataclasses.replace(record, plan=plan, triage=triage))


def plan_in_force(record: Record, decision: Decided | None) -> Record:
    """The cleaning plan and the alert triage a recorded gate-1 decision put in force (no
    plan unless a modify; the triage signed by its reviewer, at its time)."""
    mods = decision.modifications if decision is not None else {}
    recorded = recorded_triage(decision.details) if decision is not None else {}
    triage = AlertTriage()
    if decision is not None and recorded:
        triage = triage_from_record(
            recorded,
            record.original.alerts,
            reviewer=decision.reviewer,
            decided_at=decision.decided_at,
        )
    return dataclasses.replace(
        record, plan=CleaningPlan.from_mapping(mods.get("cleaning_plan", {})), triage=triage
    )


# --- gate 2 · analysis validation -------------------------------------------------------


def analysis_validation_subject(record: Record) -> dict[str, Any]:
    """The threshold, the methods and the figures the findings are drawn from."""
    if record.analysed is None:
        raise GateError("Analysis validation needs Step 3's results.")
    parameters = record.analysed.parameters
    return {
        "threshold": parameters.threshold,
        "correlation": parameters.correlation,
        "outliers": parameters.outlier_options(),
        "result": result_digest(record.analysed.statistics),
    }


def analysis_validation_controls(record: Record) -> tuple[Control, ...]:
    findings = record.analysed.insights.findings if record.analysed is not None else ()
    return (
        Control(
            "reject_findings",
            "multiselect",
            "Reject findings",
            tuple((f.title, f.id) for f in findings),
            line="reject",
        ),
        Control("reason", "text", "Why", line="reject"),
    )


def read_analysis_validation(answer: Answer, record: Record) -> Reading:
    """A *modify* rejects individual findings, each with the reason given (the form's
    reason, else its notes)."""
    if not _modify(answer) or not answer.get("reject_findings"):
        return Reading(None, None, record)
    findings = record.analysed.insights.findings if record.analysed is not None else ()
    titles = {f.id: f.title for f in findings}
    unknown = [fid for fid in answer["reject_findings"] if fid not in titles]
    if unknown:
        raise GateError("Reject only findings shown for this analysis.")
    reason = (answer.get("reason") or "").strip() or (answer.get("notes") or "").strip()
    rejected = [RejectedFinding(fid, titles[fid], reason) for fid in answer["reject_findings"]]
    mods = {"rejected_findings": [r.to_dict() for r in rejected]}
    return Reading(mods, None, dataclasses.replace(record, rejected=tuple(rejected)))


def rejected_in_force(record: Record, decision: Decided | None) -> Record:
    """The findings a recorded gate-2 *modify* overruled."""
    mods = decision.modifications if decision is not None else {}
    rejected = tuple(
        RejectedFinding(r["id"], r["title"], r["reason"]) for r in mods.get("rejected_findings", ())
    )
    return dataclasses.replace(record, rejected=rejected)


# --- gate 3 · model approval ------------------------------------------------------------


def model_approval_subject(record: Record) -> dict[str, Any] | None:
    """The trained baselines; without a target there is nothing to approve."""
    return record.model.subject_parts() if record.model is not None else None


def model_approval_controls(record: Record) -> tuple[Control, ...]:
    if record.model is None:
        return ()
    card = record.model
    return (
        Control(
            "candidate",
            "dropdown",
            "Use candidate",
            tuple((c.name, c.name) for c in card.candidates),
            card.selected,
            line="model",
        ),
        Control(
            "exclude",
            "multiselect",
            "or leave out features and re-run",
            tuple((f, f) for f in card.features),
            line="model",
        ),
    )


def read_model_approval(answer: Answer, record: Record) -> Reading:
    """A *modify* picks another candidate and/or leaves features out of a re-run; leaving
    every feature out is refused here, before anything is recorded."""
    if not _modify(answer) or record.model is None:
        return Reading(None, None, record)
    card = record.model
    mods: dict[str, Any] = {}
    if answer.get("candidate") and answer["candidate"] != card.selected:
        if answer["candidate"] not in {c.name for c in card.candidates}:
            raise GateError(f"There is no candidate called {answer['candidate']!r}.")
        mods["selected"] = answer["candidate"]
    excluded = sorted(answer.get("exclude") or ())
    if excluded:
        if set(excluded) >= set(card.features):
            raise FeatureError("Leave at least one feature in: every feature was left out.")
        mods["exclude_features"] = excluded
    return Reading(mods or None, None, record)


def model_choice_in_force(record: Record, decision: Decided | None) -> Record:
    """The candidate a recorded gate-3 *modify* chose over the card's own pick."""
    mods = decision.modifications if decision is not None else {}
    return dataclasses.replace(record, model_choice=mods.get("selected"))


def exclusions_in_force(decision: Decided | None) -> tuple[str, ...]:
    """The features a gate-3 *modify* asked to leave out of a re-run."""
    return tuple(
        (decision.modifications if decision is not None else {}).get("exclude_features", ())
    )


# --- gate 4 · result verification -------------------------------------------------------


def result_verification_subject(record: Record) -> dict[str, Any]:
    if record.recommendations is None:
        raise GateError("Result verification needs Step 4's recommendations.")
    return {"recommendations": result_digest(record.recommendations)}


def result_verification_controls(record: Record) -> tuple[Control, ...]:
    """One line per recommendation: its verdict and, for edit, the new wording."""
    plan = record.recommendations.action_plan if record.recommendations is not None else ()
    controls: list[Control] = []
    for k, item in enumerate(plan):
        options = tuple((v, v) for v in ITEM_VERDICTS)
        controls.append(
            Control(f"item_{k}", "dropdown", item.title, options, "accept", f"item_{k}")
        )
        controls.append(Control(f"edit_{k}", "text", "new wording, for edit", line=f"item_{k}"))
    return tuple(controls)


def item_reviews_from(answer: Answer, record: Record) -> ItemReviews:
    """The per-recommendation verdicts and edits of a gate-4 form, keyed by item id; an item
    the answer says nothing of has no verdict (`pending` in the report)."""
    plan = record.recommendations.action_plan if record.recommendations is not None else ()
    items = {item.id: answer[f"item_{k}"] for k, item in enumerate(plan) if answer.get(f"item_{k}")}
    unknown = sorted({v for v in items.values() if v not in ITEM_VERDICTS})
    if unknown:
        raise GateError(f"Unknown verdict {unknown[0]!r}: use accept, reject or edit.")
    edits = {item.id: answer.get(f"edit_{k}") or "" for k, item in enumerate(plan)}
    return ItemReviews(items, edits)


def feedback_lines(answer: Answer, reviews: ItemReviews, record: Record) -> tuple[str, ...]:
    """What a *modify* at gate 4 tells the next generation of Step 4: the notes, then one
    line per rejected or reworded recommendation."""
    plan = record.recommendations.action_plan if record.recommendations is not None else ()
    lines = [answer.get("notes") or ""]
    for item in plan:
        verdict = reviews.items.get(item.id)
        if verdict == "reject":
            lines.append(f"Drop the recommendation '{item.title}'.")
        elif item.id in reviews.edits:
            lines.append(f"Reword '{item.title}' as: {reviews.edits[item.id]}")
    return tuple(line.strip() for line in lines if line.strip())


def read_result_verification(answer: Answer, record: Record) -> Reading:
    """The item verdicts are kept with any verdict; a *modify* also sends feedback to a
    regenerated Step 4."""
    reviews = item_reviews_from(answer, record)
    details = reviews.to_dict() if reviews.items else None
    mods = None
    if _modify(answer):
        feedback = feedback_lines(answer, reviews, record)
        mods = {"feedback": list(feedback)} if feedback else None
    return Reading(mods, details, dataclasses.replace(record, reviews=reviews))


def reviews_in_force(record: Record, decision: Decided | None) -> Record:
    """The verdicts on Step 4's items a recorded gate-4 decision carries."""
    details = decision.details if decision is not None else {}
    reviews = ItemReviews(details.get("items", {}), details.get("edits", {}))
    return dataclasses.replace(record, reviews=reviews)


def feedback_in_force(decision: Decided | None) -> tuple[str, ...]:
    """What a gate-4 *modify* asked the next version of Step 4 to act on."""
    return tuple((decision.modifications if decision is not None else {}).get("feedback", ()))


# --- gate 5 · export authorization ------------------------------------------------------


def export_authorization_subject(record: Record) -> dict[str, Any]:
    """The very content that leaves the app: the report's content digest."""
    return {"report": content_sha256(report_parts(record))}
