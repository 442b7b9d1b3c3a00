"""Prompts built from aggregates only, so the user can see exactly what would leave.

Privacy is by allow-list: only the keys named here are copied from a step result, so a
key another step adds later (examples, top values, samples) is never sent by accident.
Sent: column names and kinds, counts, shares, the summary figures of numeric columns,
correlations, distribution shapes, model metrics, findings, gate decisions and reviewer
feedback. Never sent: top values, min/max (or any summary) of non-numeric columns,
examples of duplicates or type issues. Rows only when the caller passes them (opt-in),
at most `MAX_ROWS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.advisor import MAX_ROWS, STEPS, step_parts
from ai.figures import NUMERIC_KINDS, columns_of, count, number
from ai.offline import derived_findings
from steps.errors import TooManyRowsError
from steps.recommend import RecommendContext
from steps.results import json_safe

_COLUMN_COUNTS = ("name", "kind", "n_missing", "n_distinct")
_NUMERIC_SUMMARY = ("mean", "std", "min", "q1", "median", "q3", "max")
_VALUE_KEYS = frozenset({"examples", "example", "top_values", "values", "rows", "sample"})
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


def _name(name: Any) -> str:
    text = str(name)
    return text if len(text) <= NAME_MAX_CHARS else text[: NAME_MAX_CHARS - 1] + "…"


def _first(items: Sequence[Any]) -> list[Any]:
    return list(items[:PROMPT_MAX_COLUMNS])


def _left_out(*collections: Sequence[Any] | Mapping[str, Any]) -> dict[str, int]:
    """How many columns a capped list left out, said in the prompt (nothing when none)."""
    extra = max((len(c) - PROMPT_MAX_COLUMNS for c in collections), default=0)
    return {"columns_left_out": extra} if extra > 0 else {}


def _column(col: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: col.get(k) for k in _COLUMN_COUNTS if k in col}
    if "name" in kept:
        kept["name"] = _name(kept["name"])
    if col.get("kind") in NUMERIC_KINDS:
        kept.update({k: number(col.get(k)) for k in _NUMERIC_SUMMARY if k in col})
    return kept


def _overview(ov: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "n_rows": count(ov.get("n_rows")),
        "n_columns": count(ov.get("n_columns")),
        "memory_bytes": count(ov.get("memory_bytes")),
        "columns": [_column(c) for c in _first(columns_of(ov))],
        **_left_out(columns_of(ov)),
    }


def _quality(q: Mapping[str, Any]) -> dict[str, Any]:
    outliers = q.get("outliers") or {}
    missing = q.get("missing_by_column") or {}
    issues = q.get("type_issues") or []
    return {
        "n_rows": count(q.get("n_rows")),
        "duplicate_rows": count(q.get("duplicate_rows")),
        "missing_cells": count(q.get("missing_cells")),
        "missing_by_column": {_name(k): count(v) for k, v in _first(list(missing.items()))},
        "quality_score": number(q.get("quality_score")),
        "outliers": {
            _name(k): {m: count(v.get(m)) for m in ("iqr", "zscore")}
            for k, v in _first(list(outliers.items()))
            if isinstance(v, Mapping)
        },
        "type_issues": [
            {
                "column": _name(t.get("column")),
                "issue": t.get("issue"),
                "count": count(t.get("count")),
            }
            for t in _first(issues)
        ],
        **_left_out(missing, outliers, issues),
    }


def _statistics(s: Mapping[str, Any]) -> dict[str, Any]:
    corr = s.get("correlation") or {}
    names = list(corr.get("columns") or [])
    kept = len(_first(names))
    distributions = s.get("distributions") or {}
    strong = s.get("strong_correlations") or []
    return {
        "correlation": {
            **({"method": corr["method"]} if "method" in corr else {}),
            "columns": [_name(n) for n in names[:kept]],
            "matrix": [list(row[:kept]) for row in (corr.get("matrix") or [])[:kept]],
        },
        "strong_correlations": [
            {
                k: _name(p.get(k)) if k in ("a", "b") else p.get(k)
                for k in ("a", "b", "r", "n", "p_value")
            }
            for p in _first(strong)
        ],
        "threshold": number(s.get("threshold")),
        "distributions": {
            _name(k): {m: number(v.get(m)) for m in ("skewness", "kurtosis")}
            for k, v in _first(list(distributions.items()))
            if isinstance(v, Mapping)
        },
        **_left_out(names, distributions),
    }


def _without_values(value: Any) -> Any:
    """The model card minus anything keyed like a cell value (examples, samples, rows)."""
    if isinstance(value, Mapping):
        return {str(k): _without_values(v) for k, v in value.items() if k not in _VALUE_KEYS}
    if isinstance(value, (list, tuple)):
        return [_without_values(v) for v in value]
    return value


_SANITISERS = {
    "overview": _overview,
    "quality": _quality,
    "statistics": _statistics,
    "model": _without_values,
}


def aggregates(parts: Mapping[str, Any]) -> dict[str, Any]:
    """The sendable part of each step result, by allow-list."""
    return {
        step: json_safe(_SANITISERS[step](result))
        for step, result in parts.items()
        if step in _SANITISERS and result
    }


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
    findings = context.findings or tuple(f.to_dict() for f in derived_findings(context))
    rejected = context.rejected_finding_ids
    kept = [
        {k: f.get(k) for k in ("id", "title", "severity", "evidence")}
        for f in findings
        if f.get("id") not in rejected
    ]
    dropped = [f.get("title") for f in findings if f.get("id") in rejected]
    text = f"\n\nFindings of Steps 1–3 (cite their ids in finding_ids):\n{_dump(kept)}"
    if dropped:
        text += "\n\nThe reviewer rejected these findings; do not build on them:\n" + _dump(dropped)
    return text


def _review_section(context: RecommendContext) -> str:
    decisions = {gate: d.get("status", "pending") for gate, d in context.decisions.items()}
    text = f"\n\nGate decisions:\n{_dump(decisions)}" if decisions else ""
    if context.feedback:
        text += "\n\nReviewer feedback to act on:\n" + "\n".join(f"- {f}" for f in context.feedback)
    if context.previous is not None:
        titles = [item.title for item in context.previous.action_plan]
        text += (
            f"\n\nThis is version {context.version}; version {context.previous.version} "
            f"proposed these actions, which the reviewer asked to revise:\n{_dump(titles)}"
        )
    return text


def _recommend_text(context: RecommendContext) -> str:
    parts = {
        "overview": context.overview,
        "quality": context.quality,
        "statistics": context.statistics,
        "model": context.model,
    }
    return (
        "You are a careful data analyst. Step 4 (Recommendations): from the reviewed "
        "results of Steps 1–3, write an action plan (each item with a title, rationale, "
        "evidence, priority high/medium/low, impact and effort from 1 to 5, and the ids of "
        "the findings it rests on), business insights, and next steps.\n\n"
        f"{_RULES}\n\nFigures (JSON):\n{_dump(aggregates(parts))}"
        f"{_findings_section(context)}{_review_section(context)}"
    )


def prompt_for(
    step: str,
    context: Mapping[str, Any] | RecommendContext,
    *,
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> Prompt:
    """The prompt for a step (`overview`, `quality`, `statistics`, or `recommendations`
    with a `RecommendContext`), exactly as it would be sent."""
    if step == "recommendations":
        if not isinstance(context, RecommendContext):
            raise TypeError("Step 4 prompts are built from a RecommendContext.")
        return _make(_recommend_text(context) + _rows_section(rows))
    if step not in STEPS or isinstance(context, RecommendContext):
        raise ValueError(f"There is no prompt for step {step!r}.")
    figures = aggregates(step_parts(step, context))
    text = (
        f"You are a careful data analyst reviewing {_STEP_TASKS[step]}\n\n{_RULES}\n\n"
        f"Figures (JSON):\n{_dump(figures)}"
    )
    return _make(text + _rows_section(rows))
