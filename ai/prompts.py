"""Prompts built from aggregates only, so the user can see exactly what would leave.

Privacy is by allow-list: only the fields named here are copied from a typed step result,
so a field another step adds later (examples, top values, samples) is never sent by
accident. Sent: column names and kinds, counts, shares, the summary figures of numeric
columns, correlations, distribution shapes, model metrics, findings and reviewer feedback.
Never sent: top values, min/max (or any summary) of non-numeric columns, examples of
duplicates or type issues, a target's class labels. Rows only when the caller passes them
(opt-in), at most `MAX_ROWS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.offline import derived_findings
from ai.types import MAX_ROWS
from steps.errors import TooManyRowsError
from steps.insights import STEPS, Facts
from steps.model import ModelCard
from steps.overview import ColumnSummary, Overview
from steps.quality import Quality
from steps.recommend import RecommendContext
from steps.results import json_safe
from steps.statistics import Statistics

# A prompt stays bounded whatever the table: per-column figures for at most this many
# columns (in table order; the prompt says how many were left out), names cut to this length.
PROMPT_MAX_COLUMNS = 50
NAME_MAX_CHARS = 200

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


@dataclass(frozen=True)
class Prompt:
    """The exact text that would be sent, and its sha256 (cache key, audit reference)."""

    text: str
    sha256: str


def _make(text: str) -> Prompt:
    return Prompt(text, hashlib.sha256(text.encode()).hexdigest())


def _name(name: str) -> str:
    return name if len(name) <= NAME_MAX_CHARS else name[: NAME_MAX_CHARS - 1] + "…"


def _first(items: Sequence[Any]) -> list[Any]:
    return list(items[:PROMPT_MAX_COLUMNS])


def _left_out(*sizes: int) -> dict[str, int]:
    """How many columns a capped list left out, said in the prompt (nothing when none)."""
    extra = max((n - PROMPT_MAX_COLUMNS for n in sizes), default=0)
    return {"columns_left_out": extra} if extra > 0 else {}


def _column(col: ColumnSummary) -> dict[str, Any]:
    kept: dict[str, Any] = {
        "name": _name(col.name),
        "kind": col.kind,
        "n_missing": col.n_missing,
        "n_distinct": col.n_distinct,
    }
    if col.kind == "numeric":
        kept.update(mean=col.mean, std=col.std, min=col.min, q1=col.q1)
        kept.update(median=col.median, q3=col.q3, max=col.max)
    return kept


def overview_figures(ov: Overview) -> dict[str, Any]:
    return {
        "n_rows": ov.n_rows,
        "n_columns": ov.n_columns,
        "memory_bytes": ov.memory_bytes,
        "columns": [_column(c) for c in _first(ov.columns)],
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


_STEP_PARTS = {
    "overview": ("overview",),
    "quality": ("overview", "quality"),
    "statistics": ("statistics",),
}
_ALL_PARTS = ("overview", "quality", "statistics", "model")


def aggregates(facts: Facts, step: str | None = None) -> dict[str, Any]:
    """The sendable part of the facts, by allow-list: for one step what its prompt carries
    (the overview with the quality step, since kinds shape cleaning advice), else all."""
    wanted = _STEP_PARTS[step] if step is not None else _ALL_PARTS
    parts: dict[str, Any] = {}
    if "overview" in wanted:
        parts["overview"] = overview_figures(facts.overview)
    if "quality" in wanted and facts.quality is not None:
        parts["quality"] = quality_figures(facts.quality)
    if "statistics" in wanted and facts.statistics is not None:
        parts["statistics"] = statistics_figures(facts.statistics)
    if "model" in wanted and facts.model is not None:
        parts["model"] = model_figures(facts.model)
    return json_safe(parts)


def _dump(value: Any) -> str:
    return json.dumps(json_safe(value), ensure_ascii=False, sort_keys=True, indent=1)


def _rows_section(rows: Sequence[Mapping[str, Any]] | None) -> str:
    if not rows:
        return ""
    if len(rows) > MAX_ROWS:
        raise TooManyRowsError(
            f"At most {MAX_ROWS} rows may be shared with the AI; {len(rows)} were given."
        )
    lines = "\n".join(json.dumps(json_safe(dict(r)), ensure_ascii=False) for r in rows)
    return f"\n\nRows the user chose to share ({len(rows)}), one JSON object per line:\n{lines}"


def _findings_section(context: RecommendContext) -> str:
    findings = context.findings or derived_findings(context.facts)
    rejected = context.rejected_finding_ids
    kept = [
        {"id": f.id, "title": f.title, "severity": f.severity, "evidence": f.evidence}
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


def recommend_prompt(
    context: RecommendContext, *, rows: Sequence[Mapping[str, Any]] | None = None
) -> Prompt:
    """Step 4's prompt, exactly as it would be sent."""
    text = (
        "You are a careful data analyst. Step 4 (Recommendations): from the reviewed "
        "results of Steps 1–3, write an action plan (each item with a title, rationale, "
        "evidence, priority high/medium/low, impact and effort from 1 to 5, and the ids of "
        "the findings it rests on), business insights, and next steps.\n\n"
        f"{_RULES}\n\nFigures (JSON):\n{_dump(aggregates(context.facts))}"
        f"{_findings_section(context)}{_review_section(context)}"
    )
    return _make(text + _rows_section(rows))


def step_prompt(
    step: str, facts: Facts, *, rows: Sequence[Mapping[str, Any]] | None = None
) -> Prompt:
    """The prompt for Step 1, 2 or 3, exactly as it would be sent."""
    if step not in STEPS:
        raise ValueError(f"There is no prompt for step {step!r}.")
    text = (
        f"You are a careful data analyst reviewing {_STEP_TASKS[step]}\n\n{_RULES}\n\n"
        f"Figures (JSON):\n{_dump(aggregates(facts, step))}"
    )
    return _make(text + _rows_section(rows))
