"""Prompts built from aggregates only, so the user can see exactly what would leave.

Privacy is by allow-list: only the fields named here are copied from a typed step result,
so a field another step adds later (examples, top values, samples) is never sent by
accident. Sent: column names and kinds, counts, shares, the summary figures of numeric
columns, correlations, distribution shapes, model metrics, findings and reviewer feedback,
and the alerts the reviewer did not dismiss (type, columns, threshold, counts and shares).
Never sent: top values (an imbalance alert's too), an integer-date column's extremes,
fences from quartiles, min/max (or any summary) of non-numeric columns, examples of
duplicates or type issues, a target's class labels. Rows only when the caller passes them
(opt-in), at most `MAX_ROWS`.

Two privacy modes (`steps.settings.Privacy`, from `SIGNOFF_AI_PRIVACY`):

- `aggregates` sends the numeric columns' minimum, quartiles, median and maximum. Each of
  those *is* a cell value: a planted salary of 9876543 reaches the prompt as a maximum.
- `strict` sends no value taken from the data. A *value that occurs in the data* is a cell
  or an order statistic of cells: minimum, quartiles, median and maximum are each one
  record's value (or the midpoint of two), as top values and class labels are; all are
  withheld, and so are rows (a prompt with rows is refused). Means and standard deviations
  are derived, not taken from a record, but they can still give one away: a constant
  column's mean is its value, and two values are pinned down by their mean and spread. So
  they are sent rounded to 2 significant digits and marked `~` (`~4.2e+03`), enough for
  advice on scale and shape and never a record's digits; a single-valued column's are
  withheld. Names and counts stay (they describe the table, not a record), and the other
  derived figures (correlations, p-values, skewness, kurtosis, the quality score, model
  metrics) go to 4 significant digits, so no long run of a cell's digits can appear by
  accident. A rounded mean may still equal some cell by coincidence; it is not taken from
  one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.numbers import significant
from ai.offline import derived_findings
from ai.types import MAX_ROWS
from steps.errors import PrivacyError, TooManyRowsError
from steps.insights import STEPS, Facts
from steps.model import ModelCard
from steps.overview import ColumnSummary, Overview
from steps.quality import Quality
from steps.recommend import RecommendContext
from steps.results import json_safe
from steps.settings import DEFAULT_PRIVACY, Privacy
from steps.statistics import Statistics

# A prompt stays bounded whatever the table: per-column figures for at most this many
# columns (in table order; the prompt says how many were left out), names cut to this length.
PROMPT_MAX_COLUMNS = 50
NAME_MAX_CHARS = 200
# Strict mode: means and standard deviations to this many significant digits (marked `~`),
# every other non-integer figure to `DERIVED_DIGITS`.
APPROX_DIGITS = 2
DERIVED_DIGITS = 4

_STEP_TASKS = {
    "overview": (
        "Step 1 (Overview). Give the key findings about this table: its size, the mix of "
        "column kinds, columns that are mostly missing, identifiers and constant columns."
    ),
    "quality": (
        "Step 2 (Quality). Give cleaning recommendations: duplicates, missing values, "
        "outliers and type issues, in the light of the quality score."
    ),
    "statistics": (
        "Step 3 (Statistics). Give statistical insights: strong correlations, suspected "
        "leakage (|r| close to 1), heavily skewed or heavy-tailed columns."
    ),
}

_RULES = (
    "Rules: use only the figures given below and quote them as given (rounding is fine); "
    "never invent a number. Each finding has a title, a detail, a severity "
    "(info, warning or critical) and evidence naming the figures it rests on, written "
    "as path=value (e.g. quality.duplicate_rows=12). The figures are aggregates: cell "
    "values were deliberately withheld."
)
_STRICT_RULES = (
    " Strict privacy: minima, maxima, quartiles and medians are withheld too, so do not "
    "guess them; figures marked ~ are rounded to 2 significant digits, so quote them as "
    "approximate."
)
_NOTICES: dict[Privacy, str] = {
    "strict": (
        "Strict AI privacy (SIGNOFF_AI_PRIVACY=strict): prompts carry column names, counts "
        "and derived figures only — no minimum, maximum, quartile, median, top value or "
        "row of the data — with means and standard deviations rounded to 2 significant "
        "digits (marked ~)."
    ),
    "aggregates": (
        "AI privacy by aggregates (SIGNOFF_AI_PRIVACY=aggregates): prompts carry column "
        "names, counts and summary figures, the minimum, quartiles and maximum of numeric "
        "columns among them (each a cell value), and rows only if you opt in; "
        "SIGNOFF_AI_PRIVACY=strict withholds those."
    ),
}


@dataclass(frozen=True)
class Prompt:
    """The exact text that would be sent, its sha256 (cache key, audit reference), and the
    privacy mode it was built in (the fact-check accepts the rounded figures it showed)."""

    text: str
    sha256: str
    privacy: Privacy = DEFAULT_PRIVACY


def _make(text: str, privacy: Privacy) -> Prompt:
    return Prompt(text, hashlib.sha256(text.encode()).hexdigest(), privacy)


def privacy_notice(privacy: Privacy) -> str:
    """The one sentence the app shows to say what prompts carry in this mode."""
    return _NOTICES[privacy]


def approximate(value: float | None) -> str | None:
    """A derived figure as strict mode sends it: `~` and 2 significant digits (`~44`,
    `~9.9e+06`), so no record's digits can be read off it."""
    return None if value is None else f"~{value:.{APPROX_DIGITS}g}"


def _derived(value: Any) -> Any:
    """Every non-integer number inside a JSON value to `DERIVED_DIGITS` significant digits."""
    if isinstance(value, dict):
        return {k: _derived(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_derived(v) for v in value]
    if isinstance(value, float):
        return significant(value, DERIVED_DIGITS)
    return value


def _name(name: str) -> str:
    return name if len(name) <= NAME_MAX_CHARS else name[: NAME_MAX_CHARS - 1] + "…"


def _first(items: Sequence[Any]) -> list[Any]:
    return list(items[:PROMPT_MAX_COLUMNS])


def _left_out(*sizes: int) -> dict[str, int]:
    """How many columns a capped list left out, said in the prompt (nothing when none)."""
    extra = max((n - PROMPT_MAX_COLUMNS for n in sizes), default=0)
    return {"columns_left_out": extra} if extra > 0 else {}


def _column(col: ColumnSummary, privacy: Privacy) -> dict[str, Any]:
    kept: dict[str, Any] = {
        "name": _name(col.name),
        "kind": col.kind,
        "n_missing": col.n_missing,
        "n_distinct": col.n_distinct,
    }
    if col.kind != "numeric":
        return kept
    if privacy == "aggregates":
        kept.update(mean=col.mean, std=col.std, min=col.min, q1=col.q1)
        kept.update(median=col.median, q3=col.q3, max=col.max)
    elif col.n_distinct > 1:
        kept.update(mean=approximate(col.mean), std=approximate(col.std))
    return kept


def overview_figures(ov: Overview, privacy: Privacy = DEFAULT_PRIVACY) -> dict[str, Any]:
    return {
        "n_rows": ov.n_rows,
        "n_columns": ov.n_columns,
        "memory_bytes": ov.memory_bytes,
        "columns": [_column(c, privacy) for c in _first(ov.columns)],
        **_left_out(len(ov.columns)),
    }


def quality_figures(q: Quality) -> dict[str, Any]:
    return {
        "n_rows": q.n_rows,
        "duplicate_rows": q.duplicate_rows,
        "missing_cells": q.missing_cells,
        "missing_by_column": {_name(k): v for k, v in _first(list(q.missing_by_column.items()))},
        "quality_score": q.quality_score,
        "outliers": {
            _name(k): {"iqr": v.iqr, "zscore": v.zscore}
            for k, v in _first(list(q.outliers.items()))
        },
        "type_issues": [
            {"column": _name(t.column), "issue": t.issue, "count": t.count}
            for t in _first(q.type_issues)
        ],
        **_left_out(len(q.missing_by_column), len(q.outliers), len(q.type_issues)),
    }


def statistics_figures(s: Statistics) -> dict[str, Any]:
    corr = s.correlation
    kept = len(_first(corr.columns))
    numeric = s.distributions.numeric
    return {
        "correlation": {
            "method": corr.method,
            "columns": [_name(n) for n in corr.columns[:kept]],
            "matrix": [list(row[:kept]) for row in corr.matrix[:kept]],
        },
        "strong_correlations": [
            {"a": _name(p.a), "b": _name(p.b), "r": p.r, "n": p.n, "p_value": p.p_value}
            for p in _first(s.strong_correlations)
        ],
        "strong_associations": [
            {"a": _name(x.a), "b": _name(x.b), "measure": x.measure, "value": x.value, "n": x.n}
            for x in _first(s.strong_associations)
        ],
        "threshold": s.threshold,
        "distributions": {
            _name(k): {"skewness": v.skewness, "kurtosis": v.kurtosis}
            for k, v in _first(list(numeric.items()))
        },
        **_left_out(len(corr.columns), len(numeric)),
    }


def model_figures(card: ModelCard) -> dict[str, Any]:
    """The model card without anything that is a cell value (class labels among them)."""
    return {
        "target": _name(card.target),
        "task": card.task,
        "features": [_name(f) for f in card.features],
        "excluded_features": [_name(e.column) for e in card.excluded_features],
        "candidates": [{"name": c.name, "metrics": c.metrics} for c in card.candidates],
        "selected": card.selected,
        "metrics": card.metrics,
        "importances": [{"feature": _name(i.feature), "mean": i.mean} for i in card.importances],
        "warnings": [w.sentence for w in card.warnings],
        "sample_rows_used": card.sample_rows_used,
        "n_rows_total": card.n_rows_total,
    }


# Figures of an alert that are cell values or order statistics (a top value, a column's
# extremes, fences from its quartiles): never sent, whatever the privacy mode.
_ALERT_DATA_FIGURES = frozenset({"top_value", "min", "max", "nonzero_lower", "nonzero_upper"})


def alert_figures(facts: Facts) -> list[dict[str, Any]]:
    """The alerts the reviewer did not dismiss: type, columns, severity, threshold and the
    figures that are counts, shares or measures (no cell value)."""
    return [
        {
            "type": a.type,
            "columns": [_name(c) for c in a.columns],
            "severity": a.severity,
            "threshold": a.threshold,
            "figures": {k: v for k, v in a.figures.items() if k not in _ALERT_DATA_FIGURES},
        }
        for a in _first([a for a in facts.alerts if a.key not in facts.dismissed])
    ]


_STEP_PARTS = {
    "overview": ("overview", "alerts"),
    "quality": ("overview", "quality", "alerts"),
    "statistics": ("statistics", "alerts"),
}
_ALL_PARTS = ("overview", "quality", "statistics", "model", "alerts")


def aggregates(
    facts: Facts, step: str | None = None, *, privacy: Privacy = DEFAULT_PRIVACY
) -> dict[str, Any]:
    """The sendable part of the facts, by allow-list: for one step what its prompt carries
    (the overview with the quality step, since kinds shape cleaning advice), else all; in
    strict mode without order statistics and with every derived figure rounded."""
    wanted = _STEP_PARTS[step] if step is not None else _ALL_PARTS
    parts: dict[str, Any] = {}
    if "overview" in wanted:
        parts["overview"] = overview_figures(facts.overview, privacy)
    if "quality" in wanted and facts.quality is not None:
        parts["quality"] = quality_figures(facts.quality)
    if "statistics" in wanted and facts.statistics is not None:
        parts["statistics"] = statistics_figures(facts.statistics)
    if "model" in wanted and facts.model is not None:
        parts["model"] = model_figures(facts.model)
    if "alerts" in wanted and facts.alerts:
        parts["alerts"] = alert_figures(facts)
    sendable = json_safe(parts)
    return _derived(sendable) if privacy == "strict" else sendable


def _dump(value: Any) -> str:
    return json.dumps(json_safe(value), ensure_ascii=False, sort_keys=True, indent=1)


def _rows_section(rows: Sequence[Mapping[str, Any]] | None, privacy: Privacy) -> str:
    if not rows:
        return ""
    if privacy == "strict":
        raise PrivacyError(
            "Strict AI privacy shares no rows with the AI: untick the sample rows, or set "
            "SIGNOFF_AI_PRIVACY=aggregates."
        )
    if len(rows) > MAX_ROWS:
        raise TooManyRowsError(
            f"At most {MAX_ROWS} rows may be shared with the AI; {len(rows)} were given."
        )
    lines = "\n".join(json.dumps(json_safe(dict(r)), ensure_ascii=False) for r in rows)
    return f"\n\nRows the user chose to share ({len(rows)}), one JSON object per line:\n{lines}"


def _evidence_sent(evidence: tuple[str, ...], privacy: Privacy) -> list[str]:
    """A finding's evidence; in strict mode its paths only (`path=value` loses the value,
    which the figures above carry rounded), so no figure goes out unrounded."""
    return [e.split("=", 1)[0] if privacy == "strict" else e for e in evidence]


def _findings_section(context: RecommendContext, privacy: Privacy) -> str:
    findings = context.findings or derived_findings(context.facts)
    rejected = context.rejected_finding_ids
    kept = [
        {
            "id": f.id,
            "title": f.title,
            "severity": f.severity,
            "evidence": _evidence_sent(f.evidence, privacy),
        }
        for f in findings
        if f.id not in rejected
    ]
    dropped = [f.title for f in findings if f.id in rejected]
    text = f"\n\nFindings of Steps 1–3 (cite their ids in finding_ids):\n{_dump(kept)}"
    if dropped:
        text += "\n\nThe reviewer rejected these findings; do not build on them:\n" + _dump(dropped)
    return text


def _review_section(context: RecommendContext) -> str:
    text = ""
    if context.feedback:
        text += "\n\nReviewer feedback to act on:\n" + "\n".join(f"- {f}" for f in context.feedback)
    if context.previous is not None:
        titles = [item.title for item in context.previous.action_plan]
        text += (
            f"\n\nThis is version {context.version}; version {context.previous.version} "
            f"proposed these actions, which the reviewer asked to revise:\n{_dump(titles)}"
        )
    return text


def _rules(privacy: Privacy) -> str:
    return _RULES + (_STRICT_RULES if privacy == "strict" else "")


def recommend_prompt(
    context: RecommendContext,
    *,
    rows: Sequence[Mapping[str, Any]] | None = None,
    privacy: Privacy = DEFAULT_PRIVACY,
) -> Prompt:
    """Step 4's prompt, exactly as it would be sent (`privacy`: what it may carry)."""
    text = (
        "You are a careful data analyst. Step 4 (Recommendations): from the reviewed "
        "results of Steps 1–3, write an action plan (each item with a title, rationale, "
        "evidence, priority high/medium/low, impact and effort from 1 to 5, and the ids of "
        "the findings it rests on), business insights, and next steps.\n\n"
        f"{_rules(privacy)}\n\n"
        f"Figures (JSON):\n{_dump(aggregates(context.facts, privacy=privacy))}"
        f"{_findings_section(context, privacy)}{_review_section(context)}"
    )
    return _make(text + _rows_section(rows, privacy), privacy)


def step_prompt(
    step: str,
    facts: Facts,
    *,
    rows: Sequence[Mapping[str, Any]] | None = None,
    privacy: Privacy = DEFAULT_PRIVACY,
) -> Prompt:
    """The prompt for Step 1, 2 or 3, exactly as it would be sent (`privacy`: what it may
    carry)."""
    if step not in STEPS:
        raise ValueError(f"There is no prompt for step {step!r}.")
    text = (
        f"You are a careful data analyst reviewing {_STEP_TASKS[step]}\n\n{_rules(privacy)}\n\n"
        f"Figures (JSON):\n{_dump(aggregates(facts, step, privacy=privacy))}"
    )
    return _make(text + _rows_section(rows, privacy), privacy)
