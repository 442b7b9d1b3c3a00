"""Step 4: the offline action plan, rejected findings left out, reviewer feedback carried
into the next generation, and compare() between versions."""

from __future__ import annotations

import dataclasses
import json

from test_ai_fixtures import (
    compute_facts,
    customer_frame,
    model_card,
    step_facts,
    step_results,
    with_model,
)

from ai.factcheck import unverified_numbers
from ai.offline import OfflineAdvisor
from ai.prompts import recommend_prompt
from ai.remote import _recommendation_texts
from steps.insights import Finding
from steps.recommend import PRIORITIES, ItemReviews, RecommendContext, compare, reviewed
from steps.text import number_text

ADVISOR = OfflineAdvisor()


def statistics_finding(prefix: str) -> Finding:
    findings = ADVISOR.advise("statistics", step_facts("statistics")).findings
    return next(f for f in findings if f.title.startswith(prefix))


def test_plan_is_ordered_by_priority_and_rests_on_findings() -> None:
    recs = ADVISOR.recommend(RecommendContext(step_results()))
    ranks = [PRIORITIES.index(i.priority) for i in recs.action_plan]
    assert ranks == sorted(ranks)
    assert recs.action_plan[0].title.startswith("Check whether spend is derived from spend_copy")
    assert all(i.finding_ids and i.evidence and 1 <= i.impact <= 5 for i in recs.action_plan)
    dupes = int(customer_frame().duplicated().sum())
    assert f"Remove the {dupes} duplicate rows" in {i.title for i in recs.action_plan}
    assert recs.advisor == "offline" and recs.version == 1 and recs.notice is None


def test_business_insights_and_next_steps_from_everything() -> None:
    card = model_card("spend")
    recs = ADVISOR.recommend(RecommendContext(with_model("spend")))
    metrics = ", ".join(f"{k} {number_text(card.metrics[k].mean)}" for k in ("mae", "r2"))
    assert f"The best baseline for spend is {card.selected} ({metrics})." in recs.business_insights
    assert any("move together" in i and "tenure_years" in i for i in recs.business_insights)
    titles = {i.title for i in recs.action_plan}
    leak = next(w for w in card.warnings if w.kind == "leakage")
    assert f"Resolve before approving the model: {leak.sentence}" in titles
    assert "Choose a target column to get a baseline model." not in recs.next_steps
    # Gate statuses no longer feed Step 4 (issue 12): no "Get the X gate reviewed" step.
    assert not [s for s in recs.next_steps if s.startswith("Get the")]
    without = ADVISOR.recommend(RecommendContext(step_results()))
    assert "Choose a target column to get a baseline model." in without.next_steps
    assert not [i for i in without.business_insights if i.startswith("The best baseline")]


def test_rejected_findings_do_not_appear_in_the_plan() -> None:
    leak = statistics_finding("Possible leakage")
    context = RecommendContext(step_results())
    before = ADVISOR.recommend(context)
    assert any(leak.id in i.finding_ids for i in before.action_plan)
    after = ADVISOR.recommend(
        dataclasses.replace(context, rejected_finding_ids=frozenset({leak.id}))
    )
    assert not any(leak.id in i.finding_ids for i in after.action_plan)
    assert not any(i.title.startswith("Check whether spend is") for i in after.action_plan)
    assert len(after.action_plan) == len(before.action_plan) - 1


def test_modify_regenerates_with_feedback_and_compare_reports_the_change() -> None:
    context = RecommendContext(step_results())
    v1 = ADVISOR.recommend(context)
    pair = statistics_finding("tenure_years and visits")
    feedback = ("visits is counted from tenure by design; ignore that pair.",)
    context2 = dataclasses.replace(
        context, previous=v1, feedback=feedback, rejected_finding_ids=frozenset({pair.id})
    )
    prompt = recommend_prompt(context2).text
    assert feedback[0] in prompt
    assert "This is version 2; version 1 proposed these actions" in prompt
    v2 = ADVISOR.recommend(context2)
    assert v2.version == 2 and v2.feedback_used == feedback
    assert v2.next_steps[0] == f"Address the reviewer's feedback: {feedback[0]}"

    diff = compare(v1, v2)
    assert (diff.old_version, diff.new_version) == (1, 2)
    assert [i.title for i in diff.removed] == [
        "Use only one of tenure_years and visits in linear models"
    ]
    assert diff.added == () and diff.changed == ()
    assert [i for i in diff.insights_removed if "tenure_years" in i]
    assert diff.next_steps_added == (f"Address the reviewer's feedback: {feedback[0]}",)
    assert not diff.is_empty


def test_compare_names_the_fields_an_edit_changed() -> None:
    v1 = ADVISOR.recommend(RecommendContext(step_results()))
    edited = dataclasses.replace(v1.action_plan[1], priority="low", title="Drop notes")
    v2 = dataclasses.replace(
        v1, version=2, action_plan=(v1.action_plan[0], edited, *v1.action_plan[2:])
    )
    diff = compare(v1, v2)
    assert [(c.id, c.title, c.fields) for c in diff.changed] == [
        (edited.id, "Drop notes", ("title", "priority"))
    ]
    assert compare(v1, v1).is_empty


def test_recommendations_are_deterministic_json() -> None:
    a = json.dumps(ADVISOR.recommend(RecommendContext(step_results())).to_dict())
    recomputed = compute_facts(customer_frame())
    b = json.dumps(OfflineAdvisor().recommend(RecommendContext(recomputed)).to_dict())
    assert a == b
    assert json.loads(a)["action_plan"][0]["evidence"]


def test_offline_plan_states_only_computed_figures() -> None:
    """Model metrics and warnings included: every number in the plan is a computed figure."""
    facts = with_model("spend")
    recs = ADVISOR.recommend(RecommendContext(facts))
    texts = _recommendation_texts(
        recs.action_plan, list(recs.business_insights), list(recs.next_steps)
    )
    assert any("baseline" in t for _, t in texts)
    assert unverified_numbers(texts, facts) == ()


def test_reviewed_plan_marks_each_item_with_the_reviewers_verdict() -> None:
    recs = ADVISOR.recommend(RecommendContext(step_results()))
    first, second, *rest = recs.action_plan
    reviews = ItemReviews(
        items={first.id: "reject", second.id: "edit"}, edits={second.id: " Use the median. "}
    )
    out = reviewed(recs, reviews)
    items = {i["id"]: i for i in out["action_plan"]}
    assert items[first.id]["review"] == "reject"
    assert items[second.id]["review"] == "edit"
    assert items[second.id]["edited_rationale"] == "Use the median."
    assert items[second.id]["rationale"] == second.rationale
    assert all(items[i.id]["review"] == "pending" for i in rest)
    assert len(out["action_plan"]) == len(recs.action_plan)


def test_a_version_drops_the_items_rejected_at_gate_4_and_rewords_the_edited_ones() -> None:
    context = RecommendContext(step_results())
    v1 = ADVISOR.recommend(context)
    dropped, reworded, kept = v1.action_plan[0], v1.action_plan[1], v1.action_plan[2]
    reviews = ItemReviews(
        items={dropped.id: "reject", reworded.id: "edit", kept.id: "accept"},
        edits={reworded.id: "Ask the data owner about notes first", kept.id: "ignored"},
    )
    assert reviews.edits == {reworded.id: "Ask the data owner about notes first"}
    v2 = ADVISOR.recommend(dataclasses.replace(context, previous=v1, reviews=reviews))
    titles = {i.id: i.title for i in v2.action_plan}
    assert dropped.id not in titles
    assert titles[reworded.id] == "Ask the data owner about notes first"
    assert titles[kept.id] == kept.title
    assert len(v2.action_plan) == len(v1.action_plan) - 1
    diff = compare(v1, v2)
    assert [i.id for i in diff.removed] == [dropped.id]
    assert [(c.id, c.fields) for c in diff.changed] == [(reworded.id, ("title",))]
