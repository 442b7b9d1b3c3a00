import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="signoff")

with app.setup:
    import json
    import logging
    import math
    import secrets
    from pathlib import Path, PurePath

    import marimo as mo

    from ai.advisor import choose_advisor
    from ai.prompts import prompt_for
    from review.analyses import (
        AnalysisError,
        analysis_source,
        register_analysis,
        update_parameters,
    )
    from review.answers import (
        approved_model,
        data_quality_subject,
        feedback_lines,
        item_fields,
        item_reviews,
        mark_rejected,
        model_modifications,
        nested_items,
        plan_from_answer,
        plan_of,
        rejected_findings_from,
        request_type,
        validate_answer,
    )
    from review.audit import EVENT_KINDS, AuditTrail, default_db_path
    from review.gates import (
        GATE_IDS,
        GateError,
        decide,
        decisions,
        gate_by_id,
        gate_state,
        next_subject,
        record_stale,
    )
    from review.requests import RequestError, open_requests, request_review, route_request
    from review.server import streaming_upload_path
    from review.workspace import keep_source, streamed_source
    from samples import SAMPLES, sample_path
    from steps.chart_builder import ChartProblem, ChartSpec
    from steps.chart_builder import build as build_chart
    from steps.chart_builder import figure as chart_figure
    from steps.chart_builder import options as chart_options
    from steps.cleaning import apply_plan
    from steps.engine import columns, lock_down, quote_ident, sample_frame
    from steps.errors import SignoffError
    from steps.exports import ExportsOnDemand, json_report, markdown_text, safe_filename
    from steps.figures import (
        overview_figures,
        quality_figures,
        recommendation_figures,
        statistics_figures,
    )
    from steps.load import load
    from steps.model import TargetError, baselines
    from steps.outliers import outliers
    from steps.overview import overview
    from steps.quality import quality
    from steps.recommend import RecommendContext, compare, reviewed
    from steps.report import build_report, report_digest
    from steps.results import json_safe
    from steps.settings import Settings
    from steps.sql import SqlError, run_readonly_sql
    from steps.statistics import scatter_sample, statistics, with_threshold

    NO_TARGET = "(no target)"


@app.function
def esc(value: object) -> str:
    """Data-derived text for `mo.md`, which renders HTML and markdown as is: made inert.

    Not for code spans (entities show literally there): wrap it in `<code>` instead.
    """
    return markdown_text(value)


@app.function
def attempt(what: str, compute, *args, **kwargs) -> tuple:
    """(result, None), or (None, one sentence) when the step fails.

    A refusal meant for a person (a typed error) is shown as it is. Anything unexpected is
    shown as a short error id, never a traceback or a server path: the detail goes to the
    server log under that id.
    """
    try:
        return compute(*args, **kwargs), None
    except SignoffError as error:
        return None, str(error)
    except Exception:
        error_id = secrets.token_hex(4)
        logging.getLogger("signoff").exception("%s failed (error id %s)", what, error_id)
        return None, f"{what} failed unexpectedly (error id {error_id}); see the server log."


@app.function
def failure(sentence: str | None) -> mo.Html:
    """A failed step, in the one sentence `attempt` produced."""
    return mo.callout(mo.md(esc(sentence)), kind="danger")


@app.function
def load_and_keep(source: dict, settings: Settings):
    """Load the source, then keep it in the workspace so a reviewer can reopen it."""
    loaded = load(
        source["data"],
        name=source["name"],
        limit=settings.max_bytes,
        memory_limit=settings.duckdb_memory,
    )
    keep_source(source["data"], source["name"])
    return loaded


@app.function
def ask(advisor, step: str, context: dict, rows: list | None) -> tuple:
    """The advisor's insights for a step, and the exact prompt a remote advisor is sent."""
    return advisor.advise(step, context, rows=rows), prompt_for(step, context, rows=rows)


@app.function
def insights_view(insights, prompt) -> mo.Html:
    """An advisor's findings as callouts, its notice, unverified numbers, and the prompt."""
    kinds = {"critical": "danger", "warning": "warn", "info": "neutral"}
    parts = [mo.md(f"_Advisor: {esc(insights.advisor)}_")]
    if insights.notice:
        parts.append(mo.callout(mo.md(esc(insights.notice)), kind="warn"))
    for finding in insights.findings:
        evidence = "; ".join(f"<code>{esc(e)}</code>" for e in finding.evidence)
        body = f"**{esc(finding.title)}**\n\n{esc(finding.detail)}"
        if evidence:
            body += f"\n\nEvidence: {evidence}"
        parts.append(mo.callout(mo.md(body), kind=kinds.get(finding.severity, "neutral")))
    if not insights.findings:
        parts.append(mo.md("No findings."))
    if insights.unverified_numbers:
        listed = "\n".join(
            f"- **{esc(n.text)}** in “{esc(n.sentence)}”" for n in insights.unverified_numbers
        )
        parts.append(
            mo.callout(
                mo.md(
                    f"**Not found in the computed figures — check before relying on:**\n{listed}"
                ),
                kind="danger",
            )
        )
    sent = "What is sent to the AI" if insights.advisor != "offline" else "What would be sent"
    parts.append(
        mo.accordion({f"{sent} (prompt sha256 {prompt.sha256[:12]}…)": mo.plain_text(prompt.text)})
    )
    return mo.vstack(parts)


@app.function
def step_tabs(figures: dict, insights: mo.Html, metrics: mo.Html, export: mo.Html) -> mo.ui.tabs:
    """The four tabs every step shows."""
    return mo.ui.tabs(
        {
            "Charts": mo.vstack(list(figures.values())) if figures else mo.md("No charts."),
            "AI Insights": insights,
            "Metrics": metrics,
            "Export": export,
        }
    )


@app.function
def json_download(name: str, result) -> mo.Html:
    """A lazy download of one step's result as JSON (built on click, not on render)."""
    return mo.download(
        data=lambda: json.dumps(result.to_dict(), indent=2).encode(),
        filename=f"{name}.json",
        mimetype="application/json",
        label=f"{name}.json",
    )


@app.function
def figures_table(rows: list[dict], **options) -> mo.ui.table:
    """Computed figures as a table, floats rounded to 6 significant digits: 17 digits of a
    mean hide its size. The exact values are in the JSON download and the report.

    Rounded in the rows, not with `format_mapping`: that makes marimo ship the raw rows
    again in an attribute that is not escaped like the cells (column names are data).
    """
    shown = [{k: short_float(v) for k, v in row.items()} for row in rows]
    return mo.ui.table(shown, selection=None, show_download=False, **options)


@app.function
def short_float(value: object) -> object:
    """A float rounded to six significant digits (still a number, so columns sort)."""
    return float(f"{value:.6g}") if isinstance(value, float) and math.isfinite(value) else value


@app.function
def record_step(trail: AuditTrail, analysis_id: str, step: str, result) -> None:
    """A `step` audit event naming the result by its digest (never its rows)."""
    trail.append(
        "step", {"step": step, "digest": report_digest(result.to_dict())}, analysis_id=analysis_id
    )


@app.function
def gate_form(gate_id: str, extra: dict | None = None, extra_md: str = "") -> mo.ui.form:
    """A gate as a form: verdict, reviewer, notes, plus the gate's own modifications."""
    gate = gate_by_id(gate_id)
    elements = {
        "verdict": mo.ui.radio(["approve", "reject", "modify"], label="Verdict", inline=True),
        "reviewer": mo.ui.text(label="Reviewer", placeholder="Your name"),
        "notes": mo.ui.text_area(label="Notes", full_width=True),
        **(extra or {}),
    }
    template = (
        f"### Gate {gate.order} · {gate.title}\n\n_Signs off {esc(gate.guards)}._\n\n"
        "{verdict}\n\n{reviewer}\n\n{notes}\n\n" + extra_md
    )
    return (
        mo.md(template)
        .batch(**elements)
        .form(submit_button_label="Record decision", validate=validate_answer, bordered=True)
    )


@app.function
def gate_callout(state) -> mo.Html:
    """A gate's state in one sentence, coloured by whether downstream may run."""
    kind = {
        "approved": "success",
        "modified": "success",
        "rejected": "danger",
        "stale": "warn",
    }.get(state.status, "info")
    return mo.callout(mo.md(esc(state.message)), kind=kind)


@app.function
def decide_answer(
    trail: AuditTrail,
    analysis_id: str,
    gate_id: str,
    subject: str,
    answer: dict | None,
    modifications: dict | None = None,
    details: dict | None = None,
) -> str | None:
    """Record a submitted gate form; returns the refusal sentence if it was refused."""
    if answer is None:
        return None
    modify = answer["verdict"] == "modify"
    try:
        decide(
            trail,
            analysis_id=analysis_id,
            gate=gate_id,
            subject_sha256=subject,
            verdict=answer["verdict"],
            reviewer=answer["reviewer"],
            notes=answer.get("notes") or "",
            modifications=modifications if modify else None,
            details=details,
        )
    except GateError as error:
        return str(error)
    return None


@app.function
def settle_gate(
    trail: AuditTrail, analysis_id: str, gate_id: str, subject: str, refusal: str | None
) -> tuple:
    """The gate's state for this subject, and what to show.

    While the gate waits, a review request sits in the shared queue; when an earlier
    approval stops applying, a `stale` event says so in the trail.
    """
    state = gate_state(trail, analysis_id=analysis_id, gate=gate_id, subject_sha256=subject)
    if state.stale:
        record_stale(trail, analysis_id=analysis_id, states={gate_id: state})
    if not state.open:
        request_review(
            trail,
            analysis_id=analysis_id,
            gate=gate_id,
            subject_sha256=subject,
            type=request_type(gate_id, state.status),
            priority=2 if state.status in ("rejected", "stale") else 3,
        )
    shown = [gate_callout(state)]
    if refusal:
        shown.insert(0, mo.callout(mo.md(esc(refusal)), kind="danger"))
    return state, mo.vstack(shown)


@app.cell(hide_code=True)
def header():
    settings = Settings.from_env()
    trail = AuditTrail(default_db_path())
    advisor = choose_advisor(
        cache_path=trail.path,
        on_call=lambda call: trail.append("ai_call", call.to_dict()),
    )
    share_rows = mo.ui.checkbox(
        label="Share up to 20 sample rows with the AI (off: only aggregates are sent)",
        disabled=advisor.name == "offline",
    )
    _mode = "**Hosted (read-only) mode.** " if settings.hosted else ""
    mo.vstack(
        [
            mo.md(
                "# signoff\n\nGuided data analysis: each step is signed off before the next "
                "one builds on it. Every decision lands in a tamper-evident audit trail."
            ),
            mo.callout(mo.md(f"{_mode}{esc(advisor.description)}"), kind="neutral"),
            share_rows,
        ]
    )
    return advisor, settings, share_rows, trail


@app.cell
def source_state():
    # The data is the last source handed over, whichever tab is shown: opening the Review
    # queue tab (or Upload) to look must not throw the analysis on screen away.
    get_source, set_source = mo.state(None)
    return get_source, set_source


@app.cell(hide_code=True)
def source_picker(set_source, settings, trail):
    sample_form = mo.ui.dropdown(
        {s.title: s.name for s in SAMPLES}, value=SAMPLES[1].title, label="Sample"
    ).form(
        submit_button_label="Load sample",
        on_change=lambda name: (
            set_source(sample_source(name)) if name and not settings.hosted else None
        ),
    )
    upload = mo.ui.file(
        filetypes=[".csv", ".tsv", ".txt", ".xlsx", ".xls"],
        max_size=settings.max_bytes,
        kind="area",
        label="Drop a CSV or Excel file",
        on_change=lambda files: set_source(upload_source(files)) if files else None,
    )
    path_form = mo.ui.text(label="Path on this machine", full_width=True).form(
        submit_button_label="Load file",
        on_change=lambda text: (
            set_source(path_source(text)) if text and not settings.hosted else None
        ),
    )
    _upload = upload
    if streaming_upload_path():
        _upload = mo.vstack(
            [
                upload,
                mo.md(
                    f"Large file? [Stream it to the server]({streaming_upload_path()}): "
                    "it is not held in memory on the way."
                ),
            ]
        )
    # Hosted: uploads only; neither the bundled samples nor any other file of the server.
    _tabs = (
        {"Upload": _upload}
        if settings.hosted
        else {"Sample": sample_form, "Upload": _upload, "Local path": path_form}
    )
    mo.vstack([mo.md("## Data"), mo.ui.tabs(_tabs)])
    return


@app.cell
def queue_controls():
    # Refreshing rebuilds only the queue below, never the source tabs above it.
    queue_refresh = mo.ui.refresh(options=["30s", "1m", "5m"], label="Refresh")
    get_routed, set_routed = mo.state(None)
    return get_routed, queue_refresh, set_routed


@app.cell(hide_code=True)
def queue_cell(queue_refresh, set_routed, set_source, trail):
    _ = queue_refresh.value
    queue = mo.ui.table(
        queue_rows(open_requests(trail)) or [{"queue": "no open review requests"}],
        selection="single",
        label="Open review requests, highest priority first (select one to open it)",
        show_download=False,
        on_change=lambda rows: (
            set_source(reopen(trail, selected_request(rows))) if selected_request(rows) else None
        ),
    )
    # Routing happens when the form is submitted, for the row selected then: a reaction to
    # the selection would route every row picked later with the last form's values.
    _route_form = (
        mo.md("**Route the selected request:** {assignee} {deadline} {priority}")
        .batch(
            assignee=mo.ui.text(label="Reviewer"),
            deadline=mo.ui.date(label="Deadline"),
            priority=mo.ui.slider(1, 5, value=3, label="Priority (1 = highest)", show_value=True),
        )
        .form(
            submit_button_label="Route",
            on_change=lambda answer: (
                set_routed(route_selected(trail, selected_request(queue.value), answer))
                if answer
                else None
            ),
        )
    )
    mo.vstack(
        [mo.hstack([mo.md("### Review queue"), queue_refresh], justify="start"), queue, _route_form]
    )
    return


@app.function
def queue_rows(requests) -> list[dict]:
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


@app.function
def sample_source(name: str) -> dict:
    """A bundled sample as a source: read from its path, never copied."""
    path = sample_path(name)
    return {"name": path.name, "data": path}


@app.function
def upload_source(files) -> dict:
    """The uploaded file as a source: its bytes, which `load` checks against the limit."""
    return {"name": files[0].name, "data": files[0].contents}


@app.function
def path_source(text: str) -> dict:
    """A file on this machine as a source (never offered in hosted mode)."""
    path = Path(text).expanduser()
    return {"name": path.name, "data": path}


@app.cell
def source_choice(get_source, streamed):
    # A file streamed to /upload opens the page on it; anything handed over since wins.
    source = get_source() or streamed
    return (source,)


@app.cell
def streamed_upload():
    # A file streamed to the workspace by `python -m review.server` (POST /upload) opens
    # from the address `/?upload=<sha256>`; anything else there is ignored.
    streamed = streamed_source(mo.query_params().get("upload"))
    return (streamed,)


@app.cell
def route_cell(get_routed):
    _routed = get_routed()
    mo.stop(_routed is None)
    _routed
    return


@app.function
def route_selected(trail: AuditTrail, chosen: dict | None, answer: dict) -> mo.Html:
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
        )
    except RequestError as error:
        return mo.callout(mo.md(esc(error)), kind="danger")
    return mo.callout(
        mo.md(
            f"Request {routed.id} ({esc(gate_by_id(routed.gate).title)}) goes to "
            f"**{esc(routed.assignee or 'anyone')}**, priority {routed.priority}"
            f"{', due ' + esc(routed.deadline) if routed.deadline else ''}."
        ),
        kind="success",
    )


@app.function
def selected_request(selection) -> dict | None:
    """The queue row the reviewer picked, if any."""
    rows = list(selection or [])
    return rows[0] if rows and rows[0].get("analysis") else None


@app.function
def reopen(trail: AuditTrail, request: dict) -> dict | None:
    """The kept source of a queued analysis, so this session sees what the analyst saw."""
    try:
        analysis, path = analysis_source(trail, request["analysis"])
    except AnalysisError:
        return None
    return {"name": analysis.source_name, "data": path, "awaiting": request["gate"]}


@app.cell
def shown_state():
    # The analysis on screen, so a file that fails to load leaves it there (with the error
    # above it) instead of emptying the page.
    get_shown, set_shown = mo.state(None)
    return get_shown, set_shown


@app.cell
def load_cell(get_shown, set_shown, settings, source, trail):
    mo.stop(
        source is None,
        mo.callout(
            mo.md(
                "Upload a CSV or Excel file, or open one from the review queue."
                if settings.hosted
                else "Pick a sample and press **Load sample**, or upload a CSV or Excel file."
            ),
            kind="info",
        ),
    )
    with mo.status.spinner(title="Loading", subtitle=esc(source["name"])):
        loaded, _error = attempt("Loading the file", load_and_keep, source, settings)
    _view = None
    if loaded is None:
        mo.stop(get_shown() is None, failure(_error))
        analysis_id, loaded, opened = get_shown()
        _view = mo.vstack(
            [
                failure(_error),
                mo.md(f"_Still showing **{esc(loaded.report.name)}**._"),
            ]
        )
    else:
        if settings.hosted:
            lock_down(loaded.con)
        analysis_id, opened = loaded.report.sha256[:16], source
        register_analysis(
            trail,
            analysis_id=analysis_id,
            source_sha256=loaded.report.sha256,
            source_name=loaded.report.name,
        )
        _load_event = trail.append("load", loaded.report.to_dict(), analysis_id=analysis_id)
        set_shown((analysis_id, loaded, opened))
    _view
    return analysis_id, loaded, opened


@app.cell(hide_code=True)
def load_summary(loaded, opened):
    _r = loaded.report
    _notes = [
        f"Encoding **{esc(_r.encoding)}**, delimiter <code>{esc(_r.delimiter or '—')}</code>, "
        f"{_r.rows_skipped} row(s) skipped."
    ]
    if _r.missing_markers_seen:
        _markers = ", ".join(
            f"<code>{esc(m)}</code>" if m else "(empty)" for m in _r.missing_markers_seen
        )
        _notes.append(f"Read as missing: {_markers}.")
    for _w in _r.warnings:
        _notes.append(esc(_w))
    _awaiting = opened.get("awaiting")
    mo.vstack(
        [
            mo.md(f"Loaded **{esc(_r.name)}** · sha256 `{_r.sha256[:16]}…`"),
            mo.md("  \n".join(_notes)),
            *(
                [
                    mo.callout(
                        mo.md(f"Opened from the review queue: **{esc(_awaiting)}** awaits you."),
                        kind="info",
                    )
                ]
                if _awaiting
                else []
            ),
        ]
    )
    return


@app.cell
def ai_rows_cell(loaded, share_rows):
    # Opt-in only: without the tick, prompts carry aggregates and no cell values at all.
    ai_rows = (
        json_safe(sample_frame(loaded.con, loaded.table, rows=20).to_dict("records"))
        if share_rows.value
        else None
    )
    return (ai_rows,)


@app.cell
def step1_compute(analysis_id, loaded, trail):
    with mo.status.spinner(title="Step 1 · Overview"):
        ov, _error = attempt("Step 1", overview, loaded.con, loaded.table)
    mo.stop(ov is None, failure(_error))
    record_step(trail, analysis_id, "overview", ov)
    return (ov,)


@app.cell
def step1_advice(advisor, ai_rows, ov):
    ov_insights, ov_prompt = ask(advisor, "overview", ov.to_dict(), ai_rows)
    return ov_insights, ov_prompt


@app.cell(hide_code=True)
def step1_show(ov, ov_insights, ov_prompt):
    _cards = mo.hstack(
        [
            mo.stat(f"{ov.n_rows:,}", label="Rows"),
            mo.stat(f"{ov.n_columns:,}", label="Columns"),
            mo.stat(
                f"{ov.memory_bytes / 1e6:,.1f} MB"
                if ov.memory_bytes >= 1e6
                else f"{ov.memory_bytes / 1e3:,.1f} kB",
                label="Memory",
                caption="estimated, uncompressed",
            ),
        ],
        justify="start",
    )
    _summary = figures_table([c.to_dict() for c in ov.columns], page_size=20)
    mo.vstack(
        [
            mo.md("## Step 1 · Overview"),
            _cards,
            *[mo.callout(mo.md(esc(n)), kind="info") for n in ov.notes],
            step_tabs(
                overview_figures(ov),
                insights_view(ov_insights, ov_prompt),
                _summary,
                json_download("overview", ov),
            ),
        ]
    )
    return


@app.cell
def step2_compute(analysis_id, loaded, ov, trail):
    with mo.status.spinner(title="Step 2 · Quality"):
        q, _error = attempt("Step 2", quality, loaded.con, loaded.table, overview=ov)
    mo.stop(q is None, failure(_error))
    record_step(trail, analysis_id, "quality", q)
    return (q,)


@app.cell
def step2_advice(advisor, ai_rows, ov, q):
    q_insights, q_prompt = ask(
        advisor, "quality", {"overview": ov.to_dict(), "quality": q.to_dict()}, ai_rows
    )
    return q_insights, q_prompt


@app.cell(hide_code=True)
def step2_show(ov, q, q_insights, q_prompt):
    mo.vstack(
        [
            mo.md("## Step 2 · Quality"),
            quality_view(ov, q, q_insights, q_prompt),
        ]
    )
    return


@app.function
def quality_view(ov, q, insights, prompt) -> mo.Html:
    """Step 2's cards and tabs; shared by the original data and the cleaned view."""
    cards = mo.hstack(
        [
            mo.stat(
                "n/a" if q.quality_score is None else f"{q.quality_score:.1f}",
                label="Quality score",
                caption="out of 100",
            ),
            mo.stat(f"{q.duplicate_rows:,}", label="Duplicate rows"),
            mo.stat(f"{q.missing_cells:,}", label="Missing cells"),
        ],
        justify="start",
    )
    metrics = mo.vstack(
        [
            mo.md(f"**Quality score formula:** <code>{esc(q.score_formula)}</code>"),
            mo.ui.table(quality_rows(q), selection=None, show_download=False),
            mo.md("**Type consistency**"),
            mo.ui.table(
                [{**i.to_dict(), "examples": ", ".join(i.examples)} for i in q.type_issues]
                or [{"type issues": "none found"}],
                selection=None,
                show_download=False,
            ),
        ]
    )
    return mo.vstack(
        [
            cards,
            *[mo.callout(mo.md(esc(n)), kind="info") for n in q.notes],
            step_tabs(
                quality_figures(ov, q),
                insights_view(insights, prompt),
                metrics,
                json_download("quality", q),
            ),
        ]
    )


@app.function
def quality_rows(q) -> list[dict]:
    """Step 2's per-column figures as table rows (missing, outliers and their bounds)."""
    return [
        {
            "column": name,
            "missing": q.missing_by_column.get(name, 0),
            "IQR outliers": counts.iqr,
            "IQR bounds": f"[{counts.iqr_lower:.6g}, {counts.iqr_upper:.6g}]"
            if counts.iqr_lower is not None
            else "",
            "Z-score outliers": counts.zscore,
            "Z bounds": f"[{counts.zscore_lower:.6g}, {counts.zscore_upper:.6g}]"
            if counts.zscore_lower is not None
            else "",
        }
        for name, counts in q.outliers.items()
    ]


@app.cell(hide_code=True)
def gate1_form_cell(ov):
    _names = [c.name for c in ov.columns]
    gate1_form = gate_form(
        "data_quality",
        {
            "drop_duplicates": mo.ui.checkbox(label="Drop duplicate rows"),
            "drop_columns": mo.ui.multiselect(_names, label="Drop columns"),
            "drop_rows_missing": mo.ui.multiselect(_names, label="Drop rows missing"),
        },
        "**Cleaning plan** (with *modify*): {drop_duplicates} {drop_columns} {drop_rows_missing}",
    )
    gate1_form
    return (gate1_form,)


@app.cell
def gate1_answer_cell(gate1_form):
    gate1_answer = gate1_form.value
    return (gate1_answer,)


@app.cell
def gate1_decide(analysis_id, gate1_answer, loaded, trail):
    _asked = plan_from_answer(gate1_answer)
    gate1_refusal = decide_answer(
        trail,
        analysis_id,
        "data_quality",
        data_quality_subject(loaded.report.sha256, _asked),
        gate1_answer,
        {"cleaning_plan": _asked.to_dict()} if not _asked.is_empty() else None,
    )
    _history = decisions(trail, analysis_id=analysis_id, gate="data_quality")
    plan = plan_of(_history[-1] if _history else None)
    subject1 = data_quality_subject(loaded.report.sha256, plan)
    gate1, _view = settle_gate(trail, analysis_id, "data_quality", subject1, gate1_refusal)
    _view
    return gate1, gate1_refusal, plan, subject1


@app.cell
def cleaned_cell(
    advisor, ai_rows, analysis_id, gate1, loaded, ov, plan, q, q_insights, q_prompt, trail
):
    mo.stop(
        not gate1.open,
        mo.callout(
            mo.md(
                "Steps 3–4 wait for **gate 1 · data quality**: approve the data as it is, "
                "or modify it with a cleaning plan."
            ),
            kind="warn",
        ),
    )
    if plan.is_empty():
        table, ov_clean, q_clean = loaded.table, ov, q
        q_clean_insights, q_clean_prompt = q_insights, q_prompt
    else:
        table = apply_plan(loaded.con, plan, source=loaded.table)
        ov_clean = overview(loaded.con, table)
        q_clean = quality(loaded.con, table, overview=ov_clean)
        q_clean_insights, q_clean_prompt = ask(
            advisor,
            "quality",
            {"overview": ov_clean.to_dict(), "quality": q_clean.to_dict()},
            ai_rows,
        )
        record_step(trail, analysis_id, "quality_cleaned", q_clean)
    mo.vstack(
        [
            mo.md("## Step 2 · Quality after the cleaning plan"),
            quality_view(ov_clean, q_clean, q_clean_insights, q_clean_prompt),
        ]
        if not plan.is_empty()
        else [mo.md("Gate 1 approved the data as loaded; no cleaning plan.")]
    )
    return ov_clean, q_clean, table


@app.cell(hide_code=True)
def step3_controls(table):
    threshold = mo.ui.slider(
        0.5, 1.0, step=0.05, value=0.7, label="Strong correlation: |r| ≥", show_value=True
    )
    corr_method = mo.ui.dropdown(
        {"Pearson": "pearson", "Spearman": "spearman"}, value="Pearson", label="Correlation"
    )
    outlier_method = mo.ui.dropdown(
        {"IQR": "iqr", "Z-score": "zscore", "Isolation Forest": "isolation_forest"},
        value="IQR",
        label="Outlier method",
    )
    iqr_multiplier = mo.ui.number(0.5, 10.0, step=0.5, value=1.5, label="IQR multiplier")
    z_threshold = mo.ui.number(1.0, 10.0, step=0.5, value=3.0, label="|z| threshold")
    mo.vstack(
        [
            mo.md(f"## Step 3 · Statistics\n\nOn <code>{esc(table)}</code>."),
            mo.hstack([threshold, corr_method], justify="start", gap=2),
            mo.hstack([outlier_method, iqr_multiplier, z_threshold], justify="start", gap=2),
        ]
    )
    return corr_method, iqr_multiplier, outlier_method, threshold, z_threshold


@app.cell
def parameters_cell(
    analysis_id, corr_method, iqr_multiplier, outlier_method, plan, threshold, trail, z_threshold
):
    # A real change lands in the trail as a `parameter` event (from → to); nothing to show.
    _recorded = update_parameters(
        trail,
        analysis_id,
        {
            "cleaning_plan": plan.to_dict(),
            "threshold": threshold.value,
            "correlation": corr_method.value,
            "outliers": {
                "method": outlier_method.value,
                "iqr_multiplier": iqr_multiplier.value,
                "z_threshold": z_threshold.value,
            },
        },
    )
    return


@app.cell
def step3_matrix(corr_method, loaded, table):
    with mo.status.spinner(title="Step 3 · Statistics", subtitle="correlations, distributions"):
        stats_base, _error = attempt(
            "Step 3", statistics, loaded.con, table, method=corr_method.value
        )
    mo.stop(stats_base is None, failure(_error))
    return (stats_base,)


@app.cell
def step3_threshold(stats_base, threshold):
    stats = with_threshold(stats_base, threshold.value)
    return (stats,)


@app.cell
def step3_outliers(iqr_multiplier, loaded, outlier_method, table, z_threshold):
    with mo.status.spinner(title="Step 3 · Outliers", subtitle=outlier_method.selected_key):
        outlier_report, _error = attempt(
            "Outlier detection",
            outliers,
            loaded.con,
            table,
            method=outlier_method.value,
            iqr_multiplier=iqr_multiplier.value,
            z_threshold=z_threshold.value,
        )
    mo.stop(outlier_report is None, failure(_error))
    return (outlier_report,)


@app.cell
def step3_advice(advisor, ai_rows, analysis_id, loaded, stats, table, trail):
    stats_insights, stats_prompt = ask(advisor, "statistics", stats.to_dict(), ai_rows)
    scatters = tuple(scatter_sample(loaded.con, table, p.a, p.b) for p in stats.scatter_pairs)
    record_step(trail, analysis_id, "statistics", stats)
    return scatters, stats_insights, stats_prompt


@app.cell(hide_code=True)
def step3_show(outlier_report, scatters, stats, stats_insights, stats_prompt):
    _corr = stats.correlation
    _basis = f"{esc(_corr.method.title())} correlation, {esc(_corr.basis)}."
    mo.vstack(
        [
            mo.hstack(
                [
                    mo.stat(f"{len(_corr.columns)}", label="Numeric columns"),
                    mo.stat(
                        f"{len(stats.strong_correlations)}",
                        label="Strong pairs",
                        caption=f"|r| ≥ {stats.threshold:.2f}",
                    ),
                    mo.stat(
                        f"{sum(outlier_report.counts.values()):,}",
                        label="Outlier values",
                        caption=outlier_caption(outlier_report),
                    ),
                ],
                justify="start",
            ),
            *[
                mo.callout(mo.md(esc(n)), kind="info")
                for n in (*stats.notes, *outlier_report.notes)
            ],
            step_tabs(
                statistics_figures(stats, scatters),
                insights_view(stats_insights, stats_prompt),
                mo.vstack(
                    [
                        mo.md(_basis),
                        mo.md("**Strong correlations**"),
                        figures_table(
                            [p.to_dict() for p in stats.strong_correlations]
                            or [{"strong pairs": "none at this threshold"}]
                        ),
                        mo.md("**Distributions**"),
                        figures_table(distribution_rows(stats)),
                        mo.md(f"**Outliers** · {esc(outlier_caption(outlier_report))}"),
                        figures_table(
                            [
                                {k: v for k, v in c.to_dict().items() if k != "examples"}
                                for c in outlier_report.columns
                            ]
                            or [{"outliers": "no numeric columns"}]
                        ),
                    ]
                ),
                json_download("statistics", stats),
            ),
        ]
    )
    return


@app.function
def outlier_caption(report) -> str:
    """Which method and parameters found the outliers, and whether a sample was used."""
    params = ", ".join(f"{k}={v}" for k, v in report.params.items())
    where = f"on a seeded sample of {report.sample_rows:,} rows" if report.sample_based else ""
    return " ".join(p for p in (report.method, f"({params})" if params else "", where) if p)


@app.function
def distribution_rows(stats) -> list[dict]:
    """Skewness, excess kurtosis and the normality indication per numeric column."""
    return [
        {
            "column": name,
            "n": d.n,
            "skewness": d.skewness,
            "excess kurtosis": d.kurtosis,
            "normality": d.normality.note,
        }
        for name, d in stats.distributions.numeric.items()
    ]


@app.cell(hide_code=True)
def builder_kind_cell(ov_clean):
    builder_kinds = {c.name: c.kind for c in ov_clean.columns}
    chart_kind = mo.ui.dropdown(
        ["scatter", "line", "bar", "histogram", "box"], value="scatter", label="Chart"
    )
    return builder_kinds, chart_kind


@app.cell(hide_code=True)
def builder_axes_cell(builder_kinds, chart_kind):
    _options = chart_options(chart_kind.value, builder_kinds)
    chart_x = mo.ui.dropdown(list(_options.x), value=first(_options.x), label="x")
    chart_y = mo.ui.dropdown(
        list(_options.y), value=first([c for c in _options.y if c != first(_options.x)]), label="y"
    )
    chart_color = mo.ui.dropdown(list(_options.color), label="colour")
    mo.vstack(
        [
            mo.md("## Chart builder\n\nOnly columns that suit the chart are offered."),
            mo.hstack(
                [chart_kind, chart_x, *([chart_y] if _options.y else []), chart_color],
                justify="start",
                gap=1,
            ),
        ]
    )
    return chart_color, chart_x, chart_y


@app.function
def first(names) -> str | None:
    """The first offered column, so the builder shows a chart before anyone picks."""
    return next(iter(names), None)


@app.cell(hide_code=True)
def builder_chart_cell(builder_kinds, chart_color, chart_kind, chart_x, chart_y, loaded, table):
    _spec = ChartSpec(chart_kind.value, chart_x.value, chart_y.value, chart_color.value)
    _built = build_chart(loaded.con, table, _spec, kinds=builder_kinds)
    (
        mo.callout(mo.md(esc(_built.message)), kind="info")
        if isinstance(_built, ChartProblem)
        else chart_figure(_built)
    )
    return


@app.cell(hide_code=True)
def sql_form_cell(table):
    sql_form = mo.ui.code_editor(
        value=f"SELECT *\nFROM {quote_ident(table)}\nLIMIT 100", language="sql", min_height=80
    ).form(submit_button_label="Run query")
    mo.vstack(
        [
            mo.md(
                "## Custom analysis (SQL)\n\nOne read-only `SELECT` over the loaded table "
                f"(<code>{esc(table)}</code>); at most 1 000 rows reach the browser."
            ),
            sql_form,
        ]
    )
    return (sql_form,)


@app.cell(hide_code=True)
def sql_result_cell(loaded, sql_form):
    mo.stop(sql_form.value is None)
    try:
        _result = run_readonly_sql(loaded.con, sql_form.value, limit=1000)
    except SqlError as _error:
        _result = None
        _shown = mo.callout(mo.md(esc(_error)), kind="danger")
    else:
        _shown = mo.vstack(
            [
                mo.md(
                    f"{_result.n_rows_returned:,} row(s) in {_result.elapsed_ms:,.0f} ms"
                    + (" — truncated at 1 000" if _result.truncated else "")
                ),
                mo.ui.table(_result.frame(), selection=None, page_size=20),
            ]
        )
    _shown
    return


@app.cell(hide_code=True)
def power_user_note(table):
    mo.accordion(
        {
            "For power users (marimo edit): query the same table with mo.sql": mo.md(
                "In `uv run marimo edit app.py`, add a cell:\n\n"
                "```python\n"
                f'_df = mo.sql(f"SELECT count(*) FROM {quote_ident(table)}", '
                "engine=loaded.con)\n"
                "```\n\n"
                "`loaded.con` is this session's DuckDB connection and the table is the one the "
                "steps above use (the cleaned view when gate 1 set a cleaning plan). "
                "It is not read-only: the SQL box above is."
            )
        }
    )
    return


@app.cell
def gate2_subject(iqr_multiplier, outlier_method, stats, subject1, z_threshold):
    subject2 = next_subject(
        subject1,
        "analysis_validation",
        {
            "threshold": stats.threshold,
            "correlation": stats.correlation.method,
            "outliers": {
                "method": outlier_method.value,
                "iqr_multiplier": iqr_multiplier.value,
                "z_threshold": z_threshold.value,
            },
            "result": report_digest(stats.to_dict()),
        },
    )
    return (subject2,)


@app.cell(hide_code=True)
def gate2_form_cell(stats_insights, subject2):
    gate2_form = gate_form(
        "analysis_validation",
        {
            "reject_findings": mo.ui.multiselect(
                {f.title: f.id for f in stats_insights.findings}, label="Reject findings"
            ),
            "reason": mo.ui.text(label="Why", full_width=True),
        },
        "**Reject individual findings** (with *modify*): {reject_findings} {reason}",
    )
    _ = subject2
    gate2_form
    return (gate2_form,)


@app.cell
def gate2_answer_cell(gate2_form):
    gate2_answer = gate2_form.value
    return (gate2_answer,)


@app.cell
def gate2_decide(analysis_id, gate2_answer, stats_insights, subject2, trail):
    gate2_refusal = decide_answer(
        trail,
        analysis_id,
        "analysis_validation",
        subject2,
        gate2_answer,
        rejected_findings_from(gate2_answer, stats_insights),
    )
    gate2, _view = settle_gate(trail, analysis_id, "analysis_validation", subject2, gate2_refusal)
    rejected_findings = (
        tuple(gate2.decision.modifications.get("rejected_findings", ()))
        if gate2.decision is not None and gate2.status == "modified"
        else ()
    )
    _view
    return gate2, gate2_refusal, rejected_findings


@app.cell(hide_code=True)
def model_form_cell(gate2, ov_clean):
    mo.stop(
        not gate2.open,
        mo.callout(
            mo.md("The model baseline and Step 4 wait for **gate 2 · analysis validation**."),
            kind="warn",
        ),
    )
    _names = [c.name for c in ov_clean.columns]
    model_form = (
        mo.md("## Model baseline (optional)\n\n{target}\n\n{exclude}")
        .batch(
            target=mo.ui.dropdown([NO_TARGET, *_names], value=NO_TARGET, label="Target column"),
            exclude=mo.ui.multiselect(_names, label="Leave out features"),
        )
        .form(submit_button_label="Train baselines", bordered=True)
    )
    model_form
    return (model_form,)


@app.cell
def model_excluded_state():
    get_model_exclusions, set_model_exclusions = mo.state(())
    return get_model_exclusions, set_model_exclusions


@app.cell
def model_cell(analysis_id, get_model_exclusions, loaded, model_form, table, trail):
    model_card, model_error = None, None
    _choice = model_form.value or {}
    if _choice.get("target", NO_TARGET) != NO_TARGET:
        _left_out = {*(_choice.get("exclude") or ()), *get_model_exclusions()}
        _features = None
        if _left_out:
            _features = [
                c.name
                for c in columns(loaded.con, table)
                if c.name not in _left_out and c.name != _choice["target"]
            ]
        with mo.status.spinner(title="Training baselines", subtitle="seeded sample") as _spin:
            try:
                model_card = baselines(
                    loaded.con,
                    table,
                    _choice["target"],
                    features=_features,
                    progress=lambda message, _fraction: _spin.update(subtitle=message),
                )
            except TargetError as _error:
                model_error = str(_error)
    if model_card is not None:
        record_step(trail, analysis_id, "model", model_card)
    return model_card, model_error


@app.cell(hide_code=True)
def model_show(model_card, model_error):
    mo.stop(
        model_card is None,
        mo.callout(mo.md(esc(model_error)), kind="danger")
        if model_error
        else mo.md("_No target chosen: gate 3 is not applicable and does not block._"),
    )
    mo.vstack(
        [
            mo.md(
                f"**Task:** {esc(model_card.task)} — {esc(model_card.task_reason)}  \n"
                f"Trained on {model_card.sample_rows_used:,} of {model_card.n_rows_total:,} rows"
                f"{' (a seeded sample)' if model_card.sample_based else ''}; "
                f"{model_card.folds}-fold cross-validation. "
                f"**Recommended:** <code>{esc(model_card.selected)}</code> "
                f"({esc(model_card.selection_rule)})"
            ),
            *[mo.callout(mo.md(esc(w.sentence)), kind="warn") for w in model_card.warnings],
            mo.ui.table(candidate_rows(model_card), selection=None, show_download=False),
            mo.md("**Permutation importances** (best model, held-out split)"),
            figures_table(
                [i.to_dict() for i in model_card.importances] or [{"importances": "none"}]
            ),
        ]
    )
    return


@app.function
def candidate_rows(card) -> list[dict]:
    """One row per candidate: each metric as mean ± std over the folds."""
    return [
        {
            "candidate": c.name,
            "description": c.description,
            **{m: f"{v.mean:.4f} ± {v.std:.4f}" for m, v in c.metrics.items()},
            "fit seconds": round(c.fit_seconds, 2),
        }
        for c in card.candidates
    ]


@app.cell
def gate3_subject(model_card, subject2):
    subject3 = (
        next_subject(subject2, "model_approval", model_card.subject_parts())
        if model_card is not None
        else None
    )
    return (subject3,)


@app.cell(hide_code=True)
def gate3_form_cell(model_card, subject3):
    gate3_form = None
    if subject3 is not None:
        gate3_form = gate_form(
            "model_approval",
            {
                "candidate": mo.ui.dropdown(
                    [c.name for c in model_card.candidates],
                    value=model_card.selected,
                    label="Use candidate",
                ),
                "exclude": mo.ui.multiselect(
                    list(model_card.features), label="or leave out features and re-run"
                ),
            },
            "**With *modify*:** {candidate} {exclude}",
        )
    gate3_form
    return (gate3_form,)


@app.cell
def gate3_answer_cell(gate3_form):
    gate3_answer = gate3_form.value if gate3_form is not None else None
    return (gate3_answer,)


@app.cell
def gate3_decide(analysis_id, gate3_answer, model_card, set_model_exclusions, subject3, trail):
    _mods = model_modifications(gate3_answer, model_card)
    gate3_refusal = decide_answer(
        trail, analysis_id, "model_approval", subject3, gate3_answer, _mods
    )
    gate3, _view = settle_gate(trail, analysis_id, "model_approval", subject3, gate3_refusal)
    if gate3_refusal is None and _mods and _mods.get("exclude_features"):
        set_model_exclusions(tuple(_mods["exclude_features"]))
    _view
    return gate3, gate3_refusal


@app.cell
def step4_state():
    get_step4_feedback, set_step4_feedback = mo.state(
        {"feedback": (), "previous": None, "reviews": None}
    )
    return get_step4_feedback, set_step4_feedback


@app.cell
def step4_compute(
    advisor,
    analysis_id,
    gate1,
    gate2,
    gate3,
    get_step4_feedback,
    model_card,
    ov_clean,
    ov_insights,
    q_clean,
    q_insights,
    rejected_findings,
    stats,
    stats_insights,
    trail,
):
    mo.stop(
        not gate3.open,
        mo.callout(mo.md("Step 4 waits for **gate 3 · model approval**."), kind="warn"),
    )
    _asked = get_step4_feedback()
    _reviews = _asked["reviews"] or {}
    _context = RecommendContext(
        overview=ov_clean.to_dict(),
        quality=q_clean.to_dict(),
        statistics=stats.to_dict(),
        model=approved_model(model_card, gate3),
        decisions={g.gate: g.report_entry() for g in (gate1, gate2, gate3)},
        rejected_finding_ids=frozenset(f["id"] for f in rejected_findings),
        reviewer_feedback=_asked["feedback"],
        findings=tuple(
            f.to_dict() for i in (ov_insights, q_insights, stats_insights) for f in i.findings
        ),
        previous=_asked["previous"],
        item_verdicts=_reviews.get("items", {}),
        item_edits=_reviews.get("edits", {}),
    )
    with mo.status.spinner(title="Step 4 · Recommendations", subtitle=advisor.name):
        recs = advisor.recommend(_context)
    record_step(trail, analysis_id, "recommendations", recs)
    recs_diff = compare(_asked["previous"], recs) if _asked["previous"] is not None else None
    return recs, recs_diff


@app.cell(hide_code=True)
def step4_show(gate1, gate2, gate3, recs, recs_diff):
    _statuses = [
        ("Step 1 · Overview", "done"),
        ("Step 2 · Quality", "done"),
        ("Gate 1 · Data quality", gate1.status),
        ("Step 3 · Statistics", "done"),
        ("Gate 2 · Analysis validation", gate2.status),
        ("Gate 3 · Model approval", gate3.status),
        ("Step 4 · Recommendations", "done"),
    ]
    _plan = [
        {
            "#": n,
            "priority": i.priority,
            "title": i.title,
            "rationale": i.rationale,
            "evidence": "; ".join(i.evidence),
            "impact": i.impact,
            "effort": i.effort,
        }
        for n, i in enumerate(recs.action_plan, start=1)
    ]
    _insights = mo.vstack(
        [
            mo.md(f"_Advisor: {esc(recs.advisor)} · version {recs.version}_"),
            *([mo.callout(mo.md(esc(recs.notice)), kind="warn")] if recs.notice else []),
            mo.md("**Business insights**\n\n" + bullets(recs.business_insights)),
            mo.md("**Next steps**\n\n" + bullets(recs.next_steps)),
        ]
    )
    mo.vstack(
        [
            mo.md("## Step 4 · Recommendations"),
            mo.md(f"Version {recs.version}, from the {esc(recs.advisor)} advisor."),
            *([diff_view(recs_diff)] if recs_diff is not None else []),
            step_tabs(
                recommendation_figures(_statuses, recs),
                _insights,
                mo.ui.table(_plan or [{"action plan": "nothing to do"}], selection=None),
                json_download("recommendations", recs),
            ),
        ]
    )
    return


@app.function
def bullets(lines) -> str:
    """Escaped markdown bullets (advisor text may quote column names)."""
    return "\n".join(f"- {esc(line)}" for line in lines) or "_none_"


@app.function
def diff_view(diff) -> mo.Html:
    """What the regenerated version changed, next to the one the reviewer sent back."""
    parts = [f"**Compared with version {diff.old_version}:**"]
    parts += [f"- added: {esc(i.title)}" for i in diff.added]
    parts += [f"- removed: {esc(i.title)}" for i in diff.removed]
    parts += [f"- changed: {esc(c.title)} ({esc(', '.join(c.fields))})" for c in diff.changed]
    parts += [f"- new insight: {esc(t)}" for t in diff.insights_added]
    parts += [f"- insight dropped: {esc(t)}" for t in diff.insights_removed]
    parts += [f"- new next step: {esc(t)}" for t in diff.next_steps_added]
    parts += [f"- next step dropped: {esc(t)}" for t in diff.next_steps_removed]
    if diff.is_empty:
        parts.append("- no change to the plan")
    return mo.callout(mo.md("\n".join(parts)), kind="info")


@app.cell
def gate4_subject(recs, subject2, subject3):
    subject4 = next_subject(
        subject3 or subject2,
        "result_verification",
        {"recommendations": report_digest(recs.to_dict())},
    )
    return (subject4,)


@app.cell(hide_code=True)
def gate4_form_cell(recs, subject4):
    _ = subject4
    _fields = item_fields(recs.action_plan)
    _elements = {}
    for _verdict, _edit, _item in _fields:
        _elements[_verdict] = mo.ui.dropdown(
            ["accept", "reject", "edit"], value="accept", label=esc(_item.title)
        )
        _elements[_edit] = mo.ui.text(placeholder="new wording, for edit", full_width=True)
    _lines = "\n".join(f"- {{{_verdict}}} {{{_edit}}}" for _verdict, _edit, _ in _fields)
    gate4_form = gate_form(
        "result_verification",
        _elements,
        f"**Each recommendation** (accept, reject, or edit with new wording):\n\n{_lines}\n\n"
        "_Modify regenerates Step 4 with your notes, rejections and edits as feedback._",
    )
    gate4_form
    return (gate4_form,)


@app.cell
def gate4_answer_cell(gate4_form, recs):
    gate4_answer = nested_items(gate4_form.value, recs.action_plan)
    return (gate4_answer,)


@app.cell
def gate4_decide(analysis_id, gate4_answer, recs, set_step4_feedback, subject4, trail):
    _feedback = feedback_lines(gate4_answer, recs.action_plan) if gate4_answer else ()
    _reviews = item_reviews(gate4_answer, recs)
    gate4_refusal = decide_answer(
        trail,
        analysis_id,
        "result_verification",
        subject4,
        gate4_answer,
        modifications={"feedback": list(_feedback)} if _feedback else None,
        details=_reviews,
    )
    gate4, _view = settle_gate(trail, analysis_id, "result_verification", subject4, gate4_refusal)
    if gate4_refusal is None and gate4_answer and gate4_answer["verdict"] == "modify":
        set_step4_feedback({"feedback": _feedback, "previous": recs, "reviews": _reviews})
    _view
    return gate4, gate4_refusal


@app.cell
def report_cell(
    analysis_id,
    gate1,
    gate2,
    gate3,
    gate4,
    loaded,
    model_card,
    outlier_report,
    ov_clean,
    ov_insights,
    plan,
    q_clean,
    q_insights,
    recs,
    rejected_findings,
    stats,
    stats_insights,
    trail,
):
    mo.stop(
        not gate4.open,
        mo.callout(mo.md("Export waits for **gate 4 · result verification**."), kind="warn"),
    )
    _items = (gate4.decision.details or {}) if gate4.decision else {}
    report_parts = {
        "source": loaded.report.to_dict(),
        "overview": ov_clean.to_dict(),
        "quality": q_clean.to_dict(),
        "cleaning": plan.to_dict(),
        "statistics": {**stats.to_dict(), "outliers": outlier_report.to_dict()},
        "model": approved_model(model_card, gate3),
        "recommendations": reviewed(recs, _items.get("items", {}), _items.get("edits", {})),
        "ai": {
            "overview": ov_insights.to_dict(),
            "quality": q_insights.to_dict(),
            "statistics": mark_rejected(stats_insights.to_dict(), rejected_findings),
        },
        "parameters": {
            "threshold": stats.threshold,
            "correlation": stats.correlation.method,
            "outliers": outlier_report.params | {"method": outlier_report.method},
        },
    }
    _gates = {g.gate: g.report_entry() for g in (gate1, gate2, gate3, gate4)}
    draft = build_report(**report_parts, gates=_gates, audit=audit_section(trail, analysis_id))
    subject5 = next_subject(
        gate4.subject_sha256, "export_authorization", {"report": draft["content_sha256"]}
    )
    return draft, report_parts, subject5


@app.function
def audit_section(trail: AuditTrail, analysis_id: str) -> dict:
    """The report's audit block: this analysis's events and the chain head they hang from."""
    return {
        "head_sha256": trail.head(),
        "verified": trail.verify().ok,
        "events": [e.to_dict() for e in trail.events(analysis_id=analysis_id)],
    }


@app.cell(hide_code=True)
def gate5_form_cell(draft, subject5):
    _ = subject5
    gate5_form = gate_form("export_authorization")
    mo.vstack(
        [
            mo.md("## Export"),
            mo.download(
                data=lambda: json_report(draft),
                filename=safe_filename(PurePath(draft["source"]["name"]).stem, "-draft.json"),
                mimetype="application/json",
                label="Draft JSON report (status: draft)",
            ),
            gate5_form,
        ]
    )
    return (gate5_form,)


@app.cell
def gate5_answer_cell(gate5_form):
    gate5_answer = gate5_form.value
    return (gate5_answer,)


@app.cell
def gate5_decide(analysis_id, gate5_answer, subject5, trail):
    gate5_refusal = decide_answer(
        trail, analysis_id, "export_authorization", subject5, gate5_answer
    )
    gate5, _view = settle_gate(trail, analysis_id, "export_authorization", subject5, gate5_refusal)
    _view
    return gate5, gate5_refusal


@app.cell
def final_report_cell(
    analysis_id,
    gate1,
    gate2,
    gate3,
    gate4,
    gate5,
    loaded,
    ov_clean,
    q_clean,
    report_parts,
    scatters,
    stats,
    table,
    trail,
):
    mo.stop(
        gate5.status != "approved",
        mo.callout(
            mo.md("Final exports appear once **gate 5 · export authorization** is approved."),
            kind="info",
        ),
    )
    _gates = {g.gate: g.report_entry() for g in (gate1, gate2, gate3, gate4, gate5)}
    report = build_report(**report_parts, gates=_gates, audit=audit_section(trail, analysis_id))
    _figures = {
        **overview_figures(ov_clean),
        **quality_figures(ov_clean, q_clean),
        **statistics_figures(stats, scatters),
    }
    _exports = ExportsOnDemand(
        report,
        con=loaded.con,
        table=table,
        figures=_figures,
        audit_events_jsonl=lambda: trail.to_jsonl(analysis_id=analysis_id).encode(),
        on_export=lambda export: trail.append("export", export.to_dict(), analysis_id=analysis_id),
    )
    mo.vstack(
        [
            mo.md("**Final exports** (each file is recorded in the audit trail with its sha256)"),
            mo.hstack(
                [
                    mo.download(
                        data=lambda n=name, ex=_exports: ex.build(n), filename=name, label=name
                    )
                    for name in _exports.names
                ],
                wrap=True,
                justify="start",
            ),
        ]
    )
    return (report,)


@app.cell(hide_code=True)
def audit_controls():
    audit_kind = mo.ui.dropdown(["(all)", *EVENT_KINDS], value="(all)", label="Kind")
    audit_gate = mo.ui.dropdown(["(all)", *GATE_IDS], value="(all)", label="Gate")
    audit_actor = mo.ui.text(label="Reviewer")
    audit_refresh = mo.ui.refresh(options=["10s", "1m"], default_interval="10s", label="Refresh")
    return audit_actor, audit_gate, audit_kind, audit_refresh


@app.cell(hide_code=True)
def audit_viewer(audit_actor, audit_gate, audit_kind, audit_refresh, trail):
    _ = audit_refresh.value
    _filters = {
        "kind": None if audit_kind.value == "(all)" else audit_kind.value,
        "gate": None if audit_gate.value == "(all)" else audit_gate.value,
        "actor": audit_actor.value.strip() or None,
    }
    _check = trail.verify()
    _events = trail.events(**_filters, limit=500)
    mo.vstack(
        [
            mo.md("## Audit trail"),
            mo.callout(
                mo.md(
                    f"**Chain verified:** {_check.n_events:,} events, head "
                    f"`{(trail.head() or '')[:16]}…`"
                    if _check.ok
                    else f"**Chain broken:** {esc(_check.reason)}"
                ),
                kind="success" if _check.ok else "danger",
            ),
            mo.hstack([audit_kind, audit_gate, audit_actor, audit_refresh], justify="start", gap=1),
            mo.ui.table(
                [event_row(e) for e in reversed(_events)] or [{"events": "none match"}],
                selection=None,
                page_size=15,
                show_download=False,
            ),
            mo.download(
                data=lambda f=_filters: trail.to_jsonl(**f).encode(),
                filename="signoff-audit.jsonl",
                mimetype="application/x-ndjson",
                label="Download as JSON Lines",
            ),
        ]
    )
    return


@app.function
def event_row(event) -> dict:
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


if __name__ == "__main__":
    app.run()
