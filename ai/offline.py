"""The offline rule-based advisor: findings and an action plan derived from the figures.

It is first-class, not a placeholder: it answers when no model is configured and when a
remote model fails, so its output must be deterministic (same figures -> byte-identical
`to_dict()`), sensible on its own, and must only ever state figures it was given. The rules
themselves are in `ai.rules`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ai.rules import RULES, Observation, observations
from ai.types import Rows
from steps.settings import DEFAULT_PRIVACY, Privacy

if TYPE_CHECKING:  # the prompts module builds on these rules
    from ai.prompts import Prompt
from steps.insights import Facts, Finding, Step, StepInsights, finding_id
from steps.recommend import (
    PRIORITIES,
    ActionItem,
    Priority,
    Recommendations,
    RecommendContext,
    with_item_reviews,
)

_PRIORITY_OF: dict[str, Priority] = {"critical": "high", "warning": "medium", "info": "low"}


def derived_findings(facts: Facts) -> tuple[Finding, ...]:
    """Every finding the rules draw from Steps 1–3 and the model card, rejected ones too
    (a prompt names those so the model can steer clear of them)."""
    return tuple(o.finding for o in observations(facts))


def _action_item(o: Observation) -> ActionItem:
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


def _plan(kept: list[Observation]) -> tuple[ActionItem, ...]:
    items = [_action_item(o) for o in kept if o.action is not None]
    order = {p: i for i, p in enumerate(PRIORITIES)}
    return tuple(sorted(items, key=lambda i: (order[i.priority], -i.impact, i.effort)))


def _next_steps(context: RecommendContext, kept: list[Observation]) -> tuple[str, ...]:
    steps = [f"Address the reviewer's feedback: {line}" for line in context.feedback]
    if context.facts.dismissed:
        listed = ", ".join(sorted(context.facts.dismissed))
        steps.append(f"Alerts dismissed at gate 1 are left out of this plan: {listed}.")
    if any(o.step == "quality" and o.action for o in kept):
        steps.append("Apply the cleaning actions, then re-run Steps 2 and 3 on the cleaned view.")
    if context.facts.model is None:
        steps.append("Choose a target column to get a baseline model.")
    steps.append("Export the report once the result verification gate is approved.")
    return tuple(steps)


class OfflineAdvisor:
    """Deterministic findings from the computed figures; sends nothing anywhere."""

    name = "offline"
    model: str | None = None

    def __init__(
        self,
        description: str = "The offline rule-based advisor answers.",
        *,
        privacy: Privacy = DEFAULT_PRIVACY,
    ) -> None:
        self.description = description
        self.privacy = privacy

    def advise(
        self, step: Step, facts: Facts, *, prompt: Prompt | None = None, rows: Rows | None = None
    ) -> StepInsights:
        findings = tuple(o.finding for o in RULES[step](facts))
        return StepInsights(step=step, advisor=self.name, model=None, findings=findings)

    def recommend(
        self,
        context: RecommendContext,
        *,
        prompt: Prompt | None = None,
        rows: Rows | None = None,
    ) -> Recommendations:
        rejected = context.rejected_finding_ids
        kept = [o for o in observations(context.facts) if o.finding.id not in rejected]
        return Recommendations(
            advisor=self.name,
            model=None,
            action_plan=with_item_reviews(_plan(kept), context.reviews),
            business_insights=tuple(o.insight for o in kept if o.insight),
            next_steps=_next_steps(context, kept),
            version=context.version,
            feedback_used=context.feedback,
        )
