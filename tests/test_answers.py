"""What a submitted gate form means, field by field, without a browser.

Every gate reads its answer against a real record (Palmer penguins walked through the
stages, see `review_walk`), so a field that stops matching the typed results fails here.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace as NS

import pytest
from review_walk import walk

from review.answers import (
    ITEM_VERDICTS,
    analysis_validation_controls,
    analysis_validation_subject,
    data_quality_controls,
    data_quality_subject,
    exclusions_in_force,
    export_authorization_subject,
    feedback_in_force,
    feedback_lines,
    item_reviews_from,
    model_approval_controls,
    model_approval_subject,
    model_choice_in_force,
    plain_reading,
    plan_in_force,
    read_analysis_validation,
    read_data_quality,
    read_model_approval,
    read_result_verification,
    rejected_in_force,
    result_verification_controls,
    result_verification_subject,
    reviews_in_force,
    validate_answer,
)
from steps.cleaning import CleaningPlan
from steps.errors import CleaningError, FeatureError, GateError
from steps.recommend import ItemReviews
from steps.record import RejectedFinding
from steps.report import content_sha256, report_parts

SHA = "ab" * 32
CLEANING = {
    "drop_duplicates": True,
    "drop_columns": ["year", "island"],
    "drop_rows_missing": ["sex"],
}
PLAN = CleaningPlan(True, ("island", "year"), ("sex",))


@pytest.fixture(scope="module", autouse=True)
def _walked() -> None:
    """Walk the sample through the stages before the first test (once per session; the
    baselines' training is the slow part), so no test's own time includes it."""
    walk()


def decided(verdict: str = "modify", modifications=None, details=None) -> NS:
    """A recorded decision as the in-force readers see it."""
    return NS(verdict=verdict, modifications=modifications or {}, details=details or {})


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


# --- gate 1 -------------------------------------------------------------------------------


def test_only_a_modify_at_gate_1_asks_for_a_cleaning_plan():
    record = walk().started
    approved = read_data_quality({"verdict": "approve", **CLEANING}, record)
    assert (approved.modifications, approved.record.plan) == (None, CleaningPlan())
    asked = read_data_quality({"verdict": "modify", **CLEANING}, record)
    assert asked.record.plan == PLAN
    assert asked.modifications == {"cleaning_plan": PLAN.to_dict()}
    assert record.plan == CleaningPlan()  # the record read is left as it was


def test_a_plan_the_data_cannot_take_is_refused_before_anything_is_recorded():
    record = walk().started
    with pytest.raises(CleaningError, match="not in the data: 'ghost'"):
        read_data_quality({"verdict": "modify", "drop_columns": ["ghost"]}, record)
    every = [c.name for c in record.original.overview.columns]
    with pytest.raises(CleaningError, match="would drop every column") as error:
        read_data_quality({"verdict": "modify", "drop_columns": every}, record)
    assert str(error.value) == "The cleaning plan would drop every column; keep at least one."


def test_gate_1_offers_the_plan_over_the_columns_as_loaded():
    record = walk().started
    assert record.original.alerts, "the walk's data raises alerts, triaged first"
    triage, *controls = data_quality_controls(record)
    assert (triage.name, triage.kind, triage.always) == ("alert_triage", "table", True)
    assert [row["key"] for row in triage.value] == [a.key for a in record.original.alerts]
    assert [(c.name, c.kind, c.line) for c in controls] == [
        ("drop_duplicates", "checkbox", "plan"),
        ("drop_columns", "multiselect", "plan"),
        ("drop_rows_missing", "multiselect", "plan"),
    ]
    names = [c.name for c in walk().started.original.overview.columns]
    assert (
        [value for _, value in controls[1].options] == names == [v for _, v in controls[2].options]
    )


def test_the_plan_in_force_comes_from_the_recorded_modify():
    record = walk().started
    assert plan_in_force(record, decided(modifications={"cleaning_plan": CLEANING})).plan == PLAN
    assert plan_in_force(record, decided("approve")).plan.is_empty()
    assert plan_in_force(record, None).plan.is_empty()


def test_gate_1_subject_changes_with_the_bytes_or_the_plan_and_nothing_else():
    record = walk().started
    same = data_quality_subject(dataclasses.replace(record, plan=PLAN))
    assert data_quality_subject(dataclasses.replace(record, plan=CleaningPlan(**CLEANING))) == same
    other_bytes = dataclasses.replace(record, source=dataclasses.replace(record.source, sha256=SHA))
    assert data_quality_subject(dataclasses.replace(other_bytes, plan=PLAN)) != same
    assert data_quality_subject(record) != same
    assert data_quality_subject(record) == data_quality_subject(walk().complete)


# --- gate 2 -------------------------------------------------------------------------------


def test_gate_2_subject_needs_step_3_and_names_threshold_methods_and_figures():
    with pytest.raises(GateError, match="needs Step 3's results"):
        analysis_validation_subject(walk().started)
    parts = analysis_validation_subject(walk().analysed)
    assert set(parts) == {"threshold", "correlation", "outliers", "result"}
    assert (parts["threshold"], parts["correlation"]) == (0.7, "pearson")


def test_rejected_findings_carry_their_reason_or_else_the_notes():
    record = walk().analysed
    (finding,) = record.analysed.insights.findings
    options = analysis_validation_controls(record)[0].options
    assert options == ((finding.title, finding.id),)
    with_reason = {
        "verdict": "modify",
        "reject_findings": [finding.id],
        "reason": " wrong column ",
        "notes": "n",
    }
    reading = read_analysis_validation(with_reason, record)
    assert reading.modifications == {
        "rejected_findings": [{"id": finding.id, "title": finding.title, "reason": "wrong column"}]
    }
    assert reading.record.rejected == (RejectedFinding(finding.id, finding.title, "wrong column"),)
    from_notes = {"verdict": "modify", "reject_findings": [finding.id], "notes": "n"}
    assert read_analysis_validation(from_notes, record).record.rejected[0].reason == "n"
    nothing = read_analysis_validation({"verdict": "modify", "reject_findings": []}, record)
    assert (nothing.modifications, nothing.record) == (None, record)
    approved = read_analysis_validation({**with_reason, "verdict": "approve"}, record)
    assert (approved.modifications, approved.record.rejected) == (None, ())


def test_only_findings_shown_can_be_rejected():
    answer = {"verdict": "modify", "reject_findings": ["gone"], "reason": "r"}
    with pytest.raises(GateError, match="Reject only findings shown"):
        read_analysis_validation(answer, walk().analysed)


def test_rejected_findings_stay_in_the_report_marked_and_the_input_is_left_alone():
    record = walk().analysed
    (finding,) = record.analysed.insights.findings
    mods = {
        "rejected_findings": [{"id": finding.id, "title": finding.title, "reason": "not causal"}]
    }
    overruled = rejected_in_force(record, decided(modifications=mods))
    assert overruled.rejected == (RejectedFinding(finding.id, finding.title, "not causal"),)
    marked = report_parts(overruled)["ai"]
    assert [
        (f["id"], f["rejected"], f["rejection_reason"]) for f in marked["statistics"]["findings"]
    ] == [(finding.id, True, "not causal")]
    assert not any(f["rejected"] for f in marked["overview"]["findings"])
    assert marked["statistics"]["advisor"] == "offline"
    assert report_parts(record)["ai"]["statistics"]["findings"][0]["rejected"] is False
    assert record.analysed.insights.findings == (finding,)
    assert rejected_in_force(overruled, None).rejected == ()


# --- gate 3 -------------------------------------------------------------------------------


def test_gate_3_modify_names_another_candidate_or_features_to_leave_out():
    record = walk().trained
    card = record.model
    assert (
        read_model_approval({"verdict": "approve", "candidate": "dummy"}, record).modifications
        is None
    )
    same = {"verdict": "modify", "candidate": card.selected, "exclude": []}
    assert read_model_approval(same, record).modifications is None
    asked = {"verdict": "modify", "candidate": "dummy", "exclude": ["year", "island"]}
    reading = read_model_approval(asked, record)
    assert reading.modifications == {"selected": "dummy", "exclude_features": ["island", "year"]}
    assert reading.record == record  # the choice is put in force once recorded
    assert exclusions_in_force(decided(modifications=reading.modifications)) == ("island", "year")
    assert exclusions_in_force(None) == ()


def test_gate_3_refuses_an_unknown_candidate_or_leaving_every_feature_out():
    record = walk().trained
    with pytest.raises(GateError, match="no candidate called 'oracle'"):
        read_model_approval({"verdict": "modify", "candidate": "oracle"}, record)
    every = {"verdict": "modify", "exclude": list(record.model.features)}
    with pytest.raises(FeatureError) as error:
        read_model_approval(every, record)
    assert str(error.value) == "Leave at least one feature in: every feature was left out."


def test_gate_3_offers_the_candidates_and_the_features():
    card = walk().trained.model
    candidate, exclude = model_approval_controls(walk().trained)
    assert (candidate.kind, candidate.value) == ("dropdown", card.selected)
    assert [v for _, v in candidate.options] == [c.name for c in card.candidates]
    assert [v for _, v in exclude.options] == list(card.features)
    assert model_approval_controls(walk().analysed) == ()
    assert model_approval_subject(walk().analysed) is None
    assert model_approval_subject(walk().trained) == card.subject_parts()


def test_the_approved_model_is_the_candidate_the_reviewer_chose():
    record = walk().trained
    card = record.model
    dummy = next(c for c in card.candidates if c.name == "dummy")
    chose_dummy = model_choice_in_force(record, decided(modifications={"selected": "dummy"}))
    approved = chose_dummy.approved_model
    assert (approved.selected, approved.metrics, approved.task) == (
        "dummy",
        dummy.metrics,
        card.task,
    )
    assert card.selected != "dummy"  # the card as trained is left alone
    assert model_choice_in_force(record, decided("approve")).approved_model == card
    assert model_choice_in_force(chose_dummy, None).approved_model == card
    assert walk().analysed.approved_model is None


# --- gate 4 -------------------------------------------------------------------------------


def plan_ids() -> list[str]:
    return [item.id for item in walk().complete.recommendations.action_plan]


def test_gate_4_fields_come_back_keyed_by_recommendation_id():
    record = walk().complete
    plan = record.recommendations.action_plan
    controls = result_verification_controls(record)
    assert [c.name for c in controls] == [
        f"{f}_{k}" for k in range(len(plan)) for f in ("item", "edit")
    ]
    verdicts = controls[0::2]
    assert [c.label for c in verdicts] == [item.title for item in plan]
    assert all(
        c.options == tuple((v, v) for v in ITEM_VERDICTS) and c.value == "accept" for c in verdicts
    )
    assert [c.line for c in controls] == [f"item_{k}" for k in range(len(plan)) for _ in "ab"]
    value = {
        "verdict": "modify",
        "reviewer": "Grace",
        "notes": "n",
        "item_0": "reject",
        "edit_0": "",
        "item_1": "edit",
        "edit_1": "Impute by segment",
    }
    ids = plan_ids()
    assert item_reviews_from(value, record) == ItemReviews(
        {ids[0]: "reject", ids[1]: "edit"}, {ids[1]: "Impute by segment"}
    )


def test_item_edits_count_only_for_items_marked_edit_with_text():
    ids = plan_ids()
    answer = {
        "item_0": "edit",
        "edit_0": " Fix it now ",
        "item_1": "accept",
        "edit_1": "ignored",
        "item_2": "edit",
        "edit_2": "",
    }
    reviews = item_reviews_from(answer, walk().complete)
    assert reviews.items == {ids[0]: "edit", ids[1]: "accept", ids[2]: "edit"}
    assert reviews.edits == {ids[0]: "Fix it now"}
    with pytest.raises(GateError, match="Unknown verdict 'maybe'"):
        item_reviews_from({"item_0": "maybe"}, walk().complete)


def test_item_verdicts_are_kept_with_any_verdict_and_nothing_said_is_nothing_kept():
    record = walk().complete
    ids = plan_ids()
    approved = read_result_verification({"verdict": "approve", "item_3": "reject"}, record)
    assert approved.modifications is None
    assert approved.details == {"items": {ids[3]: "reject"}, "edits": {}}
    assert approved.record.reviews == ItemReviews({ids[3]: "reject"})
    in_force = reviews_in_force(record, decided("approve", details=approved.details))
    assert in_force.reviews == approved.record.reviews
    assert reviews_in_force(in_force, None).reviews == ItemReviews()
    silent = read_result_verification({"verdict": "approve"}, record)
    assert (silent.modifications, silent.details, silent.record.reviews) == (
        None,
        None,
        ItemReviews(),
    )


def test_gate_4_feedback_is_the_notes_then_a_line_per_dropped_or_reworded_item():
    record = walk().complete
    plan = record.recommendations.action_plan
    answer = {
        "verdict": "modify",
        "notes": "  Focus on revenue. ",
        "item_0": "reject",
        "item_1": "edit",
        "edit_1": "Impute price by segment median",
        "item_2": "accept",
    }
    reviews = item_reviews_from(answer, record)
    expected = (
        "Focus on revenue.",
        f"Drop the recommendation '{plan[0].title}'.",
        f"Reword '{plan[1].title}' as: Impute price by segment median",
    )
    assert feedback_lines(answer, reviews, record) == expected
    reading = read_result_verification(answer, record)
    assert reading.modifications == {"feedback": list(expected)}
    assert feedback_in_force(decided(modifications=reading.modifications)) == expected
    assert feedback_in_force(None) == ()
    quiet = {"notes": " ", "item_1": "edit"}
    assert feedback_lines(quiet, item_reviews_from(quiet, record), record) == ()


def test_gate_4_subject_is_the_recommendations():
    with pytest.raises(GateError, match="needs Step 4's recommendations"):
        result_verification_subject(walk().trained)
    assert set(result_verification_subject(walk().complete)) == {"recommendations"}


# --- gate 5 -------------------------------------------------------------------------------


def test_gate_5_is_bound_to_the_very_content_exported():
    record = walk().complete
    subject = export_authorization_subject(record)
    assert subject == {"report": content_sha256(report_parts(record))}
    reviewed = dataclasses.replace(record, reviews=ItemReviews({plan_ids()[0]: "reject"}))
    assert export_authorization_subject(reviewed) != subject


def test_a_gate_without_modify_controls_accepts_no_modify():
    record = walk().complete
    assert plain_reading({"verdict": "approve"}, record).record == record
    with pytest.raises(GateError) as error:
        plain_reading({"verdict": "modify", "notes": "change it"}, record)
    assert str(error.value) == "This gate has nothing to modify: approve or reject it."
