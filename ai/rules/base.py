"""What a rule produces: an observation (a finding) and, when it calls for one, an action.

The rules read typed step results (`steps.insights.Facts`); each module covers one step.
Thresholds are named constants in the rule modules, so a reviewer can see why a finding
fired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from steps.insights import Finding, Severity, finding_id


@dataclass(frozen=True)
class Action:
    """What Step 4 would put in the plan for an observation; impact and effort are 1–5."""

    title: str
    rationale: str
    impact: int
    effort: int


@dataclass(frozen=True)
class Observation:
    """A finding plus, when it calls for one, the action and the business insight."""

    step: str
    finding: Finding
    action: Action | None = None
    insight: str | None = None


def observe(
    step: str,
    key: str,
    title: str,
    detail: str,
    severity: Severity,
    evidence: tuple[str, ...],
    action: Action | None = None,
    insight: str | None = None,
) -> Observation:
    """An observation whose finding id is stable for the same step and subject (`key`)."""
    finding = Finding(finding_id(step, key), title, detail, severity, evidence)
    return Observation(step, finding, action, insight)


def evidence(path: str, value: object) -> str:
    """`path=value` naming the figure a finding rests on, with the value as computed."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{path}={value}"
    number = float(value)
    if not math.isfinite(number):
        return f"{path}={value}"
    return f"{path}={int(number)}" if number.is_integer() else f"{path}={number:.6g}"


def share(part: int, whole: int) -> float:
    """`part / whole`, 0 for an empty whole (no rows means nothing is missing)."""
    return part / whole if whole > 0 else 0.0
