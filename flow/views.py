"""What the notebook shows, built from typed results: the pieces every step and gate use.

The notebook's cells choose, call and show; how a step's tabs, a gate's form, an advisor's
findings or a table of figures look is decided here once. Every data-derived string is
made inert (`esc`) before `mo.md` renders it: column names and cell values are data.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import marimo as mo

from ai.prompts import Prompt
from flow.source import UPLOAD_META
from review.answers import Control, validate_answer
from review.gates import GateSpec, GateState, gate_by_id, gate_ids, order_of
from steps.engine import Budget
from steps.errors import ExportError, SignoffError
from steps.insights import StepInsights, UnverifiedNumber
from steps.record import Record
from steps.results import ToDict
from steps.text import markdown_text, number_text

Kind = Literal["neutral", "warn", "success", "info", "danger"]
_KINDS: dict[str, Kind] = {"critical": "danger", "warning": "warn", "info": "neutral"}
_STATE_KINDS: dict[str, Kind] = {
    "approved": "success",
    "modified": "success",
    "rejected": "danger",
    "stale": "warn",
}


def esc(value: object) -> str:
    """Data-derived text for `mo.md`, which renders HTML and markdown as is: made inert.

    Not for code spans (entities show literally there): wrap it in `<code>` instead.
    """
    return markdown_text(value)


def attempt(what: str, compute: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple:
    """(result, None), or (None, one sentence) when the step fails.

    A refusal meant for a person (any `SignoffError`) is shown as it is. Anything unexpected
    is shown as a short error id, never a traceback or a server path: the detail goes to
    the server log under that id.
    """
    try:
        return compute(*args, **kwargs), None
    except SignoffError as error:
        return None, str(error)
    except Exception:
        error_id = secrets.token_hex(4)
        logging.getLogger("signoff").exception("%s failed (error id %s)", what, error_id)
        return None, f"{what} failed unexpectedly (error id {error_id}); see the server log."


def within(
    budget: Budget, what: str, compute: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple:
    """`attempt`, with the step stopped once it runs past the session's time budget."""
    return attempt(what, budget.run, what, compute, *args, **kwargs)


def shown_download(
    build: Callable[[], bytes], show: Callable[[str | None], None]
) -> Callable[[], bytes]:
    """`build` for a `mo.download`, with its refusal on the page.

    marimo answers a download that raises with a bare "Failed to download" toast, so the
    sentence saying why also goes to `show` (a state a cell puts on the page); the next
    download that works clears it.
    """

    def run() -> bytes:
        data, refusal = attempt("The export", build)
        show(refusal)
        if refusal is not None:
            raise ExportError(refusal)
        return data

    return run


def upload_route() -> str | None:
    """The streaming upload page's address when the server in front serves one
    (`python -m server` says so in each request's metadata); under plain `marimo run`
    there is none, so the notebook offers no link to one."""
    request = mo.app_meta().request
    meta = request.meta if request is not None else None
    route = (meta or {}).get(UPLOAD_META)
    return route if isinstance(route, str) else None


def failure(sentence: str | None) -> mo.Html:
    """A failed step, in the one sentence `attempt` produced."""
    return mo.callout(mo.md(esc(sentence)), kind="danger")


def notes(lines: Sequence[str]) -> list[mo.Html]:
    """A step's notes (what was capped, sampled or assumed), one callout each."""
    return [mo.callout(mo.md(esc(line)), kind="info") for line in lines]


def bullets(lines: Sequence[str]) -> str:
    """Escaped markdown bullets (advisor text may quote column names)."""
    return "\n".join(f"- {esc(line)}" for line in lines) or "_none_"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def blank_if_missing(value: object) -> object:
    """A table cell as it is, but blank where a value is missing (never `None`/`NaN`)."""
    return "" if _missing(value) else value


def shown_value(value: object) -> object:
    """A table cell: a float to the digits `number_text` shows (17 digits of a mean hide its
    size) but still a number, so columns sort; a missing value blank, never `None`/`NaN`."""
    if _missing(value):
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return float(number_text(value).replace(",", ""))
    return value


def figures_table(rows: Sequence[Mapping[str, Any]], **options: Any) -> mo.ui.table:
    """Computed figures as a table. The exact values are in the JSON download and report.

    Rounded in the rows, not with `format_mapping`: that makes marimo ship the raw rows
    again in an attribute that is not escaped like the cells (column names are data).
    """
    shown = [{k: shown_value(v) for k, v in row.items()} for row in rows]
    return mo.ui.table(shown, selection=None, show_download=False, **options)


def json_download(name: str, result: ToDict) -> mo.Html:
    """A lazy download of one step's result as JSON (built on click, not on render)."""
    return mo.download(
        data=lambda: json.dumps(result.to_dict(), indent=2).encode(),
        filename=f"{name}.json",
        mimetype="application/json",
        label=f"{name}.json",
    )


def step_tabs(
    figures: Mapping[str, Any], insights: mo.Html, metrics: mo.Html, export: mo.Html
) -> mo.ui.tabs:
    """The four tabs every step shows."""
    return mo.ui.tabs(
        {
            "Charts": mo.vstack(list(figures.values())) if figures else mo.md("No charts."),
            "AI Insights": insights,
            "Metrics": metrics,
            "Export": export,
        }
    )


def insights_view(insights: StepInsights, prompt: Prompt | None) -> mo.Html:
    """An advisor's findings as callouts, its notice, unverified numbers, and the prompt."""
    parts = [mo.md(f"_Advisor: {esc(insights.advisor)}_")]
    if insights.notice:
        parts.append(mo.callout(mo.md(esc(insights.notice)), kind="warn"))
    for finding in insights.findings:
        evidence = "; ".join(f"<code>{esc(e)}</code>" for e in finding.evidence)
        body = f"**{esc(finding.title)}**\n\n{esc(finding.detail)}"
        if evidence:
            body += f"\n\nEvidence: {evidence}"
        parts.append(mo.callout(mo.md(body), kind=_KINDS.get(finding.severity, "neutral")))
    if not insights.findings:
        parts.append(mo.md("No findings."))
    parts += numbers_view(insights.unverified_numbers)
    if prompt is not None:
        sent = "What is sent to the AI" if insights.advisor != "offline" else "What would be sent"
        title = f"{sent} (prompt sha256 {prompt.sha256[:12]}…)"
        parts.append(mo.accordion({title: mo.plain_text(prompt.text)}))
    return mo.vstack(parts)


_NUMBER_HEADINGS = {
    "misattributed": "Attributed wrongly — the number is another figure's",
    "unverified": "Not found in the computed figures — check before relying on",
}


def numbers_view(numbers: Sequence[UnverifiedNumber]) -> list[mo.Html]:
    """The fact-check's flags, one callout per kind, each number with its sentence and what
    the computed figures say instead."""
    out: list[mo.Html] = []
    for kind, heading in _NUMBER_HEADINGS.items():
        flagged = [n for n in numbers if n.kind == kind]
        if flagged:
            listed = "\n".join(
                f"- **{esc(n.text)}** in “{esc(n.sentence)}” {esc(n.verdict())}" for n in flagged
            )
            out.append(mo.callout(mo.md(f"**{heading}:**\n{listed}"), kind="danger"))
    return out


def stat(value: object, label: str, caption: str | None = None) -> mo.Html:
    """One headline figure, in the one number format of every view."""
    return mo.stat(number_text(value) or "n/a", label=label, caption=caption)


# --- gates -----------------------------------------------------------------------------


def _widget(control: Control) -> Any:
    label = esc(control.label)
    options = dict(control.options)
    if control.kind == "checkbox":
        return mo.ui.checkbox(label=label, value=bool(control.value))
    if control.kind == "multiselect":
        return mo.ui.multiselect(options, label=label)
    if control.kind == "dropdown":
        chosen = next((k for k, v in options.items() if v == control.value), None)
        return mo.ui.dropdown(options, value=chosen, label=label)
    if control.kind == "table":
        # One editable grid (cells drawn as text, never as HTML): a row per item. The grid
        # receives CSV, in which an empty field reads back as null and shows as "null", so a
        # blank cell holds one space (notes are stripped when read).
        return mo.ui.data_editor(
            [{k: v if v != "" else " " for k, v in row.items()} for row in control.value or ()],
            label=label,
            editable_columns=list(options),
        )
    return mo.ui.text(label=label, full_width=True)


def _refusal(spec: GateSpec, record: Record, value: Mapping[str, Any] | None) -> str | None:
    """Shown beside the button before anything is submitted: the form's own checks, then
    whatever the gate itself would refuse."""
    missing = validate_answer(value)
    if missing or value is None:
        return missing
    try:
        spec.read(value, record)
    except SignoffError as error:
        return str(error)
    return None


def _answer_of(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _as_submitted(value: object, tables: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The answer as the form will submit it. A form's `validate` receives the browser's
    raw value, in which a data editor is its list of edits; each is read through its own
    editor (which changes nothing), so the check sees the rows the decision will record."""
    answer = _answer_of(value)
    if answer is None or not tables:
        return answer
    return {
        k: tables[k]._convert_value(v) if k in tables and isinstance(v, Mapping) else v
        for k, v in answer.items()
    }


def gate_form(spec: GateSpec, record: Record, signed_in: str | None = None) -> mo.ui.form:
    """A gate as a form: verdict, reviewer, notes, plus the gate's own *modify* controls
    (modify is offered only where it has controls). `signed_in` is the person the server
    names: shown fixed, since the decision is recorded under it whatever is typed."""
    controls = spec.controls(record)
    verdicts = ["approve", "reject", "modify"] if controls else ["approve", "reject"]
    elements = {
        "verdict": mo.ui.radio(verdicts, label="Verdict", inline=True),
        "reviewer": (
            mo.ui.text(label="Reviewer (signed in)", value=signed_in, disabled=True)
            if signed_in is not None
            else mo.ui.text(label="Reviewer", placeholder="Your name")
        ),
        "notes": mo.ui.text_area(label="Notes", full_width=True),
        **{c.name: _widget(c) for c in controls},
    }
    tables = {c.name: elements[c.name] for c in controls if c.kind == "table"}
    lines: dict[str | None, list[str]] = {}
    for control in controls:
        if not control.always:
            lines.setdefault(control.line or control.name, []).append(f"{{{control.name}}}")
    modify = "".join(f"- {' '.join(names)}\n" for names in lines.values())
    always = "".join(f"**{esc(c.label)}**\n\n{{{c.name}}}\n\n" for c in controls if c.always)
    template = (
        f"### Gate {order_of(spec.id)} · {esc(spec.title)}\n\n_Signs off {esc(spec.guards)}._"
        "\n\n{verdict}\n\n{reviewer}\n\n{notes}\n\n"
        + always
        + (f"**With *modify*:**\n\n{modify}" if lines else "")
    )
    return (
        mo.md(template)
        .batch(**elements)
        .form(
            submit_button_label="Record decision",
            validate=lambda value: _refusal(spec, record, _as_submitted(value, tables)),
            bordered=True,
        )
    )


def gate_view(state: GateState, refusal: str | None = None) -> mo.Html:
    """A gate's state in one sentence, coloured by whether downstream may run."""
    shown = mo.callout(mo.md(esc(state.message)), kind=_STATE_KINDS.get(state.status, "info"))
    return mo.vstack([failure(refusal), shown] if refusal else [shown])


def waiting(what: str, gate: GateState) -> mo.Html:
    """Why a step does not run yet: the gate it waits for, and where that gate stands."""
    blocker = gate_by_id(gate.blocked_by or gate.gate)
    status = gate.status.replace("_", " ") if gate.blocked_by is None else "waiting"
    sentence = f"{what}: waiting for **{blocker.title.lower()}** sign-off (now {status})."
    return mo.callout(mo.md(sentence), kind="warn")


# --- the progress strip ------------------------------------------------------------------

# The steps in flow order, and the step each gate follows; a gate the table adds later
# follows the gate before it.
STEPS = (
    ("load", "Data"),
    ("overview", "1 Overview"),
    ("quality", "2 Quality"),
    ("statistics", "3 Statistics"),
    ("model", "Model"),
    ("recommendations", "4 Recommendations"),
)
_GATE_FOLLOWS = {
    "data_quality": "quality",
    "analysis_validation": "statistics",
    "model_approval": "model",
    "result_verification": "recommendations",
}
_MARKS = {
    "done": ("✓", "#2e7d32"),
    "approved": ("✓", "#2e7d32"),
    "modified": ("✓", "#2e7d32"),
    "not_applicable": ("–", "#6b7280"),
    "rejected": ("✗", "#b91c1c"),
    "stale": ("!", "#b45309"),
    "pending": ("○", "#6b7280"),
}


def stages() -> list[tuple[str, str]]:
    """Every step and gate in flow order, as (id, label)."""
    follows: dict[str, str] = {}
    before = STEPS[-1][0]
    for gate in gate_ids():
        before = follows[gate] = _GATE_FOLLOWS.get(gate, before)
    order: list[tuple[str, str]] = []
    for step, label in STEPS:
        order.append((step, label))
        order += [(gate, f"Gate {order_of(gate)}") for gate in gate_ids() if follows[gate] == step]
    return order


def anchor(stage: str) -> str:
    """The id a stage's heading carries, for the strip's links."""
    return f"stage-{stage}"


def heading(stage: str, title: str) -> mo.Html:
    """A step's heading with the anchor the progress strip links to."""
    return mo.md(f'<span id="{anchor(stage)}"></span>\n\n## {esc(title)}')


def progressed(progress: dict[str, str], stage: str, status: str) -> dict[str, str]:
    """The strip's states once `stage` is `status`: a gate that does not open leaves
    everything after it waiting again."""
    marked = {**progress, stage: status}
    if status in ("approved", "modified", "not_applicable", "done"):
        return marked
    ids = [s for s, _ in stages()]
    later = ids[ids.index(stage) + 1 :] if stage in ids else []
    return {k: v for k, v in marked.items() if k not in later}


def progress_strip(progress: dict[str, str]) -> mo.Html:
    """One line across the top: every step and gate, done / waiting / stale / rejected,
    each a link to its place on the page."""
    links = []
    for stage, label in stages():
        mark, colour = _MARKS.get(progress.get(stage, "pending"), _MARKS["pending"])
        link = mo.md(f"[{mark} {esc(label)}](#{anchor(stage)})")
        links.append(link.style({"color": colour, "font-size": "0.85rem", "white-space": "nowrap"}))
    return mo.hstack(links, justify="start", gap=1.2, wrap=True)
