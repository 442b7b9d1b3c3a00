"""What a submitted gate form means, field by field, without a browser."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from review.answers import (
    approved_model,
    data_quality_subject,
    feedback_lines,
    item_fields,
    item_reviews,
    mark_rejected,
    model_modifications,
    nested_items,
    plan_from_answer,
    plan_of,
    rejected_findings_from,
    request_type,
    validate_answer,
)
from steps.cleaning import CleaningPlan

SHA = "ab" * 32
CLEANING = {"drop_duplicates": True, "drop_columns": ["b", "a"], "drop_rows_missing": ["c"]}


@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        (None, "Fill in the form."),
        ({}, "Fill in the form."),
        ({"verdict": None, "reviewer": "Ada"}, "Choose approve, reject or modify."),
        ({"verdict": "approve", "reviewer": "   "}, "A decision needs the reviewer's name."),
        ({"verdict": "approve"}, "A decision needs the reviewer's name."),
        ({"verdict": "reject", "reviewer": "Ada"}, None),
    ],
)
def test_a_form_needs_a_verdict_and_a_reviewer(value, sentence):
    assert validate_answer(value) == sentence


def test_only_a_modify_at_gate_1_asks_for_a_cleaning_plan():
    assert plan_from_answer({"verdict": "approve", **CLEANING}) == CleaningPlan()
    assert plan_from_answer(None) == CleaningPlan()
    asked = plan_from_answer({"verdict": "modify", **CLEANING})
    assert asked == CleaningPlan(True, ("a", "b"), ("c",))


def test_the_plan_in_force_comes_from_the_recorded_modify():
    modify = NS(verdict="modify", modifications={"cleaning_plan": CLEANING})
    assert plan_of(modify) == CleaningPlan(True, ("a", "b"), ("c",))
    assert plan_of(NS(verdict="approve", modifications={"cleaning_plan": CLEANING})).is_empty()
    assert plan_of(None).is_empty()


def test_gate_1_subject_changes_with_the_bytes_or_the_plan_and_nothing_else():
    plan = CleaningPlan(drop_duplicates=True)
    same = data_quality_subject(SHA, CleaningPlan(drop_duplicates=True))
    assert data_quality_subject(SHA, plan) == same
    assert data_quality_subject("cd" * 32, plan) != same
    assert data_quality_subject(SHA, CleaningPlan()) != same


@pytest.mark.parametrize(
    ("gate", "status", "kind"),
    [
        ("data_quality", "pending", "approval"),
        ("data_quality", "rejected", "correction"),
        ("analysis_validation", "pending", "validation"),
        ("result_verification", "stale", "validation"),
        ("result_verification", "rejected", "correction"),
        ("export_authorization", "stale", "approval"),
    ],
)
def test_the_queue_asks_for_a_correction_after_a_reject(gate, status, kind):
    assert request_type(gate, status) == kind


def test_rejected_findings_carry_their_reason_or_else_the_notes():
    insights = NS(findings=[NS(id="f1", title="Skewed price"), NS(id="f2", title="Outliers")])
    with_reason = {"reject_findings": ["f2", "gone"], "reason": " wrong column ", "notes": "n"}
    assert rejected_findings_from(with_reason, insights) == {
        "rejected_findings": [
            {"id": "f2", "title": "Outliers", "reason": "wrong column"},
            {"id": "gone", "title": "gone", "reason": "wrong column"},
        ]
    }
    from_notes = rejected_findings_from({"reject_findings": ["f1"], "notes": "n"}, insights)
    assert from_notes["rejected_findings"][0]["reason"] == "n"
    assert rejected_findings_from({"reject_findings": []}, insights) is None


def test_rejected_findings_stay_in_the_report_marked_and_the_input_is_left_alone():
    insights = {"advisor": "offline", "findings": [{"id": "f1"}, {"id": "f2"}]}
    marked = mark_rejected(insights, [{"id": "f2", "reason": "not causal"}])
    assert marked["findings"] == [
        {"id": "f1"},
        {"id": "f2", "rejected": True, "rejection_reason": "not causal"},
    ]
    assert marked["advisor"] == "offline"
    assert insights["findings"] == [{"id": "f1"}, {"id": "f2"}]


def test_gate_3_modify_names_another_candidate_or_features_to_leave_out():
    card = NS(selected="hist_gradient_boosting")
    assert model_modifications({"verdict": "approve", "candidate": "dummy"}, card) is None
    same = {"verdict": "modify", "candidate": "hist_gradient_boosting", "exclude": []}
    assert model_modifications(same, card) is None
    asked = {"verdict": "modify", "candidate": "dummy", "exclude": ["z", "a"]}
    assert model_modifications(asked, card) == {
        "selected": "dummy",
        "exclude_features": ["a", "z"],
    }


def test_the_approved_model_is_the_candidate_the_reviewer_chose():
    candidates = [
        NS(name="dummy", to_dict=lambda: {"metrics": {"r2": 0.0}}),
        NS(name="linear", to_dict=lambda: {"metrics": {"r2": 0.8}}),
    ]
    card = NS(
        candidates=candidates,
        to_dict=lambda: {"selected": "linear", "metrics": {"r2": 0.8}, "task": "regression"},
    )
    chose_dummy = NS(open=True, decision=NS(modifications={"selected": "dummy"}))
    assert approved_model(card, chose_dummy) == {
        "selected": "dummy",
        "metrics": {"r2": 0.0},
        "task": "regression",
    }
    approved = NS(open=True, decision=NS(modifications=None))
    assert approved_model(card, approved)["selected"] == "linear"
    assert approved_model(card, NS(open=False, decision=None)) is None
    assert approved_model(None, approved) is None


def test_item_edits_count_only_for_items_marked_edit_with_text():
    recs = NS(action_plan=(NS(id="a1", title="Fix"),))
    answer = {
        "items": {"a1": "edit", "a2": "accept", "a3": "edit"},
        "edits": {"a1": "Fix it now", "a2": "ignored", "a3": ""},
    }
    assert item_reviews(answer, recs) == {
        "items": {"a1": "edit", "a2": "accept", "a3": "edit"},
        "edits": {"a1": "Fix it now"},
    }
    assert item_reviews(answer, NS(action_plan=())) is None
    assert item_reviews(None, recs) is None


def test_gate_4_feedback_is_the_notes_then_a_line_per_dropped_or_reworded_item():
    plan = (NS(id="a1", title="Deduplicate"), NS(id="a2", title="Impute price"))
    answer = {
        "notes": "  Focus on revenue. ",
        "items": {"a1": "reject", "a2": "edit", "a9": "reject"},
        "edits": {"a2": "Impute price by segment median"},
    }
    assert feedback_lines(answer, plan) == (
        "Focus on revenue.",
        "Drop the recommendation 'Deduplicate'.",
        "Reword 'Impute price' as: Impute price by segment median",
        "Drop the recommendation 'a9'.",
    )
    assert feedback_lines({"notes": " ", "items": {"a2": "edit"}}, plan) == ()


def test_gate_4_fields_come_back_keyed_by_recommendation_id():
    plan = (NS(id="a1", title="Deduplicate"), NS(id="b2", title="Impute price"))
    assert [(v, e, i.id) for v, e, i in item_fields(plan)] == [
        ("item_0", "edit_0", "a1"),
        ("item_1", "edit_1", "b2"),
    ]
    value = {
        "verdict": "modify",
        "reviewer": "Grace",
        "notes": "n",
        "item_0": "reject",
        "edit_0": "",
        "item_1": "edit",
        "edit_1": "Impute by segment",
    }
    assert nested_items(value, plan) == {
        "verdict": "modify",
        "reviewer": "Grace",
        "notes": "n",
        "items": {"a1": "reject", "b2": "edit"},
        "edits": {"a1": "", "b2": "Impute by segment"},
    }
    assert nested_items(None, plan) is None
