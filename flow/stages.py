"""The stages of an analysis, each a function of the record so far.

The notebook calls them one cell at a time as gates open; `compute` calls them all for the
headless run. Each returns a new `Record` (or a part of one) and the prompts its advisor
was (or would have been) sent, so the app can show exactly what leaves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import duckdb

from ai.prompts import Prompt, recommend_prompt, step_prompt
from ai.types import Advisor, Rows
from review.answers import feedback_in_force, reviews_in_force
from review.gates import Decision, subject_of
from steps.alerts import (
    Inputs,
    Thresholds,
    alerts_for,
    gate_one_inputs,
    step3_alerts,
    time_columns,
)
from steps.alerts.score import triaged_quality
from steps.alerts.triage import AlertTriage, read_triage
from steps.cleaning import CleaningPlan, apply_plan
from steps.engine import Budget, columns
from steps.insights import Facts, Finding, Step, StepInsights
from steps.load import Loaded, LoadReport
from steps.outliers import OutlierReport, outliers
from steps.overview import overview
from steps.quality import quality
from steps.recommend import ItemReviews, Recommendations, RecommendContext
from steps.record import Analysed, CorrelationMethod, Described, Parameters, Record
from steps.statistics import Statistics, scatter_sample, statistics, with_threshold

Prompts = Mapping[str, Prompt]
T = TypeVar("T")
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Options:
    """What the analyst (or the command line) chose, stage by stage."""

    plan: CleaningPlan = dataclasses.field(default_factory=CleaningPlan)
    parameters: Parameters = dataclasses.field(default_factory=Parameters)
    target: str | None = None
    exclude: tuple[str, ...] = ()
    thresholds: Thresholds = dataclasses.field(default_factory=Thresholds)
    triage: tuple[Mapping[str, object], ...] = ()


def facts_of(record: Record) -> Facts:
    """What an advisor may read of the record: the view's figures, the approved model, and
    the alerts with the ones the gate-1 reviewer dismissed marked so."""
    shown = record.shown
    return Facts(
        overview=shown.overview,
        quality=shown.quality,
        statistics=record.analysed.statistics if record.analysed is not None else None,
        model=record.approved_model,
        alerts=record.alerts,
        dismissed=record.triage.dismissed(),
    )


def _advise(
    advisor: Advisor, step: Step, facts: Facts, rows: Rows | None
) -> tuple[StepInsights, Prompt]:
    prompt = step_prompt(step, facts, rows=rows, privacy=advisor.privacy)
    return advisor.advise(step, facts, prompt=prompt, rows=rows), prompt


def describe(
    con: duckdb.DuckDBPyConnection,
    table: str,
    advisor: Advisor,
    rows: Rows | None,
    *,
    load: LoadReport | None = None,
    thresholds: Thresholds | None = None,
    triage: AlertTriage | None = None,
) -> tuple[Described, Prompts]:
    """Steps 1–2 of one table, its alerts, and what the advisor says of each step (the
    advisor reads the alerts, less those `triage` dismissed; so does the score)."""
    chosen, triage = thresholds or Thresholds(), triage or AlertTriage()
    ov = overview(con, table)
    q = quality(con, table, overview=ov)
    alerts = alerts_for(gate_one_inputs(con, table, ov, q, load, chosen), chosen)
    q = triaged_quality(ov, q, alerts, triage)
    dismissed = triage.dismissed()
    facts = Facts(ov, alerts=alerts, dismissed=dismissed)
    ov_insights, ov_prompt = _advise(advisor, "overview", facts, rows)
    q_insights, q_prompt = _advise(advisor, "quality", dataclasses.replace(facts, quality=q), rows)
    described = Described(table, ov, q, ov_insights, q_insights, alerts)
    return described, {"overview": ov_prompt, "quality": q_prompt}


def start(
    loaded: Loaded,
    advisor: Advisor,
    rows: Rows | None,
    thresholds: Thresholds | None = None,
) -> tuple[Record, Prompts]:
    """The record of a freshly loaded file: its Steps 1–2 and their alerts (at the
    thresholds the settings give)."""
    original, prompts = describe(
        loaded.con, loaded.table, advisor, rows, load=loaded.report, thresholds=thresholds
    )
    return Record(source=loaded.report, original=original), prompts


def triaged(record: Record, triage: AlertTriage) -> Record:
    """The record with gate 1's triage in force (`clean` then describes the view with it)."""
    return dataclasses.replace(record, triage=triage)


def triage_entries(record: Record, entries: Sequence[Mapping[str, object]]) -> AlertTriage:
    """A saved triage (report-shaped entries) checked against this record's gate-1 alerts."""
    columns = [c.name for c in record.original.overview.columns]
    return read_triage(entries, record.original.alerts, columns)


def clean(
    record: Record, loaded: Loaded, plan: CleaningPlan, advisor: Advisor, rows: Rows | None
) -> tuple[Record, Prompts]:
    """The record once gate 1 opens: Steps 1–2 of the cleaned view when a plan applies,
    else the data as loaded; described again when the triage dismissed an alert, so the
    score and the advice leave it out."""
    if plan.is_empty() and not record.triage.dismissed():
        return dataclasses.replace(record, plan=plan, view=record.original), {}
    table = loaded.table if plan.is_empty() else apply_plan(loaded.con, plan, source=loaded.table)
    view, prompts = describe(
        loaded.con, table, advisor, rows, load=loaded.report, triage=record.triage
    )
    return dataclasses.replace(record, plan=plan, view=view), prompts


def statistics_at(
    con: duckdb.DuckDBPyConnection, view: Described, method: CorrelationMethod
) -> Statistics:
    """Step 3's matrix and distributions of the view: the expensive part, computed once per
    method (the threshold only picks pairs from it, see `with_threshold`), its top values
    read from the view's Step 1 counts."""
    return statistics(con, view.table, method=method, counted=view.overview.value_counts)


def outliers_at(
    con: duckdb.DuckDBPyConnection, view: Described, parameters: Parameters
) -> OutlierReport:
    """Outliers by the chosen method. Step 2 has counted them by IQR and by Z-score on the
    same table already; that report is taken as it is when the method and its parameter
    match, instead of scanning the table again."""
    chosen = {
        "iqr": {"iqr_multiplier": parameters.iqr_multiplier},
        "zscore": {"z_threshold": parameters.z_threshold},
    }.get(parameters.outlier_method)
    for counted in view.quality.outlier_reports:
        if counted.method == parameters.outlier_method and counted.params == chosen:
            return counted
    return outliers(con, view.table, **parameters.outlier_options())  # type: ignore[arg-type]


def analyse(
    record: Record,
    con: duckdb.DuckDBPyConnection,
    parameters: Parameters,
    advisor: Advisor,
    rows: Rows | None,
    *,
    base: Statistics | None = None,
    found: OutlierReport | None = None,
    thresholds: Thresholds | None = None,
) -> tuple[Record, Prompts]:
    """Step 3 on the view: statistics at the threshold, outliers by the chosen method, the
    scatter samples, and the advisor's findings. The app passes the matrix (`base`) and the
    outliers (`found`) it computed already, so moving the threshold slider costs no scan."""
    assert record.view is not None, "Step 3 runs on the view gate 1 opened"
    table = record.view.table
    thresholds = thresholds or Thresholds()
    stats = with_threshold(
        base or statistics_at(con, record.view, parameters.correlation), parameters.threshold
    )
    found = found or outliers_at(con, record.view, parameters)
    scatters = tuple(scatter_sample(con, table, p.a, p.b) for p in stats.scatter_pairs)
    view = record.view
    inputs = Inputs(view.overview, view.quality, alerts=record.original.alerts)
    alerts = step3_alerts(inputs, stats, thresholds)
    facts = Facts(
        view.overview,
        view.quality,
        stats,
        alerts=(*record.original.alerts, *alerts),
        dismissed=record.triage.dismissed(),
    )
    insights, prompt = _advise(advisor, "statistics", facts, rows)
    analysed = Analysed(parameters, stats, found, scatters, insights, alerts)
    return dataclasses.replace(record, analysed=analysed), {"statistics": prompt}


def train(
    record: Record,
    con: duckdb.DuckDBPyConnection,
    target: str | None,
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
) -> Record:
    """Baseline models for the target on the view (none without a target)."""
    if target is None:
        return dataclasses.replace(record, model=None)
    # Imported here: it brings pandas, which a run without a target never needs.
    from steps.model.baseline import baselines

    assert record.view is not None, "models train on the view gate 1 opened"
    table = record.view.table
    features = None
    if exclude:
        features = [
            c.name for c in columns(con, table) if c.name not in exclude and c.name != target
        ]
    card = baselines(
        con,
        table,
        target,
        features=features,
        progress=progress,
        time_columns=time_columns(record.shown.overview, record.alerts),
    )
    return dataclasses.replace(record, model=card)


def findings_of(record: Record) -> tuple[Finding, ...]:
    """The Step 1–3 findings reviewers saw, in flow order."""
    shown = record.shown
    found = [*shown.overview_insights.findings, *shown.quality_insights.findings]
    if record.analysed is not None:
        found += record.analysed.insights.findings
    return tuple(found)


def recommend(
    record: Record,
    advisor: Advisor,
    rows: Rows | None,
    *,
    feedback: tuple[str, ...] = (),
    previous: Recommendations | None = None,
    reviews: ItemReviews | None = None,
) -> tuple[Record, Prompts]:
    """Step 4 from everything before it: findings not rejected at gate 2, the approved
    model, the reviewers' notes and, after a gate-4 *modify*, the version sent back."""
    context = RecommendContext(
        facts=facts_of(record),
        findings=findings_of(record),
        rejected_finding_ids=frozenset(r.id for r in record.rejected),
        feedback=tuple(dict.fromkeys(feedback)),
        previous=previous,
        reviews=reviews or ItemReviews(),
    )
    prompt = recommend_prompt(context, rows=rows, privacy=advisor.privacy)
    recs = advisor.recommend(context, prompt=prompt, rows=rows)
    return dataclasses.replace(record, recommendations=recs), {"recommendations": prompt}


def recommend_reviewed(
    record: Record,
    advisor: Advisor,
    rows: Rows | None,
    *,
    notes: tuple[str, ...],
    history: Sequence[Decision],
    upstream: str | None,
) -> tuple[Record, Prompts, Recommendations | None]:
    """Step 4 as the gate-4 reviewers left it: version 1, then one regeneration for each
    *modify* decided on the version before it (its feedback and item verdicts applied).

    Why replay rather than remember: the trail holds the decisions, and the advisors are
    deterministic (offline) or cached by prompt (remote), so reopening an analysis anywhere
    shows the very version that was verified. Returns the record, the prompts of its last
    generation, and the version it regenerated (None for version 1).
    """
    record, prompts = recommend(record, advisor, rows, feedback=notes)
    previous = None
    for decision in history:
        subject = subject_of("result_verification", record, upstream)
        if decision.verdict != "modify" or decision.subject_sha256 != subject:
            continue
        previous = record.recommendations
        record, prompts = recommend(
            record,
            advisor,
            rows,
            feedback=(*notes, *feedback_in_force(decision)),
            previous=previous,
            reviews=reviews_in_force(record, decision).reviews,
        )
    return record, prompts, previous


def budget(loaded: Loaded, seconds: float) -> Budget:
    """The time each step of this analysis may take, naming the table a refusal is about."""
    size = f"{loaded.report.n_rows:,} rows × {loaded.report.n_columns:,} columns"
    return Budget(loaded.con, seconds, size)


def compute(
    loaded: Loaded,
    options: Options,
    advisor: Advisor,
    rows: Rows | None = None,
    *,
    within: Budget | None = None,
) -> Record:
    """Every stage in order, as the headless run needs it: the same record the notebook
    builds when each gate is approved with the same choices, each stage `within` the
    budget the notebook gives it."""
    run = within.run if within is not None else _unbounded
    record, _ = run("Steps 1–2", start, loaded, advisor, rows, options.thresholds)
    record = triaged(record, triage_entries(record, options.triage))
    record, _ = run("The cleaning plan", clean, record, loaded, options.plan, advisor, rows)
    record, _ = run(
        "Step 3",
        analyse,
        record,
        loaded.con,
        options.parameters,
        advisor,
        rows,
        thresholds=options.thresholds,
    )
    record = run(
        "Training the baselines", train, record, loaded.con, options.target, options.exclude
    )
    record, _ = recommend(record, advisor, rows)
    return record


def _unbounded(what: str, step: Callable[..., T], *args: object, **kwargs: object) -> T:
    return step(*args, **kwargs)
