import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="signoff")

with app.setup:
    import html
    from pathlib import Path

    import marimo as mo

    from ai.advisor import choose_advisor
    from review.analyses import register_analysis
    from review.audit import AuditTrail, default_db_path
    from review.gates import (
        GateError,
        decide,
        decisions,
        gate_by_id,
        gate_state,
        next_subject,
        record_stale,
    )
    from review.requests import request_review
    from review.workspace import keep_source
    from samples import SAMPLES, sample_path
    from steps.cleaning import CleaningPlan, apply_plan
    from steps.figures import overview_figures, quality_figures, statistics_figures
    from steps.load import LoadError, load, max_bytes
    from steps.outliers import outliers
    from steps.overview import overview
    from steps.quality import quality
    from steps.report import report_digest
    from steps.settings import Settings
    from steps.statistics import scatter_sample, statistics, with_threshold


@app.function
def esc(value: object) -> str:
    """Data-derived text for `mo.md`, which renders HTML as is: always escaped."""
    return html.escape(str(value))


@app.function
def load_source(source: dict) -> tuple[object | None, str | None]:
    """Load the source, then keep it in the workspace so a reviewer can reopen it.

    Returns (loaded, None) or (None, one sentence): a bad file never raises into the page.
    """
    try:
        loaded = load(source["data"], name=source["name"], limit=max_bytes())
        keep_source(source["data"], source["name"])
    except (LoadError, OSError, ValueError) as error:
        return None, str(error)
    return loaded, None


@app.function
def insights_view(insights) -> mo.Html:
    """An advisor's findings as callouts, with its notice and any unverified numbers."""
    kinds = {"critical": "danger", "warning": "warn", "info": "neutral"}
    parts = [mo.md(f"_Advisor: {esc(insights.advisor)}_")]
    if insights.notice:
        parts.append(mo.callout(mo.plain_text(insights.notice), kind="warn"))
    for finding in insights.findings:
        evidence = "; ".join(f"`{esc(e)}`" for e in finding.evidence)
        body = f"**{esc(finding.title)}**\n\n{esc(finding.detail)}"
        if evidence:
            body += f"\n\nEvidence: {evidence}"
        parts.append(mo.callout(mo.md(body), kind=kinds.get(finding.severity, "neutral")))
    if not insights.findings:
        parts.append(mo.md("No findings."))
    if insights.unverified_numbers:
        listed = ", ".join(esc(n) for n in insights.unverified_numbers)
        parts.append(
            mo.callout(mo.md(f"Numbers not found in the computed figures: {listed}"), kind="danger")
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
    import json

    return mo.download(
        data=lambda: json.dumps(result.to_dict(), indent=2).encode(),
        filename=f"{name}.json",
        mimetype="application/json",
        label=f"{name}.json",
    )


@app.function
def record_step(trail: AuditTrail, analysis_id: str, step: str, result) -> None:
    """A `step` audit event naming the result by its digest (never its rows)."""
    trail.append(
        "step", {"step": step, "digest": report_digest(result.to_dict())}, analysis_id=analysis_id
    )


@app.function
def validate_answer(value: dict | None) -> str | None:
    """The form's own check: a verdict and a reviewer's name are required."""
    if not value:
        return "Fill in the form."
    if not value.get("verdict"):
        return "Choose approve, reject or modify."
    if not (value.get("reviewer") or "").strip():
        return "A decision needs the reviewer's name."
    return None


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
def plan_from_answer(answer: dict | None) -> CleaningPlan:
    """The cleaning plan a gate-1 form asks for (empty unless the verdict is modify)."""
    if not answer or answer.get("verdict") != "modify":
        return CleaningPlan()
    return CleaningPlan(
        drop_duplicates=bool(answer.get("drop_duplicates")),
        drop_columns=tuple(answer.get("drop_columns") or ()),
        drop_rows_missing=tuple(answer.get("drop_rows_missing") or ()),
    )


@app.function
def decide_answer(
    trail: AuditTrail,
    analysis_id: str,
    gate_id: str,
    subject: str,
    answer: dict | None,
    modifications: dict | None = None,
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
            type="correction" if state.status == "rejected" else "approval",
            priority=2 if state.status in ("rejected", "stale") else 3,
        )
    shown = [gate_callout(state)]
    if refusal:
        shown.insert(0, mo.callout(mo.md(esc(refusal)), kind="danger"))
    return state, mo.vstack(shown)


@app.function
def plan_of(decision) -> CleaningPlan:
    """The cleaning plan a gate-1 decision put in force (empty unless it was a modify)."""
    if decision is None or decision.verdict != "modify":
        return CleaningPlan()
    plan = decision.modifications.get("cleaning_plan", {})
    return CleaningPlan(
        drop_duplicates=bool(plan.get("drop_duplicates")),
        drop_columns=tuple(plan.get("drop_columns", ())),
        drop_rows_missing=tuple(plan.get("drop_rows_missing", ())),
    )


@app.function
def data_quality_subject(sha256: str, plan: CleaningPlan) -> str:
    """Gate 1 approves these bytes with this cleaning plan, nothing else."""
    return next_subject(
        None, "data_quality", {"data_sha256": sha256, "cleaning_plan": plan.digest()}
    )


@app.cell(hide_code=True)
def header():
    settings = Settings.from_env()
    trail = AuditTrail(default_db_path())
    advisor = choose_advisor()
    _mode = "Hosted (read-only) mode. " if settings.hosted else ""
    mo.vstack(
        [
            mo.md(
                "# signoff\n\nGuided data analysis: each step is signed off before the next "
                "one builds on it. Every decision lands in a tamper-evident audit trail."
            ),
            mo.callout(mo.md(f"{_mode}{esc(advisor.description)}"), kind="neutral"),
        ]
    )
    return advisor, settings, trail


@app.cell(hide_code=True)
def source_picker(settings):
    sample_form = mo.ui.dropdown(
        {s.title: s.name for s in SAMPLES}, value=SAMPLES[1].title, label="Sample"
    ).form(submit_button_label="Load sample")
    upload = mo.ui.file(
        filetypes=[".csv", ".tsv", ".txt", ".xlsx", ".xls"],
        max_size=max_bytes(),
        kind="area",
        label="Drop a CSV or Excel file",
    )
    path_form = mo.ui.text(label="Path on this machine", full_width=True).form(
        submit_button_label="Load file"
    )
    _tabs = {"Sample": sample_form, "Upload": upload}
    if not settings.hosted:
        _tabs["Local path"] = path_form
    source_tabs = mo.ui.tabs(_tabs)
    mo.vstack([mo.md("## Data"), source_tabs])
    return path_form, sample_form, source_tabs, upload


@app.cell
def source_choice(path_form, sample_form, settings, source_tabs, upload):
    source = None
    if source_tabs.value == "Sample" and sample_form.value:
        _path = sample_path(sample_form.value)
        source = {"name": _path.name, "data": _path}
    elif source_tabs.value == "Upload" and upload.value:
        source = {"name": upload.name(), "data": upload.contents()}
    elif source_tabs.value == "Local path" and path_form.value and not settings.hosted:
        _path = Path(path_form.value).expanduser()
        source = {"name": _path.name, "data": _path}
    return (source,)


@app.cell
def load_cell(source, trail):
    mo.stop(
        source is None,
        mo.callout(
            mo.md("Pick a sample and press **Load sample**, or upload a CSV or Excel file."),
            kind="info",
        ),
    )
    with mo.status.spinner(title="Loading", subtitle=esc(source["name"])):
        loaded, _error = load_source(source)
    mo.stop(loaded is None, mo.callout(mo.md(esc(_error)), kind="danger"))
    analysis_id = loaded.report.sha256[:16]
    register_analysis(
        trail,
        analysis_id=analysis_id,
        source_sha256=loaded.report.sha256,
        source_name=loaded.report.name,
    )
    _load_event = trail.append("load", loaded.report.to_dict(), analysis_id=analysis_id)
    return analysis_id, loaded


@app.cell(hide_code=True)
def load_summary(loaded):
    _r = loaded.report
    _notes = [
        f"Encoding **{esc(_r.encoding)}**, delimiter `{esc(_r.delimiter or '—')}`, "
        f"{_r.rows_skipped} row(s) skipped."
    ]
    if _r.missing_markers_seen:
        _markers = ", ".join(f"`{esc(m) or '(empty)'}`" for m in _r.missing_markers_seen)
        _notes.append(f"Read as missing: {_markers}.")
    for _w in _r.warnings:
        _notes.append(esc(_w))
    mo.vstack(
        [
            mo.md(f"Loaded **{esc(_r.name)}** · sha256 `{_r.sha256[:16]}…`"),
            mo.md("  \n".join(_notes)),
        ]
    )
    return


@app.cell
def step1_compute(analysis_id, loaded, trail):
    with mo.status.spinner(title="Step 1 · Overview"):
        ov = overview(loaded.con, loaded.table)
    record_step(trail, analysis_id, "overview", ov)
    return (ov,)


@app.cell
def step1_advice(advisor, ov):
    ov_insights = advisor.advise("overview", ov.to_dict())
    return (ov_insights,)


@app.cell(hide_code=True)
def step1_show(ov, ov_insights):
    _cards = mo.hstack(
        [
            mo.stat(f"{ov.n_rows:,}", label="Rows"),
            mo.stat(f"{ov.n_columns:,}", label="Columns"),
            mo.stat(f"{ov.memory_bytes / 1e6:,.1f} MB", label="Memory", caption="in DuckDB"),
        ],
        justify="start",
    )
    _summary = mo.ui.table(
        [c.to_dict() for c in ov.columns], selection=None, page_size=20, show_download=False
    )
    mo.vstack(
        [
            mo.md("## Step 1 · Overview"),
            _cards,
            step_tabs(
                overview_figures(ov),
                insights_view(ov_insights),
                _summary,
                json_download("overview", ov),
            ),
        ]
    )
    return


@app.cell
def step2_compute(analysis_id, loaded, ov, trail):
    with mo.status.spinner(title="Step 2 · Quality"):
        q = quality(loaded.con, loaded.table, overview=ov)
    record_step(trail, analysis_id, "quality", q)
    return (q,)


@app.cell
def step2_advice(advisor, q):
    q_insights = advisor.advise("quality", q.to_dict())
    return (q_insights,)


@app.cell(hide_code=True)
def step2_show(ov, q, q_insights):
    mo.vstack(
        [
            mo.md("## Step 2 · Quality"),
            quality_view(ov, q, q_insights),
        ]
    )
    return


@app.function
def quality_view(ov, q, insights) -> mo.Html:
    """Step 2's cards and tabs; shared by the original data and the cleaned view."""
    cards = mo.hstack(
        [
            mo.stat(f"{q.quality_score:.1f}", label="Quality score", caption="out of 100"),
            mo.stat(f"{q.duplicate_rows:,}", label="Duplicate rows"),
            mo.stat(f"{q.missing_cells:,}", label="Missing cells"),
        ],
        justify="start",
    )
    metrics = mo.vstack(
        [
            mo.md(f"**Quality score formula:** `{esc(q.score_formula)}`"),
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
            step_tabs(
                quality_figures(ov, q),
                insights_view(insights),
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
def cleaned_cell(advisor, analysis_id, gate1, loaded, ov, plan, q, q_insights, trail):
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
        table, ov_clean, q_clean, q_clean_insights = loaded.table, ov, q, q_insights
    else:
        table = apply_plan(loaded.con, plan, source=loaded.table)
        ov_clean = overview(loaded.con, table)
        q_clean = quality(loaded.con, table, overview=ov_clean)
        q_clean_insights = advisor.advise("quality", q_clean.to_dict())
        record_step(trail, analysis_id, "quality_cleaned", q_clean)
    mo.vstack(
        [
            mo.md("## Step 2 · Quality after the cleaning plan"),
            quality_view(ov_clean, q_clean, q_clean_insights),
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
            mo.md(f"## Step 3 · Statistics\n\nOn `{esc(table)}`."),
            mo.hstack([threshold, corr_method], justify="start", gap=2),
            mo.hstack([outlier_method, iqr_multiplier, z_threshold], justify="start", gap=2),
        ]
    )
    return corr_method, iqr_multiplier, outlier_method, threshold, z_threshold


@app.cell
def step3_matrix(corr_method, loaded, table):
    with mo.status.spinner(title="Step 3 · Statistics", subtitle="correlations, distributions"):
        stats_base = statistics(loaded.con, table, method=corr_method.value)
    return (stats_base,)


@app.cell
def step3_threshold(stats_base, threshold):
    stats = with_threshold(stats_base, threshold.value)
    return (stats,)


@app.cell
def step3_outliers(iqr_multiplier, loaded, outlier_method, table, z_threshold):
    with mo.status.spinner(title="Step 3 · Outliers", subtitle=outlier_method.selected_key):
        outlier_report = outliers(
            loaded.con,
            table,
            method=outlier_method.value,
            iqr_multiplier=iqr_multiplier.value,
            z_threshold=z_threshold.value,
        )
    return (outlier_report,)


@app.cell
def step3_advice(advisor, analysis_id, loaded, stats, table, trail):
    stats_insights = advisor.advise("statistics", stats.to_dict())
    scatters = tuple(scatter_sample(loaded.con, table, p.a, p.b) for p in stats.scatter_pairs)
    record_step(trail, analysis_id, "statistics", stats)
    return scatters, stats_insights


@app.cell(hide_code=True)
def step3_show(outlier_report, scatters, stats, stats_insights):
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
            step_tabs(
                statistics_figures(stats, scatters),
                insights_view(stats_insights),
                mo.vstack(
                    [
                        mo.md(_basis),
                        mo.md("**Strong correlations**"),
                        mo.ui.table(
                            [p.to_dict() for p in stats.strong_correlations]
                            or [{"strong pairs": "none at this threshold"}],
                            selection=None,
                            show_download=False,
                        ),
                        mo.md("**Distributions**"),
                        mo.ui.table(distribution_rows(stats), selection=None, show_download=False),
                        mo.md(f"**Outliers** · {esc(outlier_caption(outlier_report))}"),
                        mo.ui.table(
                            [
                                {k: v for k, v in c.to_dict().items() if k != "examples"}
                                for c in outlier_report.columns
                            ]
                            or [{"outliers": "no numeric columns"}],
                            selection=None,
                            show_download=False,
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


@app.function
def rejected_findings_from(answer: dict | None, insights) -> dict | None:
    """Gate 2's *modify*: the findings the reviewer rejected, each with the reason given."""
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


if __name__ == "__main__":
    app.run()
