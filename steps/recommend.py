"""Step 4 result types: the action plan an advisor derives from Steps 1–3 and the reviews.

The types live in `steps/` so the report, the exports and the headless entry point can
hold them without importing `ai/`; the advisors in `ai/` fill them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from steps.insights import Facts, Finding, UnverifiedNumber
from steps.results import ToDict

Priority = Literal["high", "medium", "low"]
PRIORITIES: tuple[Priority, ...] = ("high", "medium", "low")


@dataclass(frozen=True)
class ActionItem(ToDict):
    """One thing to do, with the figures that justify it.

    `impact` and `effort` are 1 (lowest) to 5 (highest) so a priority matrix can place the
    item; `finding_ids` name the Step 1–3 findings the item rests on, so rejecting a
    finding at a gate can drop every item built on it.
    """

    id: str
    title: str
    rationale: str
    evidence: tuple[str, ...]
    priority: Priority
    impact: int
    effort: int
    finding_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendations(ToDict):
    """Step 4: the action plan, business insights and next steps, as one versioned answer.

    `advisor` names who answered (after any fallback), `notice` says why it is not the
    advisor that was asked, and `feedback_used` lists the reviewer feedback this version
    was generated with.
    """

    advisor: str
    model: str | None
    action_plan: tuple[ActionItem, ...]
    business_insights: tuple[str, ...]
    next_steps: tuple[str, ...]
    notice: str | None = None
    version: int = 1
    feedback_used: tuple[str, ...] = ()
    unverified_numbers: tuple[UnverifiedNumber, ...] = ()
    prompt_sha256: str | None = None


ItemVerdict = Literal["accept", "reject", "edit"]


@dataclass(frozen=True)
class ItemReviews(ToDict):
    """What the gate-4 reviewer said of each recommendation, by item id.

    `edits` count only for items marked `edit` with a non-empty wording.
    """

    items: Mapping[str, ItemVerdict] = field(default_factory=dict)
    edits: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kept = {k: v.strip() for k, v in self.edits.items() if self.items.get(k) == "edit"}
        object.__setattr__(self, "items", dict(self.items))
        object.__setattr__(self, "edits", {k: v for k, v in kept.items() if v})


@dataclass(frozen=True)
class RecommendContext:
    """Everything Step 4 may build on: the typed figures, the findings reviewers saw, and
    what reviewers said.

    `findings` are the Step 1–3 findings as shown (empty to let the advisor derive them);
    those whose id is in `rejected_finding_ids` are left out. `feedback` holds the
    reviewers' notes and a gate-4 *modify*'s lines, once each, without reviewer names (it
    goes into prompts; the names need not). `previous` is the version a *modify* at gate 4
    asked to regenerate, and `reviews` what the reviewer said of its items.
    """

    facts: Facts
    findings: tuple[Finding, ...] = ()
    rejected_finding_ids: frozenset[str] = frozenset()
    feedback: tuple[str, ...] = ()
    previous: Recommendations | None = None
    reviews: ItemReviews = field(default_factory=ItemReviews)

    @property
    def version(self) -> int:
        """The version number the next generation gets."""
        return 1 if self.previous is None else self.previous.version + 1


@dataclass(frozen=True)
class ItemChange(ToDict):
    """An action item present in both versions whose content differs."""

    id: str
    title: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class RecommendationDiff(ToDict):
    """What changed between two versions of Step 4, for the gate-4 reviewer."""

    old_version: int
    new_version: int
    added: tuple[ActionItem, ...]
    removed: tuple[ActionItem, ...]
    changed: tuple[ItemChange, ...]
    insights_added: tuple[str, ...]
    insights_removed: tuple[str, ...]
    next_steps_added: tuple[str, ...]
    next_steps_removed: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.added,
                self.removed,
                self.changed,
                self.insights_added,
                self.insights_removed,
                self.next_steps_added,
                self.next_steps_removed,
            )
        )


def _changed_fields(old: ActionItem, new: ActionItem) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(ActionItem)
        if f.name != "id" and getattr(old, f.name) != getattr(new, f.name)
    )


def _only_in(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    present = set(b)
    return tuple(x for x in a if x not in present)


def compare(old: Recommendations, new: Recommendations) -> RecommendationDiff:
    """Items are matched by id (titles may be edited); texts by their exact wording."""
    old_items = {item.id: item for item in old.action_plan}
    new_items = {item.id: item for item in new.action_plan}
    changed = []
    for item_id, item in new_items.items():
        before = old_items.get(item_id)
        if before is not None and (fields := _changed_fields(before, item)):
            changed.append(ItemChange(item_id, item.title, fields))
    return RecommendationDiff(
        old_version=old.version,
        new_version=new.version,
        added=tuple(item for i, item in new_items.items() if i not in old_items),
        removed=tuple(item for i, item in old_items.items() if i not in new_items),
        changed=tuple(changed),
        insights_added=_only_in(new.business_insights, old.business_insights),
        insights_removed=_only_in(old.business_insights, new.business_insights),
        next_steps_added=_only_in(new.next_steps, old.next_steps),
        next_steps_removed=_only_in(old.next_steps, new.next_steps),
    )


def with_item_reviews(plan: tuple[ActionItem, ...], reviews: ItemReviews) -> tuple[ActionItem, ...]:
    """The next version's plan as the reviewer asked of the last one: an item rejected at
    gate 4 is left out and an edited one takes the reviewer's wording, whichever advisor
    answered (a model told so in its prompt may still propose the item again).
    """
    return tuple(
        dataclasses.replace(item, title=reviews.edits[item.id])
        if item.id in reviews.edits
        else item
        for item in plan
        if reviews.items.get(item.id) != "reject"
    )


def reviewed(recommendations: Recommendations, reviews: ItemReviews) -> dict[str, Any]:
    """The report's `recommendations`: every item with the reviewer's verdict on it.

    Rejected items stay in the report, marked, so a reader sees what was turned down;
    an edit keeps the advisor's wording beside the reviewer's. Items without a verdict
    are `pending`.
    """
    out = recommendations.to_dict()
    for item in out["action_plan"]:
        item["review"] = reviews.items.get(item["id"], "pending")
        if item["id"] in reviews.edits:
            item["edited_rationale"] = reviews.edits[item["id"]]
    return out
