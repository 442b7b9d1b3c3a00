"""The offline rule-based advisor: findings and an action plan derived from the figures.

It is first-class, not a placeholder: it answers when no model is configured and when a
remote model fails, so its output must be deterministic (same figures -> byte-identical
`to_dict()`), sensible on its own, and must only ever state figures it was given.
Thresholds are named constants so a reviewer can see why a finding fired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ai.advisor import Finding, Severity, Step, StepInsights, finding_id, step_parts
from ai.figures import columns_of, count, evidence, fmt, kinds_by_name, number, pct, share
from steps.recommend import (
    PRIORITIES,
    ActionItem,
    Priority,
    Recommendations,
    RecommendContext,
    with_item_reviews,
)

SMALL_TABLE_ROWS = 30
MISSING_NOTABLE = 0.05
MISSING_HEAVY = 0.2
MISSING_DROP = 0.5
DUPLICATES_CRITICAL = 0.1
OUTLIERS_WARNING = 0.01
LEAKAGE_ABS_R = 0.98
SKEW_HEAVY = 1.0
EXCESS_KURTOSIS_HEAVY = 3.0
SIGNIFICANCE = 0.05
SCORE_GOOD = 90.0
SCORE_FAIR = 70.0

_PRIORITY_OF: dict[Severity, Priority] = {"critical": "high", "warning": "medium", "info": "low"}


@dataclass(frozen=True)
class _Action:
    title: str
    rationale: str
    impact: int
    effort: int


@dataclass(frozen=True)
class _Observation:
    """A finding plus, when it calls for one, the action Step 4 would put in the plan."""

    step: str
    finding: Finding
    action: _Action | None = None
    insight: str | None = None


def _observe(
    step: str,
    key: str,
    title: str,
    detail: str,
    severity: Severity,
    evidence_: tuple[str, ...],
    action: _Action | None = None,
    insight: str | None = None,
) -> _Observation:
    finding = Finding(finding_id(step, key), title, detail, severity, evidence_)
    return _Observation(step, finding, action, insight)


# --- Step 1: overview ----------------------------------------------------------------


def _overview_observations(parts: Mapping[str, Any]) -> list[_Observation]:
    ov = parts.get("overview") or {}
    n_rows, n_cols = count(ov.get("n_rows")), count(ov.get("n_columns"))
    size_ev = (evidence("overview.n_rows", n_rows), evidence("overview.n_columns", n_cols))
    if n_rows == 0:
        return [
            _observe(
                "overview",
                "empty",
                "No data rows",
                f"The table has {fmt(n_cols)} columns but no data rows, so there is nothing "
                "to analyse.",
                "critical",
                size_ev,
                _Action("Load a file that contains data rows", "Every later step is empty.", 5, 1),
            )
        ]
    out = [_size_observation(ov, n_rows, n_cols, size_ev), _kinds_observation(ov)]
    for col in columns_of(ov):
        out.extend(_column_observations(col, n_rows))
    return out


def _size_observation(
    ov: Mapping[str, Any], n_rows: int, n_cols: int, size_ev: tuple[str, ...]
) -> _Observation:
    if n_rows < SMALL_TABLE_ROWS:
        return _observe(
            "overview",
            "size",
            f"Only {fmt(n_rows)} rows",
            f"With {fmt(n_rows)} rows and {fmt(n_cols)} columns, correlations and models "
            "are fragile: treat every figure as indicative.",
            "warning",
            size_ev,
            _Action(
                "Collect more rows before drawing conclusions",
                f"Fewer than {SMALL_TABLE_ROWS} rows make estimates unstable.",
                4,
                4,
            ),
        )
    memory = number(ov.get("memory_bytes"))
    in_memory = ""
    if memory:
        in_memory = (
            f" ({fmt(memory / 1e6)} MB in memory)"
            if memory >= 1e6
            else f" ({fmt(memory / 1e3)} kB in memory)"
        )
    return _observe(
        "overview",
        "size",
        f"{fmt(n_rows)} rows × {fmt(n_cols)} columns",
        f"The table has {fmt(n_rows)} rows and {fmt(n_cols)} columns{in_memory}.",
        "info",
        size_ev,
    )


def _kinds_observation(ov: Mapping[str, Any]) -> _Observation:
    kinds: dict[str, int] = {}
    for kind in kinds_by_name(ov).values():
        kinds[kind] = kinds.get(kind, 0) + 1
    listed = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return _observe(
        "overview",
        "kinds",
        "Column kinds",
        f"Columns by kind: {listed}.",
        "info",
        tuple(evidence(f"overview.kinds.{kind}", n) for kind, n in sorted(kinds.items())),
    )


def _column_observations(col: Mapping[str, Any], n_rows: int) -> list[_Observation]:
    name, kind = col["name"], str(col.get("kind", ""))
    path = f"overview.columns[{name}]"
    out = []
    n_missing = count(col.get("n_missing"))
    missing = share(n_missing, n_rows)
    if missing >= MISSING_HEAVY:
        out.append(
            _observe(
                "overview",
                f"missing-heavy:{name}",
                f"{name} is {pct(missing)} missing",
                f"{fmt(n_missing)} of {fmt(n_rows)} values of {name} are missing.",
                "critical" if missing >= MISSING_DROP else "warning",
                (evidence(f"{path}.n_missing", n_missing), evidence("overview.n_rows", n_rows)),
            )
        )
    if kind == "identifier":
        out.append(
            _observe(
                "overview",
                f"identifier:{name}",
                f"{name} looks like an identifier",
                f"{name} has {fmt(count(col.get('n_distinct')))} distinct values; it names "
                "records rather than measuring them.",
                "info",
                (
                    evidence(f"{path}.kind", kind),
                    evidence(f"{path}.n_distinct", col.get("n_distinct")),
                ),
                _Action(
                    f"Keep {name} out of correlations and models",
                    "An identifier carries no signal and invites spurious patterns.",
                    2,
                    1,
                ),
            )
        )
    elif count(col.get("n_distinct")) <= 1 and n_missing < n_rows:
        out.append(
            _observe(
                "overview",
                f"constant:{name}",
                f"{name} is constant",
                f"{name} has a single distinct value, so it cannot explain any variation.",
                "warning",
                (evidence(f"{path}.n_distinct", count(col.get("n_distinct"))),),
                _Action(f"Drop the constant column {name}", "It carries no information.", 2, 1),
            )
        )
    return out


# --- Step 2: quality -----------------------------------------------------------------


def score_percent(score: Any) -> float | None:
    """The quality score on a 0–100 scale; a score given as a fraction (≤ 1) is scaled."""
    s = number(score)
    if s is None:
        return None
    return s * 100 if s <= 1 else s


def _quality_observations(parts: Mapping[str, Any]) -> list[_Observation]:
    q = parts.get("quality") or {}
    n_rows = count(q.get("n_rows")) or count((parts.get("overview") or {}).get("n_rows"))
    kinds = kinds_by_name(parts.get("overview"))
    out = []
    score = score_percent(q.get("quality_score"))
    if score is not None:
        out.append(_score_observation(score, q.get("quality_score")))
    dupes = count(q.get("duplicate_rows"))
    if dupes:
        out.append(_duplicates_observation(dupes, n_rows))
    for name, value in sorted((q.get("missing_by_column") or {}).items()):
        if count(value):
            out.append(_missing_observation(str(name), count(value), n_rows, kinds.get(name)))
    for name, methods in sorted((q.get("outliers") or {}).items()):
        if isinstance(methods, Mapping) and (
            count(methods.get("iqr")) or count(methods.get("zscore"))
        ):
            out.append(_outliers_observation(str(name), methods, n_rows))
    for issue in q.get("type_issues") or []:
        out.append(_type_issue_observation(issue))
    return out


def _score_observation(score: float, raw: Any) -> _Observation:
    severity: Severity = (
        "info" if score >= SCORE_GOOD else "warning" if score >= SCORE_FAIR else "critical"
    )
    verdict = {"info": "good", "warning": "fair", "critical": "poor"}[severity]
    return _observe(
        "quality",
        "score",
        f"Quality score {fmt(score)}/100",
        f"The quality score is {fmt(score)} out of 100: {verdict}.",
        severity,
        (evidence("quality.quality_score", raw),),
        insight=f"Data quality is {verdict} (score {fmt(score)}/100).",
    )


def _duplicates_observation(dupes: int, n_rows: int) -> _Observation:
    frac = share(dupes, n_rows)
    return _observe(
        "quality",
        "duplicates",
        f"{fmt(dupes)} duplicate rows",
        f"{fmt(dupes)} rows ({pct(frac)}) repeat an earlier row exactly; they inflate counts "
        "and weight those records twice.",
        "critical" if frac >= DUPLICATES_CRITICAL else "warning",
        (evidence("quality.duplicate_rows", dupes), evidence("quality.n_rows", n_rows)),
        _Action(
            f"Remove the {fmt(dupes)} duplicate rows",
            "Exact duplicates double-count records in every figure.",
            4 if frac >= DUPLICATES_CRITICAL else 3,
            1,
        ),
    )


def _imputation(name: str, kind: str | None) -> str:
    if kind == "numeric":
        return f"Impute missing {name} with its median"
    if kind in ("categorical", "boolean", "text"):
        return f"Fill missing {name} with an explicit 'missing' category"
    return f"Impute or drop the rows missing {name}"


def _missing_observation(name: str, n_missing: int, n_rows: int, kind: str | None) -> _Observation:
    frac = share(n_missing, n_rows)
    severity: Severity = (
        "critical" if frac >= MISSING_DROP else "warning" if frac >= MISSING_NOTABLE else "info"
    )
    if frac >= MISSING_DROP:
        action = _Action(
            f"Drop {name} or recover its missing values at the source",
            f"{pct(frac)} missing is too much to impute credibly.",
            3,
            2,
        )
    else:
        action = _Action(
            _imputation(name, kind),
            f"{fmt(n_missing)} missing values ({pct(frac)}) would otherwise drop rows from "
            "every analysis that uses it.",
            3 if frac >= MISSING_HEAVY else 2,
            2,
        )
    return _observe(
        "quality",
        f"missing:{name}",
        f"{fmt(n_missing)} missing values in {name}",
        f"{name} is missing in {fmt(n_missing)} of {fmt(n_rows)} rows ({pct(frac)}).",
        severity,
        (evidence(f"quality.missing_by_column[{name}]", n_missing),),
        action,
    )


def _outliers_observation(name: str, methods: Mapping[str, Any], n_rows: int) -> _Observation:
    iqr, z = count(methods.get("iqr")), count(methods.get("zscore"))
    frac = share(max(iqr, z), n_rows)
    return _observe(
        "quality",
        f"outliers:{name}",
        f"Outliers in {name}",
        f"{name} has {fmt(iqr)} values outside 1.5 × IQR and {fmt(z)} with |z| > 3.",
        "warning" if frac >= OUTLIERS_WARNING else "info",
        (
            evidence(f"quality.outliers[{name}].iqr", iqr),
            evidence(f"quality.outliers[{name}].zscore", z),
        ),
        _Action(
            f"Review the outliers in {name} before modelling",
            "Check whether they are errors to fix or real extremes to keep.",
            3 if frac >= OUTLIERS_WARNING else 2,
            2,
        ),
    )


def _type_issue_observation(issue: Mapping[str, Any]) -> _Observation:
    name, what, n = (
        str(issue.get("column")),
        str(issue.get("issue", "type issue")),
        issue.get("count"),
    )
    return _observe(
        "quality",
        f"type:{name}:{what}",
        f"{name}: {what}",
        f"{fmt(count(n))} values of {name} show a type problem ({what}).",
        "warning",
        (evidence(f"quality.type_issues[{name}].count", count(n)),),
        _Action(
            f"Fix the types in {name} ({what})",
            "Mixed types make the column unusable for numeric or date analysis.",
            3,
            2,
        ),
    )


# --- Step 3: statistics --------------------------------------------------------------


def _statistics_observations(parts: Mapping[str, Any]) -> list[_Observation]:
    s = parts.get("statistics") or {}
    out = [
        _pair_observation(pair, s.get("threshold")) for pair in s.get("strong_correlations") or []
    ]
    for name, shape in sorted((s.get("distributions") or {}).items()):
        if isinstance(shape, Mapping) and (o := _shape_observation(str(name), shape)):
            out.append(o)
    return out


def _pair_observation(pair: Mapping[str, Any], threshold: Any) -> _Observation:
    a, b = str(pair.get("a")), str(pair.get("b"))
    r, n, p = number(pair.get("r")) or 0.0, pair.get("n"), number(pair.get("p_value"))
    ev = tuple(
        evidence(f"statistics.strong_correlations[{a},{b}].{k}", pair.get(k))
        for k in ("r", "n", "p_value")
        if pair.get(k) is not None
    ) + ((evidence("statistics.threshold", threshold),) if threshold is not None else ())
    direction = "together" if r > 0 else "in opposite directions"
    if abs(r) >= LEAKAGE_ABS_R:
        return _observe(
            "statistics",
            f"leakage:{a}|{b}",
            f"Possible leakage: {a} and {b}",
            f"{a} and {b} are almost perfectly correlated (r = {fmt(r)}); one may be derived "
            "from the other or duplicate it.",
            "critical",
            ev,
            _Action(
                f"Check whether {a} is derived from {b} before using either as a predictor",
                "A near-perfect correlation usually means leakage or a duplicated measure.",
                5,
                2,
            ),
        )
    if p is not None and p >= SIGNIFICANCE:
        return _observe(
            "statistics",
            f"pair:{a}|{b}",
            f"{a} and {b}: strong but not significant",
            f"{a} and {b} have r = {fmt(r)}, but with n = {fmt(count(n))} the p-value is "
            f"{fmt(p)} (p ≥ {SIGNIFICANCE}).",
            "warning",
            ev,
            _Action(
                f"Confirm the {a}–{b} relationship on more data",
                "The correlation could be chance at this sample size.",
                2,
                3,
            ),
        )
    return _observe(
        "statistics",
        f"pair:{a}|{b}",
        f"{a} and {b} are strongly correlated",
        f"{a} and {b} move {direction} (r = {fmt(r)}, n = {fmt(count(n))}).",
        "info",
        ev,
        _Action(
            f"Use only one of {a} and {b} in linear models",
            "Strongly correlated predictors make coefficients unstable.",
            2,
            1,
        ),
        insight=f"{a} and {b} move {direction} (r = {fmt(r)}).",
    )


def _shape_observation(name: str, shape: Mapping[str, Any]) -> _Observation | None:
    skew, kurt = number(shape.get("skewness")), number(shape.get("kurtosis"))
    heavy_skew = skew is not None and abs(skew) >= SKEW_HEAVY
    heavy_tails = kurt is not None and kurt >= EXCESS_KURTOSIS_HEAVY
    if not (heavy_skew or heavy_tails):
        return None
    said = []
    if heavy_skew:
        side = "right" if skew > 0 else "left"
        said.append(f"{side}-skewed (skewness {fmt(skew)})")
    if heavy_tails:
        said.append(f"heavy-tailed (excess kurtosis {fmt(kurt)})")
    return _observe(
        "statistics",
        f"shape:{name}",
        f"{name} is {' and '.join(s.split(' (')[0] for s in said)}",
        f"{name} is {' and '.join(said)}: its mean and standard deviation describe it poorly.",
        "warning" if heavy_skew and heavy_tails else "info",
        tuple(
            evidence(f"statistics.distributions[{name}].{k}", shape.get(k))
            for k in ("skewness", "kurtosis")
            if shape.get(k) is not None
        ),
        _Action(
            f"Summarise {name} with medians and quantiles"
            + (" or a log transform" if heavy_skew and skew > 0 else ""),
            "Means and z-scores mislead on skewed or heavy-tailed data.",
            2,
            1,
        ),
    )


# --- model card (Step 4 context only) ------------------------------------------------


def _metric_summary(metrics: Any) -> str:
    if not isinstance(metrics, Mapping):
        return ""
    said = []
    for key, value in sorted(metrics.items()):
        n = number(value.get("mean") if isinstance(value, Mapping) else value)
        if n is not None:
            said.append(f"{key} {fmt(n)}")
    return ", ".join(said)


def _model_observations(parts: Mapping[str, Any]) -> list[_Observation]:
    model = parts.get("model")
    if not model:
        return []
    target, selected = model.get("target"), model.get("selected")
    metrics = _metric_summary(model.get("metrics"))
    insight = f"The best baseline for {target} is {selected}" + (
        f" ({metrics})." if metrics else "."
    )
    out = [
        _observe(
            "model",
            "selected",
            f"Baseline model for {target}: {selected}",
            insight,
            "info",
            (evidence("model.selected", selected), evidence("model.task", model.get("task"))),
            insight=insight,
        )
    ]
    for warning in model.get("warnings") or []:
        out.append(
            _observe(
                "model",
                f"warning:{warning}",
                "Model warning",
                str(warning),
                "warning",
                ("model.warnings",),
                _Action(f"Resolve before approving the model: {warning}", str(warning), 4, 2),
            )
        )
    return out


# --- the advisor ---------------------------------------------------------------------

_RULES: dict[str, Callable[[Mapping[str, Any]], list[_Observation]]] = {
    "overview": _overview_observations,
    "quality": _quality_observations,
    "statistics": _statistics_observations,
    "model": _model_observations,
}


def _all_observations(context: RecommendContext) -> list[_Observation]:
    parts = {
        "overview": context.overview,
        "quality": context.quality,
        "statistics": context.statistics,
        "model": context.model,
    }
    return [o for rule in _RULES.values() for o in rule(parts)]


def derived_findings(context: RecommendContext) -> tuple[Finding, ...]:
    """Every finding the rules draw from Steps 1–3 and the model card, rejected ones too
    (a prompt names those so the model can steer clear of them)."""
    return tuple(o.finding for o in _all_observations(context))


def _action_item(o: _Observation) -> ActionItem:
    assert o.action is not None
    return ActionItem(
        id=finding_id("recommendations", o.finding.id),
        title=o.action.title,
        rationale=f"{o.finding.detail} {o.action.rationale}",
        evidence=o.finding.evidence,
        priority=_PRIORITY_OF[o.finding.severity],
        impact=o.action.impact,
        effort=o.action.effort,
        finding_ids=(o.finding.id,),
    )


def _plan(observations: list[_Observation]) -> tuple[ActionItem, ...]:
    items = [_action_item(o) for o in observations if o.action is not None]
    order = {p: i for i, p in enumerate(PRIORITIES)}
    return tuple(sorted(items, key=lambda i: (order[i.priority], -i.impact, i.effort)))


_GATE_NAMES = {
    "data_quality": "data quality",
    "analysis_validation": "analysis validation",
    "model_approval": "model approval",
    "result_verification": "result verification",
    "export_authorization": "export authorization",
}


def _gate_steps(decisions: Mapping[str, Mapping[str, Any]]) -> list[str]:
    steps = []
    for gate, decision in decisions.items():
        status, label = str(decision.get("status", "pending")), _GATE_NAMES.get(gate, gate)
        if status == "pending":
            steps.append(f"Get the {label} gate reviewed: it is still pending.")
        elif status in ("rejected", "reject"):
            steps.append(f"Resolve why the {label} gate was rejected before acting on this plan.")
    return steps


def _next_steps(context: RecommendContext, observations: list[_Observation]) -> tuple[str, ...]:
    steps = [f"Address the reviewer's feedback: {line}" for line in context.feedback]
    steps.extend(_gate_steps(context.decisions))
    if any(o.step == "quality" and o.action for o in observations):
        steps.append("Apply the cleaning actions, then re-run Steps 2 and 3 on the cleaned view.")
    if not context.model:
        steps.append("Choose a target column to get a baseline model.")
    steps.append("Export the report once the result verification gate is approved.")
    return tuple(steps)


class OfflineAdvisor:
    """Deterministic findings from the computed figures; sends nothing anywhere."""

    name = "offline"
    model: str | None = None

    def __init__(self, description: str = "The offline rule-based advisor answers.") -> None:
        self.description = description

    def advise(
        self,
        step: Step,
        context: Mapping[str, Any],
        *,
        rows: list[Mapping[str, Any]] | None = None,
    ) -> StepInsights:
        findings = tuple(o.finding for o in _RULES[step](step_parts(step, context)))
        return StepInsights(step=step, advisor=self.name, model=None, findings=findings)

    def recommend(
        self,
        context: RecommendContext,
        *,
        rows: list[Mapping[str, Any]] | None = None,
    ) -> Recommendations:
        rejected = context.rejected_finding_ids
        observations = [o for o in _all_observations(context) if o.finding.id not in rejected]
        return Recommendations(
            advisor=self.name,
            model=None,
            action_plan=with_item_reviews(
                _plan(observations), context.item_verdicts, context.item_edits
            ),
            business_insights=tuple(o.insight for o in observations if o.insight),
            next_steps=_next_steps(context, observations),
            version=context.version,
            feedback_used=context.feedback,
        )
