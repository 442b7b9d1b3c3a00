"""What a person reads of a report, in flow order: the outline TXT and HTML both render.

Built from the typed report, so a figure cannot read differently in the two, and every
decision shows the same way in both: a finding rejected at gate 2 and a recommendation
rejected or edited at gate 4 are marked where they appear.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from steps.alerts.triage import Triage
from steps.cleaning import CleaningPlan
from steps.insights import StepInsights
from steps.model import ModelCard
from steps.recommend import ItemReviews, Recommendations
from steps.record import Analysed, CleaningDelta, Described, Record, RejectedFinding
from steps.report import AuditSummary, GateEntry, Report
from steps.text import number_text

_COLUMN_STATS = ("mean", "std", "min", "q1", "median", "q3", "max")


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    caption: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    facts: tuple[tuple[str, str], ...] = ()
    tables: tuple[Table, ...] = ()
    bullets: tuple[str, ...] = ()
    flagged: tuple[str, ...] = ()


def status_line(report: Report) -> str:
    label = "FINAL" if report.status == "final" else "DRAFT"
    return f"{label}: {report.status_reason}"


def outline(report: Report) -> list[Section]:
    """Every section, in flow order; a step that did not run says so."""
    record = report.record
    return [
        _source(report),
        _gates(report.gates),
        _overview(record.shown),
        _quality(record.shown),
        _alerts(record),
        _cleaning(record.plan, record.cleaning_delta),
        _statistics(record.analysed),
        _model(record.model),
        _recommendations(record.recommendations, record.reviews),
        _ai(record.shown, record.analysed, record.rejected),
        _audit(report.audit),
    ]


def listed(values: Iterable[object]) -> str:
    """Names or markers as one line; `none` for an empty list."""
    return ", ".join(visible(v) for v in values) or "none"


def visible(text: object) -> str:
    """A value whose blanks matter (a delimiter, a marker) written so they show: `"\\t"`."""
    shown = str(text)
    return (
        json.dumps(shown, ensure_ascii=False)
        if not shown.strip() or shown != shown.strip()
        else shown
    )


def _source(report: Report) -> Section:
    source = report.record.source
    facts = [
        ("File", source.name),
        ("SHA-256", source.sha256),
        ("Size", f"{number_text(source.bytes)} bytes"),
        ("Encoding", source.encoding),
        (
            "Delimiter",
            visible(source.delimiter) if source.delimiter is not None else "none (spreadsheet)",
        ),
        ("Rows skipped", number_text(source.rows_skipped)),
    ]
    if source.sheet is not None:
        facts.append(("Sheet", source.sheet))
    if source.missing_markers_seen:
        facts.append(
            ("Missing markers", ", ".join(json.dumps(m) for m in source.missing_markers_seen))
        )
    facts += [
        ("Generated", report.generated_at),
        ("Schema", f"{report.parts['schema_version']} (signoff {report.parts['app']['version']})"),
        ("Content SHA-256", report.content_sha256),
    ]
    return Section("Source", facts=tuple(facts))


def _gates(gates: tuple[GateEntry, ...]) -> Section:
    rows = tuple(
        (g.title, g.status.replace("_", " "), g.reviewer or "", g.decided_at or "") for g in gates
    )
    table = Table(("gate", "status", "reviewer", "decided at"), rows, (False,) * 4)
    notes = tuple(f"{g.title}: {g.notes}" for g in gates if g.notes)
    return Section("Review gates", tables=(table,), bullets=(*(g.message for g in gates), *notes))


def _overview(shown: Described) -> Section:
    overview, outliers = shown.overview, shown.quality.outliers
    summary = Table(
        ("column", "kind", "missing", "distinct", "IQR outl.", "Z outl."),
        tuple(
            (
                c.name,
                c.kind,
                number_text(c.n_missing),
                number_text(c.n_distinct),
                number_text(outliers[c.name].iqr) if c.name in outliers else "",
                number_text(outliers[c.name].zscore) if c.name in outliers else "",
            )
            for c in overview.columns
        ),
        (False, False, True, True, True, True),
    )
    numeric = [c for c in overview.columns if c.kind == "numeric"]
    stats = Table(
        ("column", *_COLUMN_STATS),
        tuple((c.name, *(number_text(getattr(c, k)) for k in _COLUMN_STATS)) for c in numeric),
        (False, *(True,) * len(_COLUMN_STATS)),
        caption="Numeric columns (std is the sample standard deviation, n - 1)",
    )
    facts = (("Rows", number_text(overview.n_rows)), ("Columns", number_text(overview.n_columns)))
    return Section("Overview", facts=facts, tables=(summary, stats) if numeric else (summary,))


def _quality(shown: Described) -> Section:
    q = shown.quality
    facts = (
        ("Quality score", number_text(q.quality_score)),
        ("Duplicate rows", number_text(q.duplicate_rows)),
        ("Missing cells", number_text(q.missing_cells)),
        ("Score formula", q.score_formula),
    )
    return Section("Quality", facts=facts)


def _triage_text(triage: Triage) -> str:
    if triage.status == "open":
        return "open"
    by = f" by {triage.reviewer}" if triage.reviewer else ""
    when = f" at {triage.decided_at}" if triage.decided_at else ""
    return f"{triage.status}{by}{when}"


def _alerts(record: Record) -> Section:
    """Every alert, its threshold and its triage, in catalog order; the sentences below."""
    if not record.alerts:
        return Section("Alerts", bullets=("No alerts: nothing crossed a threshold.",))
    rows = tuple(
        (
            a.type.replace("_", " "),
            listed(a.columns) if a.columns else "all columns",
            a.severity,
            number_text(a.threshold) if a.threshold is not None else "",
            _triage_text(t := record.triage.of(a)),
            t.note,
        )
        for a in record.alerts
    )
    table = Table(
        ("alert", "columns", "severity", "threshold", "triage", "note"),
        rows,
        (False, False, False, True, False, False),
    )
    return Section("Alerts", tables=(table,), bullets=tuple(a.message for a in record.alerts))


def _cleaning(plan: CleaningPlan, delta: CleaningDelta | None) -> Section:
    if plan.is_empty() or delta is None:
        return Section("Cleaning", bullets=("No cleaning plan: the data is analysed as loaded.",))
    facts = (
        ("Drop duplicate rows", number_text(plan.drop_duplicates)),
        ("Drop columns", listed(plan.drop_columns)),
        ("Drop rows missing", listed(plan.drop_rows_missing)),
    )
    effect = Table(
        ("figure", "as loaded", "cleaned", "change"),
        tuple(
            (label, number_text(f.before), number_text(f.after), number_text(f.change))
            for label, f in delta.labelled()
        ),
        (False, True, True, True),
        caption="Before and after the plan",
    )
    alerts = tuple(f"No longer raised: {a.message}" for a in delta.alerts_closed) + tuple(
        f"Newly raised: {a.message}" for a in delta.alerts_opened
    )
    return Section("Cleaning plan", facts=facts, tables=(effect,), bullets=alerts)


def _statistics(analysed: Analysed | None) -> Section:
    if analysed is None:
        return Section("Statistics", bullets=("Not computed.",))
    s = analysed.statistics
    facts = (
        ("Correlation", s.correlation.basis),
        ("Strong if |r| >=", number_text(s.threshold)),
        (
            "Outliers",
            f"{analysed.outliers.method}, "
            f"{number_text(sum(analysed.outliers.counts.values()))} values",
        ),
    )
    pairs = Table(
        ("column a", "column b", "r", "n"),
        tuple((p.a, p.b, number_text(p.r), number_text(p.n)) for p in s.strong_correlations),
        (False, False, True, True),
        caption="Strong correlations",
    )
    shapes = Table(
        ("column", "skewness", "excess kurtosis"),
        tuple(
            (name, number_text(d.skewness), number_text(d.kurtosis))
            for name, d in s.distributions.numeric.items()
        ),
        (False, True, True),
        caption="Distribution shape",
    )
    tables = tuple(t for t in (pairs, shapes) if t.rows)
    bullets = () if pairs.rows else ("No pair of columns reaches the threshold.",)
    return Section("Statistics", facts=facts, tables=tables, bullets=(*bullets, *s.notes))


def _model(card: ModelCard | None) -> Section:
    if card is None:
        return Section("Model baseline", bullets=("No target column chosen: no model.",))
    facts = (
        ("Target", card.target),
        ("Task", f"{card.task} ({card.task_reason})"),
        ("Selected", card.selected),
        (
            "Trained on",
            f"{number_text(card.sample_rows_used)} of {number_text(card.n_rows_total)} rows, "
            f"{card.folds}-fold cross-validation",
        ),
    )
    metrics = Table(
        ("metric", "mean", "std"),
        tuple((name, number_text(m.mean), number_text(m.std)) for name, m in card.metrics.items()),
        (False, True, True),
        caption=f"Metrics of {card.selected} over the folds",
    )
    importances = Table(
        ("feature", "importance", "std"),
        tuple((i.feature, number_text(i.mean), number_text(i.std)) for i in card.importances),
        (False, True, True),
        caption="Permutation importances",
    )
    return Section(
        "Model baseline",
        facts=facts,
        tables=tuple(t for t in (metrics, importances) if t.rows),
        flagged=tuple(w.sentence for w in card.warnings),
    )


def _recommendations(recs: Recommendations | None, reviews: ItemReviews) -> Section:
    if recs is None:
        return Section("Recommendations", bullets=("Not generated.",))
    bullets = [f"Version {recs.version}, from the {recs.advisor} advisor."]
    # Actions are numbered as on the priority matrix.
    for n, item in enumerate(recs.action_plan, start=1):
        verdict = reviews.items.get(item.id, "pending")
        line = f"Action {n} ({item.priority} priority): {item.title}"
        if verdict == "reject":
            line += " [REJECTED by the reviewer]"
        elif item.id in reviews.edits:
            line += f" [EDITED by the reviewer: {reviews.edits[item.id]}]"
        elif verdict == "accept":
            line += " [accepted]"
        bullets.append(line)
    bullets += [f"Insight: {text}" for text in recs.business_insights]
    bullets += [f"Next step: {text}" for text in recs.next_steps]
    flagged = tuple(f"{n.text} in “{n.sentence}” {n.verdict()}" for n in recs.unverified_numbers)
    return Section("Recommendations", bullets=tuple(bullets), flagged=flagged)


def _ai(
    shown: Described, analysed: Analysed | None, rejected: tuple[RejectedFinding, ...]
) -> Section:
    overruled = {r.id: r for r in rejected}
    steps: list[StepInsights] = [shown.overview_insights, shown.quality_insights]
    if analysed is not None:
        steps.append(analysed.insights)
    bullets, flagged = [], []
    for insights in steps:
        for finding in insights.findings:
            line = f"{insights.step} ({insights.advisor}): {finding.title}. {finding.detail}"
            if finding.id in overruled:
                reason = overruled[finding.id].reason or "no reason given"
                line += f" [REJECTED at analysis validation: {reason}]"
            bullets.append(line)
        flagged += [
            f"{insights.step}: {n.text} in “{n.sentence}” {n.verdict()}"
            for n in insights.unverified_numbers
        ]
        if insights.notice:
            flagged.append(f"{insights.step}: {insights.notice}")
    return Section("AI insights", bullets=tuple(bullets), flagged=tuple(flagged))


def _audit(audit: AuditSummary | None) -> Section:
    if audit is None:
        return Section("Audit trail", bullets=("No audit trail attached.",))
    facts = (
        ("Chain head SHA-256", audit.head_sha256 or "none"),
        ("Chain verified", number_text(audit.verified)),
        ("Events", number_text(len(audit.events))),
    )
    return Section("Audit trail", facts=facts)
