import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="signoff", html_head_file="flow/head.html")

with app.setup:
    from pathlib import Path, PurePath

    import marimo as mo

    from ai.factory import choose_advisor
    from flow import pages, team, views, widgets
    from flow.choices import (
        choices_of,
        keep_model,
        keep_parameters,
        keep_rerun,
        rerun_without,
        with_remembered_triage,
    )
    from flow.gates import notes_feedback, settle
    from flow.report import (
        audit_extract,
        audit_summary,
        check_decisions_stand,
        record_step,
        report,
    )
    from flow.source import Source, open_source, source_at
    from flow.stages import (
        analyse,
        clean,
        outliers_at,
        recommend_reviewed,
        start,
        statistics_at,
        train,
    )
    from flow.stages import budget as stage_budget
    from review.ai_cache import AICache
    from review.answers import exclusions_in_force
    from review.audit import EVENT_KINDS, AuditTrail
    from review.audit_key import key_for
    from review.gates import decisions, gate_by_id, gate_ids
    from review.identity import Signing, identity_from
    from review.requests import open_requests
    from samples import SAMPLES, sample_path
    from steps.chart_builder import ChartProblem, ChartSpec
    from steps.chart_builder import build as build_chart
    from steps.chart_builder import figure as chart_figure
    from steps.engine import lock_down, sample_frame
    from steps.exports import ExportContext, ExportsOnDemand, json_report
    from steps.figures import report_figures
    from steps.recommend import compare
    from steps.record import Parameters
    from steps.results import json_safe
    from steps.rows import WHICH as ROW_LOOKS
    from steps.rows import rows_at
    from steps.settings import Settings
    from steps.statistics import import_scipy_in_background
    from steps.text import safe_filename

    esc = views.esc
    import_scipy_in_background()


@app.cell(hide_code=True)
def header():
    settings, _problem = views.attempt("Reading the settings", Settings.from_env)
    mo.stop(settings is None, views.failure(_problem))
    trail, _problem = views.attempt(
        "Opening the audit trail", AuditTrail, settings.db, key=key_for(settings)
    )
    mo.stop(trail is None, views.failure(_problem))
    _request = mo.app_meta().request
    signing = Signing(
        identity_from(
            _request.user if _request else None,
            _request.meta if _request else None,
            settings.identity,
        ),
        settings.identity,
    )
    mo.stop(
        settings.identity.source is not None and signing.identity is None,
        views.failure(
            "This server names its reviewers, and this page came without one: open it through "
            "python -m server and sign in."
        ),
    )
    advisor = choose_advisor(
        settings.ai,
        cache=AICache(trail.storage),
        on_call=lambda call: trail.append("ai_call", call.to_dict()),
    )
    share_rows = widgets.share_rows_box(advisor, settings)
    widgets.intro(advisor, settings, share_rows)
    return advisor, settings, share_rows, signing, trail


@app.cell
def progress_state():
    # Where each step and gate stands, for the strip at the top of the page.
    _empty: dict[str, str] = {}
    get_progress, set_progress = mo.state(_empty)
    return get_progress, set_progress


@app.cell(hide_code=True)
def progress_cell(get_progress):
    views.progress_strip(get_progress())
    return


@app.cell
def source_state():
    # The data is the last source handed over, whichever tab is shown: opening the Review
    # queue tab (or Upload) to look must not throw the analysis on screen away.
    get_source, set_source = mo.state(None)
    return get_source, set_source


@app.cell(hide_code=True)
def source_picker(set_source, settings):
    sample_form = mo.ui.dropdown(
        {s.title: s.name for s in SAMPLES}, value=SAMPLES[1].title, label="Sample"
    ).form(
        submit_button_label="Load sample",
        on_change=lambda name: (
            set_source(Source(sample_path(name).name, sample_path(name)))
            if name and not settings.hosted
            else None
        ),
    )
    upload = mo.ui.file(
        filetypes=[".csv", ".tsv", ".txt", ".xlsx", ".xls"],
        max_size=settings.max_bytes,
        kind="area",
        label="Drop a CSV or Excel file",
        on_change=lambda files: (
            set_source(Source(files[0].name, files[0].contents)) if files else None
        ),
    )
    path_form = mo.ui.text(label="Path on this machine", full_width=True).form(
        submit_button_label="Load file",
        on_change=lambda text: (
            set_source(Source(Path(text).expanduser().name, Path(text).expanduser()))
            if text and not settings.hosted
            else None
        ),
    )
    _upload: mo.Html = upload
    if views.upload_route():
        _upload = mo.vstack(
            [
                upload,
                mo.md(
                    f"Large file? [Stream it to the server]({views.upload_route()}): "
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
def queue_cell(queue_refresh, set_routed, set_source, settings, signing, trail):
    _ = queue_refresh.value
    queue = mo.ui.table(
        team.queue_rows(open_requests(trail)) or [{"queue": "no open review requests"}],
        selection="single",
        label="Open review requests, highest priority first (select one to open it)",
        show_download=False,
        on_change=lambda rows: set_source(team.reopen(trail, settings, rows)),
    )
    _route = team.route_form(
        lambda answer: set_routed(
            team.route_selected(
                trail, team.selected_request(queue.value), answer, signing.signed_in
            )
        )
    )
    team.queue_sidebar(queue_refresh, queue, _route)
    return


@app.cell
def route_cell(get_routed):
    _routed = get_routed()
    mo.stop(_routed is None)
    _routed
    return


@app.cell
def address_source(settings, signing, trail):
    # The page's address may name what to open: `?analysis=<id>` (a reload, a link) or
    # `?upload=<sha256>` (a file streamed to `python -m server`).
    streamed = source_at(mo.query_params().to_dict(), settings, trail, signing.signed_in)
    return (streamed,)


@app.cell
def source_choice(get_source, streamed):
    # A file streamed to /upload opens the page on it; anything handed over since wins.
    source = get_source() or streamed
    return (source,)


@app.cell
def shown_state():
    # The analysis on screen. Only a load that succeeds replaces it, so a file that fails
    # leaves everything downstream as it was: no step re-runs, no gate or trail row changes.
    get_shown, set_shown = mo.state(None)
    return get_shown, set_shown


@app.cell
def read_state():
    # How the person chose to read a source, as (source, ReadOptions): set by the form
    # beside the load summary, it loads that source again; another source starts afresh.
    get_read, set_read = mo.state(None)
    return get_read, set_read


@app.cell(hide_code=True)
def load_attempt(get_read, get_shown, set_progress, set_shown, settings, signing, source, trail):
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
    _chosen = get_read()
    _options = _chosen[1] if _chosen is not None and _chosen[0] is source else None
    with mo.status.spinner(title="Loading", subtitle=esc(source.name)):
        _opened, load_error = views.attempt(
            "Loading the file",
            open_source,
            source,
            settings,
            trail,
            _options,
            person=signing.signed_in,
        )
    if _opened is not None:
        if settings.hosted:
            lock_down(_opened.loaded.con)
        set_shown(_opened)
        set_progress({"load": "done"})
        # The address names the analysis, so a reload (or the link, sent on) reopens it.
        mo.query_params()["analysis"] = _opened.analysis_id
    _still = get_shown() if _opened is None else None
    (
        mo.vstack(
            [
                views.failure(load_error),
                *(
                    [mo.md(f"_Still showing **{esc(_still.loaded.report.name)}**._")]
                    if _still is not None
                    else []
                ),
            ]
        )
        if load_error
        else None
    )
    return (load_error,)


@app.cell(hide_code=True)
def load_cell(get_shown, load_error, set_read):
    opened = get_shown()
    _ = load_error
    mo.stop(opened is None)
    loaded, analysis_id = opened.loaded, opened.analysis_id
    mo.vstack(
        [
            pages.load_summary(loaded.report, opened.source.awaiting),
            pages.read_options_form(
                loaded.report, lambda options: set_read((opened.source, options))
            ),
        ]
    )
    return analysis_id, loaded


@app.cell
def budget_cell(loaded, settings):
    step_budget = stage_budget(loaded, settings.step_timeout_s)
    return (step_budget,)


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
def steps12(advisor, ai_rows, analysis_id, loaded, set_progress, settings, step_budget, trail):
    with mo.status.spinner(title="Steps 1–2 · Overview and quality"):
        _started, _error = views.within(
            step_budget, "Steps 1–2", start, loaded, advisor, ai_rows, settings.alerts
        )
    mo.stop(_started is None, views.failure(_error))
    record0, prompts0 = _started
    record_step(trail, analysis_id, "overview", record0.original.overview)
    record_step(trail, analysis_id, "quality", record0.original.quality)
    set_progress(
        lambda p: views.progressed(views.progressed(p, "overview", "done"), "quality", "done")
    )
    return prompts0, record0


@app.cell(hide_code=True)
def step1_show(prompts0, record0):
    mo.vstack(
        [
            views.heading("overview", "Step 1 · Overview"),
            pages.overview_page(record0.original, prompts0),
        ]
    )
    return


@app.cell(hide_code=True)
def column_pick_cell(record0):
    _names = [c.name for c in record0.original.overview.columns]
    column_pick = mo.ui.dropdown(
        _names, value=_names[0] if _names else None, searchable=True, label="Look at one column"
    )
    return (column_pick,)


@app.cell(hide_code=True)
def column_card_cell(column_pick, record0):
    mo.stop(column_pick.value is None)
    mo.vstack([column_pick, pages.column_view(record0.original.overview.column(column_pick.value))])
    return


@app.cell(hide_code=True)
def step2_show(prompts0, record0):
    mo.vstack(
        [
            views.heading("quality", "Step 2 · Quality"),
            pages.quality_page(record0.original, prompts0),
        ]
    )
    return


@app.cell(hide_code=True)
def rows_cell(loaded, record0):
    # The rows themselves, so gate 1 signs off data the reviewer has seen.
    mo.vstack(
        [
            mo.md("### The rows"),
            pages.rows_view(
                [rows_at(loaded.con, record0.original.table, which) for which in ROW_LOOKS]
            ),
        ]
    )
    return


@app.cell(hide_code=True)
def gate1_form_cell(record0, signing, trail):
    # The alerts' triage pre-filled from the trail: decided on these bytes, or suggested.
    gate1_form = views.gate_form(
        gate_by_id("data_quality"),
        with_remembered_triage(trail, record0, signing.signed_in),
        signing.signed_in,
    )
    gate1_form
    return (gate1_form,)


@app.cell
def gate1_settle(analysis_id, gate1_form, record0, set_progress, signing, trail):
    gate1 = settle(
        trail,
        analysis_id=analysis_id,
        gate="data_quality",
        record=record0,
        answer=gate1_form.value,
        signing=signing,
    )
    set_progress(lambda p: views.progressed(p, "data_quality", gate1.state.status))
    views.gate_view(gate1.state, gate1.refusal)
    return (gate1,)


@app.cell
def cleaned_cell(advisor, ai_rows, analysis_id, gate1, loaded, step_budget, trail):
    mo.stop(not gate1.state.open, views.waiting("Steps 3–4", gate1.state))
    with mo.status.spinner(title="Applying the cleaning plan"):
        _cleaned, _error = views.within(
            step_budget,
            "The cleaning plan",
            clean,
            gate1.record,
            loaded,
            gate1.record.plan,
            advisor,
            ai_rows,
        )
    mo.stop(_cleaned is None, views.failure(_error))
    record1, prompts1 = _cleaned
    _delta = record1.cleaning_delta
    if _delta is not None:
        record_step(trail, analysis_id, "quality_cleaned", record1.view.quality)
    (
        pages.cleaned_quality_page(record1.view, record1.plan, _delta, prompts1)
        if _delta is not None
        else mo.md("Gate 1 approved the data as loaded; no cleaning plan.")
    )
    return (record1,)


@app.cell(hide_code=True)
def step3_controls(analysis_id, record1, trail):
    # Start from the choices kept with the analysis, so a reopened one shows what was seen.
    _controls = widgets.step3_controls(choices_of(trail, analysis_id).parameters)
    threshold, corr_method, outlier_method, iqr_multiplier, z_threshold = _controls
    widgets.step3_head(record1.view.table, _controls)
    return corr_method, iqr_multiplier, outlier_method, threshold, z_threshold


@app.cell
def parameters_cell(corr_method, iqr_multiplier, outlier_method, threshold, z_threshold):
    parameters = Parameters(
        threshold=threshold.value,
        correlation=corr_method.value,
        outlier_method=outlier_method.value,
        iqr_multiplier=iqr_multiplier.value,
        z_threshold=z_threshold.value,
    )
    return (parameters,)


@app.cell
def parameter_events(analysis_id, parameters, record1, trail):
    # A real change lands in the trail as a `parameter` event (from → to); nothing to show.
    keep_parameters(trail, analysis_id, parameters, record1.plan)
    return


@app.cell
def step3_matrix(corr_method, loaded, record1, step_budget):
    with mo.status.spinner(title="Step 3 · Statistics", subtitle="correlations, distributions"):
        stats_base, _error = views.within(
            step_budget, "Step 3", statistics_at, loaded.con, record1.view, corr_method.value
        )
    mo.stop(stats_base is None, views.failure(_error))
    return (stats_base,)


@app.cell
def step3_outliers(
    iqr_multiplier, loaded, outlier_method, parameters, record1, step_budget, z_threshold
):
    _ = (outlier_method.value, iqr_multiplier.value, z_threshold.value)
    with mo.status.spinner(title="Step 3 · Outliers", subtitle=outlier_method.selected_key):
        outlier_report, _error = views.within(
            step_budget, "Outlier detection", outliers_at, loaded.con, record1.view, parameters
        )
    mo.stop(outlier_report is None, views.failure(_error))
    return (outlier_report,)


@app.cell
def step3_compute(
    advisor,
    ai_rows,
    analysis_id,
    loaded,
    outlier_report,
    parameters,
    record1,
    set_progress,
    settings,
    stats_base,
    trail,
):
    record2, prompts2 = analyse(
        record1,
        loaded.con,
        parameters,
        advisor,
        ai_rows,
        base=stats_base,
        found=outlier_report,
        thresholds=settings.alerts,
    )
    record_step(trail, analysis_id, "statistics", record2.analysed and record2.analysed.statistics)
    set_progress(lambda p: views.progressed(p, "statistics", "done"))
    return prompts2, record2


@app.cell(hide_code=True)
def step3_show(prompts2, record2):
    pages.statistics_page(record2.analysed, prompts2)
    return


@app.cell(hide_code=True)
def builder_kind_cell(record1):
    builder_kinds = {c.name: c.kind for c in record1.view.overview.columns}
    chart_kind = mo.ui.dropdown(
        ["scatter", "line", "bar", "histogram", "box"], value="scatter", label="Chart"
    )
    return builder_kinds, chart_kind


@app.cell(hide_code=True)
def builder_axes_cell(builder_kinds, chart_kind):
    chart_x, chart_y, chart_color = widgets.chart_axes(chart_kind.value, builder_kinds)
    widgets.chart_head(chart_kind, chart_x, chart_y, chart_color)
    return chart_color, chart_x, chart_y


@app.cell(hide_code=True)
def builder_chart_cell(builder_kinds, chart_color, chart_kind, chart_x, chart_y, loaded, record1):
    _spec = ChartSpec(chart_kind.value, chart_x.value, chart_y.value, chart_color.value)
    _built = build_chart(loaded.con, record1.view.table, _spec, kinds=builder_kinds)
    (
        mo.callout(mo.md(esc(_built.message)), kind="info")
        if isinstance(_built, ChartProblem)
        else chart_figure(_built)
    )
    return


@app.cell(hide_code=True)
def sql_form_cell(record1):
    sql_form = widgets.sql_form(record1.view.table)
    widgets.sql_head(record1.view.table, sql_form)
    return (sql_form,)


@app.cell(hide_code=True)
def sql_result_cell(loaded, settings, sql_form):
    mo.stop(sql_form.value is None)
    widgets.sql_result(loaded.con, sql_form.value, settings)
    return


@app.cell(hide_code=True)
def power_user_note(record1):
    widgets.power_user_note(record1.view.table)
    return


@app.cell(hide_code=True)
def gate2_form_cell(record2, signing):
    gate2_form = views.gate_form(gate_by_id("analysis_validation"), record2, signing.signed_in)
    gate2_form
    return (gate2_form,)


@app.cell
def gate2_settle(analysis_id, gate1, gate2_form, record2, set_progress, signing, trail):
    gate2 = settle(
        trail,
        analysis_id=analysis_id,
        gate="analysis_validation",
        record=record2,
        answer=gate2_form.value,
        signing=signing,
        upstream=gate1.state,
    )
    set_progress(lambda p: views.progressed(p, "analysis_validation", gate2.state.status))
    views.gate_view(gate2.state, gate2.refusal)
    return (gate2,)


@app.cell(hide_code=True)
def model_form_cell(analysis_id, gate2, trail):
    mo.stop(not gate2.state.open, views.waiting("The model baseline and Step 4", gate2.state))
    _names = [c.name for c in gate2.record.view.overview.columns]
    model_form = widgets.model_form(_names, choices_of(trail, analysis_id))
    model_form
    return (model_form,)


@app.cell
def model_rerun_state():
    # Set when gate 3's modify asks for a re-run without some features.
    get_rerun, set_rerun = mo.state(0)
    return get_rerun, set_rerun


@app.cell
def model_cell(analysis_id, gate2, get_rerun, loaded, model_form, set_progress, step_budget, trail):
    _ = get_rerun()
    _asked = model_form.value
    if _asked is not None:
        _target = None if _asked["target"] == widgets.NO_TARGET else _asked["target"]
        keep_model(trail, analysis_id, _target, _asked.get("exclude") or ())
    model_choices = choices_of(trail, analysis_id)
    with mo.status.spinner(title="Training baselines", subtitle="seeded sample") as _spin:
        record3, model_error = views.within(
            step_budget,
            "Training the baselines",
            train,
            gate2.record,
            loaded.con,
            model_choices.target,
            model_choices.left_out,
            lambda message, _fraction: _spin.update(subtitle=message),
        )
    if record3 is not None:
        record_step(trail, analysis_id, "model", record3.model)
        _trained = "done" if record3.model is not None else "not_applicable"
        set_progress(lambda p: views.progressed(p, "model", _trained))
    return model_choices, model_error, record3


@app.cell(hide_code=True)
def model_show(model_error, record3):
    mo.stop(
        record3 is None or record3.model is None,
        views.failure(model_error)
        if model_error
        else mo.md("_No target chosen: gate 3 is not applicable and does not block._"),
    )
    pages.model_page(record3.model)
    return


@app.cell(hide_code=True)
def gate3_form_cell(record3, signing):
    mo.stop(record3 is None)
    # No target, no model: the gate does not apply and offers no form.
    gate3_form = (
        views.gate_form(gate_by_id("model_approval"), record3, signing.signed_in)
        if record3.model
        else None
    )
    gate3_form
    return (gate3_form,)


@app.cell
def gate3_settle(
    analysis_id, gate2, gate3_form, model_choices, record3, set_progress, set_rerun, signing, trail
):
    _answer = gate3_form.value if gate3_form is not None else None
    gate3 = settle(
        trail,
        analysis_id=analysis_id,
        gate="model_approval",
        record=record3,
        answer=_answer,
        signing=signing,
        upstream=gate2.state,
        rerun=rerun_without(trail, analysis_id, model_choices),
    )
    _left_out = exclusions_in_force(gate3.state.decision) if gate3.refusal is None else ()
    _modify = _answer is not None and _answer["verdict"] == "modify" and bool(_left_out)
    if _modify and keep_rerun(trail, model_choices, analysis_id, _left_out):
        set_rerun(lambda n: n + 1)
    set_progress(lambda p: views.progressed(p, "model_approval", gate3.state.status))
    views.gate_view(gate3.state, gate3.refusal)
    return (gate3,)


@app.cell
def step4_state():
    # Bumped by a gate-4 modify: Step 4 replays its decisions and regenerates.
    get_step4_round, set_step4_round = mo.state(0)
    return get_step4_round, set_step4_round


@app.cell
def step4_compute(
    advisor, ai_rows, analysis_id, gate1, gate2, gate3, get_step4_round, set_progress, trail
):
    mo.stop(not gate3.state.open, views.waiting("Step 4", gate3.state))
    _ = get_step4_round()
    with mo.status.spinner(title="Step 4 · Recommendations", subtitle=advisor.name):
        record4, prompts4, _previous = recommend_reviewed(
            gate3.record,
            advisor,
            ai_rows,
            notes=notes_feedback([gate1.state, gate2.state, gate3.state]),
            history=decisions(trail, analysis_id=analysis_id, gate="result_verification"),
            upstream=gate3.state.chain_sha256,
        )
    record_step(trail, analysis_id, "recommendations", record4.recommendations)
    set_progress(lambda p: views.progressed(p, "recommendations", "done"))
    recs_diff = (
        compare(_previous, record4.recommendations)
        if _previous is not None and record4.recommendations is not None
        else None
    )
    return prompts4, record4, recs_diff


@app.cell(hide_code=True)
def step4_show(gate1, gate2, gate3, prompts4, record4, recs_diff):
    mo.vstack(
        [
            views.heading("recommendations", "Step 4 · Recommendations"),
            pages.recommendations_page(
                record4.recommendations,
                recs_diff,
                [gate1.state, gate2.state, gate3.state],
                prompts4,
            ),
        ]
    )
    return


@app.cell(hide_code=True)
def gate4_form_cell(record4, signing):
    gate4_form = views.gate_form(gate_by_id("result_verification"), record4, signing.signed_in)
    gate4_form
    return (gate4_form,)


@app.cell
def gate4_settle(
    analysis_id,
    gate3,
    gate4_form,
    record4,
    recs_diff,
    set_progress,
    set_step4_round,
    signing,
    trail,
):
    _answer = gate4_form.value
    gate4 = settle(
        trail,
        analysis_id=analysis_id,
        gate="result_verification",
        record=record4,
        answer=_answer,
        signing=signing,
        upstream=gate3.state,
        rerun=f"regenerated as version {recs_diff.new_version}" if recs_diff else None,
    )
    if gate4.refusal is None and _answer and _answer["verdict"] == "modify":
        set_step4_round(lambda n: n + 1)
    set_progress(lambda p: views.progressed(p, "result_verification", gate4.state.status))
    views.gate_view(gate4.state, gate4.refusal)
    return (gate4,)


@app.cell(hide_code=True)
def gate5_form_cell(gate4, signing):
    mo.stop(not gate4.state.open, views.waiting("Export", gate4.state))
    gate5_form = views.gate_form(
        gate_by_id("export_authorization"), gate4.record, signing.signed_in
    )
    mo.vstack([views.heading("export", "Export"), gate5_form])
    return (gate5_form,)


@app.cell
def gate5_settle(analysis_id, gate4, gate5_form, set_progress, signing, trail):
    gate5 = settle(
        trail,
        analysis_id=analysis_id,
        gate="export_authorization",
        record=gate4.record,
        answer=gate5_form.value,
        signing=signing,
        upstream=gate4.state,
    )
    set_progress(lambda p: views.progressed(p, "export_authorization", gate5.state.status))
    views.gate_view(gate5.state, gate5.refusal)
    return (gate5,)


@app.cell(hide_code=True)
def export_refusal_state():
    get_export_refusal, set_export_refusal = mo.state(None)
    return get_export_refusal, set_export_refusal


@app.cell
def exports_cell(analysis_id, gate1, gate2, gate3, gate4, gate5, loaded, set_export_refusal, trail):
    states = [g.state for g in (gate1, gate2, gate3, gate4, gate5)]
    exported = report(gate5.record, states, audit=audit_summary(trail, analysis_id))
    _stem = PurePath(exported.record.source.name).stem
    _draft = mo.download(
        data=lambda: json_report(exported),
        filename=safe_filename(_stem, "-draft.json"),
        mimetype="application/json",
        label="Draft JSON report (status: draft)",
    )
    mo.stop(exported.status != "final", _draft)
    final_exports = ExportsOnDemand(
        ExportContext(
            exported, report_figures(exported.record), loaded.con, exported.record.shown.table
        ),
        audit=lambda: audit_extract(trail, analysis_id),
        on_export=lambda export: trail.append("export", export.to_dict(), analysis_id=analysis_id),
        check=lambda: check_decisions_stand(trail, analysis_id, states),
    )
    widgets.final_downloads(final_exports, set_export_refusal)
    return exported, final_exports


@app.cell(hide_code=True)
def export_refusal_view(get_export_refusal):
    mo.stop(get_export_refusal() is None)
    views.failure(get_export_refusal())
    return


@app.cell(hide_code=True)
def audit_controls():
    audit_kind = mo.ui.dropdown([team.ALL, *EVENT_KINDS], value=team.ALL, label="Kind")
    audit_gate = mo.ui.dropdown([team.ALL, *gate_ids()], value=team.ALL, label="Gate")
    audit_actor = mo.ui.text(label="Reviewer")
    audit_refresh = mo.ui.refresh(options=["10s", "1m"], default_interval="10s", label="Refresh")
    return audit_actor, audit_gate, audit_kind, audit_refresh


@app.cell(hide_code=True)
def audit_viewer(audit_actor, audit_gate, audit_kind, audit_refresh, trail):
    _ = audit_refresh.value
    team.audit_view(
        trail,
        [audit_kind, audit_gate, audit_actor, audit_refresh],
        team.audit_filters(audit_kind.value, audit_gate.value, audit_actor.value),
    )
    return


if __name__ == "__main__":
    app.run()
