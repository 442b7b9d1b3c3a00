"""Step 2 rules: the score, duplicates, missing values, outliers and type problems, each with
the cleaning action it calls for."""

from __future__ import annotations

from ai.rules.base import Action, Observation, evidence, observe, share
from steps.alerts import Alert
from steps.insights import Facts, Severity
from steps.overview import Kind
from steps.quality import OutlierCounts, Quality, TypeIssue
from steps.text import number_text, percent_text

MISSING_NOTABLE = 0.05
MISSING_HEAVY = 0.2
MISSING_DROP = 0.5
DUPLICATES_CRITICAL = 0.1
OUTLIERS_WARNING = 0.01
SCORE_GOOD = 90.0
SCORE_FAIR = 70.0


def quality_observations(facts: Facts) -> list[Observation]:
    q = facts.quality
    if q is None:
        return []
    kinds = {c.name: c.kind for c in facts.overview.columns}
    inflated = facts.standing("zero_inflated")
    out = []
    if q.quality_score is not None:
        out.append(_score(q.quality_score))
    if q.duplicate_rows and not facts.is_dismissed("duplicates"):
        out.append(_duplicates(q))
    for name, n_missing in sorted(q.missing_by_column.items()):
        if n_missing and not facts.is_dismissed("missing", name):
            out.append(_missing(name, n_missing, q.n_rows, kinds.get(name)))
    for name, counts in sorted(q.outliers.items()):
        if name in inflated:
            out.append(_zero_inflated(inflated[name]))
        elif counts.iqr or counts.zscore:
            out.append(_outliers(name, counts, q.n_rows))
    out.extend(
        _type_issue(issue)
        for issue in q.type_issues
        if not facts.is_dismissed("numbers_as_text", issue.column)
    )
    out.extend(_code(alert) for alert in facts.standing("leading_zeros").values())
    return out


def _zero_inflated(alert: Alert) -> Observation:
    """The zeros are the finding; outliers are those of the non-zero values, if any."""
    (name,) = alert.columns
    path = f"alerts[{alert.key}]"
    share_zero = float(alert.figures["share"] or 0)
    extreme = int(alert.figures["outliers_nonzero"] or 0)
    action = None
    if extreme:
        action = Action(
            f"Review the {number_text(extreme)} extreme non-zero values of {name}",
            "The zeros are real observations; only the non-zero values are judged for outliers.",
            2,
            2,
        )
    return observe(
        "quality",
        f"zeros:{name}",
        f"{name} is mostly zeros",
        f"{name} is zero in {percent_text(share_zero)} of its values; of the non-zero values "
        f"{number_text(extreme)} lie outside 1.5 × IQR.",
        "info",
        (
            evidence(f"{path}.share", share_zero),
            evidence(f"{path}.outliers_nonzero", extreme),
        ),
        action,
        insight=f"{name} is zero on {percent_text(share_zero)} of the rows.",
    )


def _code(alert: Alert) -> Observation:
    """A column of codes with leading zeros: kept as text, and said so."""
    (name,) = alert.columns
    n = int(alert.figures["leading_zeros"] or 0)
    return observe(
        "quality",
        f"code:{name}",
        f"{name} is a code, kept as text",
        f"{number_text(n)} values of {name} start with 0; read as numbers they would lose it.",
        "info",
        (evidence(f"alerts[{alert.key}].leading_zeros", n),),
    )


def _score(score: float) -> Observation:
    severity: Severity = (
        "info" if score >= SCORE_GOOD else "warning" if score >= SCORE_FAIR else "critical"
    )
    verdict = {"info": "good", "warning": "fair", "critical": "poor"}[severity]
    shown = number_text(score)
    return observe(
        "quality",
        "score",
        f"Quality score {shown}/100",
        f"The quality score is {shown} out of 100: {verdict}.",
        severity,
        (evidence("quality.quality_score", score),),
        insight=f"Data quality is {verdict} (score {shown}/100).",
    )


def _duplicates(q: Quality) -> Observation:
    frac = share(q.duplicate_rows, q.n_rows)
    dupes = number_text(q.duplicate_rows)
    return observe(
        "quality",
        "duplicates",
        f"{dupes} duplicate rows",
        f"{dupes} rows ({percent_text(frac)}) repeat an earlier row exactly; they inflate counts "
        "and weight those records twice.",
        "critical" if frac >= DUPLICATES_CRITICAL else "warning",
        (
            evidence("quality.duplicate_rows", q.duplicate_rows),
            evidence("quality.n_rows", q.n_rows),
        ),
        Action(
            f"Remove the {dupes} duplicate rows",
            "Exact duplicates double-count records in every figure.",
            4 if frac >= DUPLICATES_CRITICAL else 3,
            1,
        ),
    )


def _imputation(name: str, kind: Kind | None) -> str:
    if kind == "numeric":
        return f"Impute missing {name} with its median"
    if kind in ("categorical", "boolean", "text"):
        return f"Fill missing {name} with an explicit 'missing' category"
    return f"Impute or drop the rows missing {name}"


def _missing(name: str, n_missing: int, n_rows: int, kind: Kind | None) -> Observation:
    frac = share(n_missing, n_rows)
    severity: Severity = (
        "critical" if frac >= MISSING_DROP else "warning" if frac >= MISSING_NOTABLE else "info"
    )
    if frac >= MISSING_DROP:
        action = Action(
            f"Drop {name} or recover its missing values at the source",
            f"{percent_text(frac)} missing is too much to impute credibly.",
            3,
            2,
        )
    else:
        action = Action(
            _imputation(name, kind),
            f"{number_text(n_missing)} missing values ({percent_text(frac)}) would otherwise "
            "drop rows from every analysis that uses it.",
            3 if frac >= MISSING_HEAVY else 2,
            2,
        )
    return observe(
        "quality",
        f"missing:{name}",
        f"{number_text(n_missing)} missing values in {name}",
        f"{name} is missing in {number_text(n_missing)} of {number_text(n_rows)} rows "
        f"({percent_text(frac)}).",
        severity,
        (evidence(f"quality.missing_by_column[{name}]", n_missing),),
        action,
    )


def _outliers(name: str, counts: OutlierCounts, n_rows: int) -> Observation:
    frac = share(max(counts.iqr, counts.zscore), n_rows)
    return observe(
        "quality",
        f"outliers:{name}",
        f"Outliers in {name}",
        f"{name} has {number_text(counts.iqr)} values outside 1.5 × IQR and "
        f"{number_text(counts.zscore)} with |z| > 3.",
        "warning" if frac >= OUTLIERS_WARNING else "info",
        (
            evidence(f"quality.outliers[{name}].iqr", counts.iqr),
            evidence(f"quality.outliers[{name}].zscore", counts.zscore),
        ),
        Action(
            f"Review the outliers in {name} before modelling",
            "Check whether they are errors to fix or real extremes to keep.",
            3 if frac >= OUTLIERS_WARNING else 2,
            2,
        ),
    )


def _type_issue(issue: TypeIssue) -> Observation:
    name, what = issue.column, issue.issue
    return observe(
        "quality",
        f"type:{name}:{what}",
        f"{name}: {what}",
        f"{number_text(issue.count)} values of {name} show a type problem ({what}).",
        "warning",
        (evidence(f"quality.type_issues[{name}].count", issue.count),),
        Action(
            f"Fix the types in {name} ({what})",
            "Mixed types make the column unusable for numeric or date analysis.",
            3,
            2,
        ),
    )
