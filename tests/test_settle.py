"""Settling gates as the notebook does (`flow.gates.settle`): an answer is checked before
anything is written, so a refusal is one sentence and leaves the trail as it was."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from review_walk import at_threshold, walk

from flow.gates import Settled, notes_feedback, settle
from flow.report import report
from flow.views import gate_form
from review.analyses import register_analysis
from review.audit import AuditTrail
from review.decisions import decide_answer
from review.gates import gate_by_id, gate_ids, gate_states, subject_chain
from review.identity import Identity, Signing
from review.requests import open_requests
from steps.cleaning import CleaningPlan
from steps.errors import GateError
from steps.record import Record
from steps.settings import IdentitySettings

AN = "an1"


@pytest.fixture(scope="module", autouse=True)
def _walked() -> None:
    """Walk the sample through the stages before the first test (once per session; the
    baselines' training is the slow part), so no test's own time includes it."""
    walk()


@pytest.fixture
def trail(tmp_path: Path) -> AuditTrail:
    trail = AuditTrail(tmp_path / "signoff.db")
    register_analysis(
        trail, analysis_id=AN, source_sha256=walk().started.source.sha256, source_name="p.csv"
    )
    return trail


def answer(verdict: str, **fields) -> dict:
    return {"verdict": verdict, "reviewer": "Ada", "notes": "", **fields}


def records() -> dict[str, Record]:
    """The record each gate is settled on, as the notebook hands it over."""
    w = walk()
    return {
        "data_quality": w.started,
        "analysis_validation": w.analysed,
        "model_approval": w.trained,
        "result_verification": w.complete,
        "export_authorization": w.complete,
    }


def through(trail: AuditTrail, last: str, verdict: str | None = "approve") -> list[Settled]:
    """Settle every gate up to and including `last` in order, answering each with
    `verdict` (None: no answer)."""
    settled: list[Settled] = []
    for gate in gate_ids()[: gate_ids().index(last) + 1]:
        settled.append(
            settle(
                trail,
                analysis_id=AN,
                gate=gate,
                record=records()[gate],
                answer=answer(verdict) if verdict else None,
                upstream=settled[-1].state if settled else None,
            )
        )
        assert settled[-1].refusal is None
    return settled


def assert_one_sentence(text: str | None) -> None:
    assert text and text.endswith(".") and "\n" not in text
    assert text.count(". ") == 0, text


def assert_refused_and_nothing_recorded(
    trail: AuditTrail, gate: str, bad: dict, upstream, expected: str
) -> Settled:
    """Settle `gate` with no answer, then with `bad`: the second is refused and changes
    nothing — no event of any kind, the same state, the same record in force."""
    record = records()[gate]
    before = settle(trail, analysis_id=AN, gate=gate, record=record, upstream=upstream)
    events = trail.events()
    after = settle(trail, analysis_id=AN, gate=gate, record=record, answer=bad, upstream=upstream)
    assert after.refusal == expected
    assert_one_sentence(after.refusal)
    assert trail.events() == events
    assert trail.events(kind="decision", gate=gate) == events_of(events, "decision", gate)
    assert (after.state, after.record) == (before.state, before.record)
    assert trail.verify().ok
    return after


def events_of(events, kind: str, gate: str) -> list:
    return [e for e in events if e.kind == kind and e.payload.get("gate") == gate]


# --- the two crashes of issue 12, now refusals --------------------------------------------


def test_a_gate_1_modify_dropping_every_column_is_refused_and_records_nothing(trail) -> None:
    columns = [c.name for c in walk().started.original.overview.columns]
    bad = answer("modify", drop_duplicates=True, drop_columns=columns)
    after = assert_refused_and_nothing_recorded(
        trail,
        "data_quality",
        bad,
        None,
        "The cleaning plan would drop every column; keep at least one.",
    )
    assert (after.state.status, after.state.decision) == ("pending", None)
    assert after.record.plan == CleaningPlan()
    assert trail.events(kind="decision") == []


def test_a_refused_gate_1_modify_leaves_an_approval_standing(trail) -> None:
    (approved,) = through(trail, "data_quality")
    columns = [c.name for c in walk().started.original.overview.columns]
    after = assert_refused_and_nothing_recorded(
        trail,
        "data_quality",
        answer("modify", drop_columns=columns),
        None,
        "The cleaning plan would drop every column; keep at least one.",
    )
    assert after.state == approved.state and after.state.open
    assert len(trail.events(kind="decision")) == 1


def test_a_gate_3_modify_leaving_out_every_feature_is_refused_and_records_nothing(trail) -> None:
    *_, gate2 = through(trail, "analysis_validation")
    features = list(walk().trained.model.features)
    after = assert_refused_and_nothing_recorded(
        trail,
        "model_approval",
        answer("modify", exclude=features),
        gate2.state,
        "Leave at least one feature in: every feature was left out.",
    )
    assert (after.state.status, after.state.open) == ("pending", False)
    assert after.record.model_choice is None
    assert [d.payload["gate"] for d in trail.events(kind="decision")] == [
        "data_quality",
        "analysis_validation",
    ]


@pytest.mark.parametrize(
    ("bad", "sentence"),
    [
        ({}, "Fill in the form."),
        ({"reviewer": "Ada"}, "Choose approve, reject or modify."),
        ({"verdict": None, "reviewer": "Ada"}, "Choose approve, reject or modify."),
        ({"verdict": "approve", "reviewer": " "}, "A decision needs the reviewer's name."),
        (
            {"verdict": "maybe", "reviewer": "Ada"},
            "Unknown verdict 'maybe': use approve, reject or modify.",
        ),
        (
            {"verdict": "modify", "reviewer": "Ada"},
            "A modify decision needs the modifications it makes.",
        ),
    ],
)
def test_an_incomplete_answer_is_refused_and_records_nothing(trail, bad, sentence) -> None:
    after = assert_refused_and_nothing_recorded(trail, "data_quality", bad, None, sentence)
    assert after.state.status == "pending"


def test_a_gate_1_modify_with_a_plan_binds_and_puts_the_plan_in_force(trail) -> None:
    plan = {"drop_rows_missing": ["sex"], "drop_duplicates": True}
    settled = settle(
        trail,
        analysis_id=AN,
        gate="data_quality",
        record=walk().started,
        answer=answer("modify", **plan),
    )
    assert settled.refusal is None
    assert (settled.state.status, settled.state.open) == ("modified", True)
    assert settled.record.plan == CleaningPlan.from_mapping(plan)
    cleaned = dataclasses.replace(walk().started, plan=settled.record.plan)
    assert settled.state.subject_sha256 == subject_chain_head(cleaned)
    assert settled.state.subject_sha256 != subject_chain_head(walk().started)
    again = settle(trail, analysis_id=AN, gate="data_quality", record=walk().started)
    assert (again.state, again.record) == (settled.state, settled.record)


def subject_chain_head(record: Record) -> str:
    from review.gates import subject_of

    return subject_of("data_quality", record, None)


# --- a gate waits for the one before it (issue 20, item 4) --------------------------------


def test_decide_answer_refuses_a_gate_whose_upstream_is_not_open(trail) -> None:
    (gate1,) = through(trail, "data_quality", verdict=None)
    events = trail.events()
    with pytest.raises(GateError) as error:
        decide_answer(
            trail,
            analysis_id=AN,
            gate="analysis_validation",
            record=walk().analysed,
            answer=answer("approve"),
            upstream=gate1.state,
        )
    assert str(error.value) == (
        "Analysis validation waits for data quality sign-off; decide that first."
    )
    assert trail.events() == events


def test_a_gate_behind_a_rejected_one_refuses_naming_the_gate_that_blocks(trail) -> None:
    through(trail, "analysis_validation")
    gate1 = settle(
        trail,
        analysis_id=AN,
        gate="data_quality",
        record=walk().started,
        answer=answer("reject"),
    )
    gate2 = settle(
        trail,
        analysis_id=AN,
        gate="analysis_validation",
        record=walk().analysed,
        upstream=gate1.state,
    )
    assert (gate2.state.status, gate2.state.open) == ("approved", False)
    events = trail.events()
    refused = settle(
        trail,
        analysis_id=AN,
        gate="model_approval",
        record=walk().trained,
        answer=answer("approve"),
        upstream=gate2.state,
    )
    assert refused.refusal == "Model approval waits for data quality sign-off; decide that first."
    assert trail.events() == events
    assert refused.state.blocked_by == "data_quality" and not refused.state.open


def test_decide_answer_refuses_a_later_gate_without_its_upstream_state(trail) -> None:
    """No state of the gate before to check is no sign-off to build on: refused, not
    recorded (and the subject would fold in the wrong upstream subject)."""
    through(trail, "data_quality", verdict=None)
    events = trail.events()
    with pytest.raises(GateError, match="waits for data quality sign-off"):
        decide_answer(
            trail,
            analysis_id=AN,
            gate="analysis_validation",
            record=walk().analysed,
            answer=answer("approve"),
            upstream=None,
        )
    assert trail.events() == events
    (gate1,) = through(trail, "data_quality")
    assert gate1.state.open
    events = trail.events()
    with pytest.raises(GateError, match="waits for analysis validation sign-off"):
        decide_answer(
            trail,
            analysis_id=AN,
            gate="model_approval",
            record=walk().trained,
            answer=answer("approve"),
            upstream=gate1.state,  # gate 1's state, not gate 2's
        )
    assert trail.events() == events


# --- gate 5 ---------------------------------------------------------------------------------


def test_gate_5_offers_no_modify_and_refuses_one_in_a_sentence(trail) -> None:
    spec = gate_by_id("export_authorization")
    assert spec.controls(walk().complete) == ()
    assert "modify" not in gate_form(spec, walk().complete).text
    assert "modify" in gate_form(gate_by_id("data_quality"), walk().started).text
    *_, gate4 = through(trail, "result_verification")
    after = assert_refused_and_nothing_recorded(
        trail,
        "export_authorization",
        answer("modify", notes="send only the CSV"),
        gate4.state,
        "This gate has nothing to modify: approve or reject it.",
    )
    assert (after.state.status, after.state.open) == ("pending", False)
    approved = settle(
        trail,
        analysis_id=AN,
        gate="export_authorization",
        record=gate4.record,
        answer=answer("approve"),
        upstream=gate4.state,
    )
    assert (approved.refusal, approved.state.status, approved.state.open) == (
        None,
        "approved",
        True,
    )


# --- the queue and the trail as gates settle -----------------------------------------------


def test_settling_every_gate_agrees_with_the_trail_and_makes_the_report_final(trail) -> None:
    settled = through(trail, "export_authorization")
    record = settled[-1].record
    states = [s.state for s in settled]
    assert states == gate_states(trail, analysis_id=AN, record=record)
    assert [s.subject_sha256 for s in states] == list(subject_chain(record).values())
    final = report(record, states)
    assert (final.status, final.status_reason) == ("final", "Export authorization is approved.")
    assert open_requests(trail) == []
    assert trail.verify().ok


def test_a_waiting_gate_has_one_open_request_and_its_decision_closes_it(trail) -> None:
    for _ in range(3):
        through(trail, "export_authorization", verdict=None)
    (waiting,) = open_requests(trail)  # gates behind a pending one do not fill the queue
    assert (waiting.gate, waiting.type, waiting.priority) == ("data_quality", "approval", 3)
    (gate1,) = through(trail, "data_quality")
    settle(
        trail,
        analysis_id=AN,
        gate="analysis_validation",
        record=walk().analysed,
        upstream=gate1.state,
    )
    (next_up,) = open_requests(trail)
    assert (next_up.gate, next_up.type) == ("analysis_validation", "validation")
    closed = [
        e.payload
        for e in trail.events(kind="request")
        if e.payload["action"] == "closed" and e.payload["request_id"] == waiting.id
    ]
    assert [c["resolution"] for c in closed] == ["approve"]


def test_a_changed_threshold_stales_gate_2_once_and_asks_again(trail) -> None:
    *_, gate2 = through(trail, "analysis_validation")
    gate1 = settle(trail, analysis_id=AN, gate="data_quality", record=walk().started)
    changed = at_threshold(0.5)
    for _ in range(2):
        stale = settle(
            trail,
            analysis_id=AN,
            gate="analysis_validation",
            record=changed,
            upstream=gate1.state,
        )
    assert (stale.state.status, stale.state.open) == ("stale", False)
    assert stale.state.stale_subject_sha256 == gate2.state.subject_sha256
    (event,) = trail.events(kind="stale")
    assert event.payload["gate"] == "analysis_validation"
    assert event.payload["subject_sha256"] == stale.state.subject_sha256
    (asked,) = open_requests(trail)
    assert (asked.gate, asked.subject_sha256, asked.priority) == (
        "analysis_validation",
        stale.state.subject_sha256,
        2,
    )


def test_a_run_nobody_reviews_files_no_requests(trail) -> None:
    gate1 = settle(
        trail,
        analysis_id=AN,
        gate="data_quality",
        record=walk().started,
        file_requests=False,
    )
    assert gate1.state.status == "pending"
    assert open_requests(trail) == [] and trail.events(kind="request") == []


def test_reviewers_notes_become_step_4_feedback(trail) -> None:
    settled = through(trail, "data_quality", verdict=None)
    noted = settle(
        trail,
        analysis_id=AN,
        gate="data_quality",
        record=walk().started,
        answer={**answer("approve"), "notes": "  Body mass is in grams. "},
    )
    assert notes_feedback([noted.state]) == ("Data quality gate: Body mass is in grams.",)
    assert notes_feedback([s.state for s in settled]) == ()


def test_a_signed_in_reviewer_is_recorded_and_may_not_check_their_own_export(
    tmp_path: Path,
) -> None:
    """With a server that knows people, the decision is recorded under the signed-in name
    (not the typed one); the owner's own export authorisation is refused, unrecorded, and
    another person's, invited by the open request, stands."""
    trail = AuditTrail(tmp_path / "people.db")
    sha = walk().started.source.sha256
    register_analysis(trail, analysis_id=AN, source_sha256=sha, source_name="p.csv", owner="ada")
    people = IdentitySettings(users_file=tmp_path / "users.toml", maker_checker=True)
    ada = Signing(Identity("ada", "token"), people)
    settled: list[Settled] = []
    for gate in gate_ids()[:-1]:
        typed = {**answer("approve"), "reviewer": "Mallory"}
        upstream = settled[-1].state if settled else None
        settled.append(
            settle(
                trail,
                analysis_id=AN,
                gate=gate,
                record=records()[gate],
                answer=typed,
                upstream=upstream,
                signing=ada,
            )
        )
        assert settled[-1].refusal is None
    assert {e.actor for e in trail.events(kind="decision")} == {"ada"}
    own = settle(
        trail,
        analysis_id=AN,
        gate="export_authorization",
        record=records()["export_authorization"],
        answer=answer("approve"),
        upstream=settled[-1].state,
        signing=ada,
    )
    assert own.refusal is not None and "maker-checker" in own.refusal
    assert trail.events(kind="decision", gate="export_authorization") == []
    grace = Signing(Identity("grace", "token"), people)
    checked = settle(
        trail,
        analysis_id=AN,
        gate="export_authorization",
        record=records()["export_authorization"],
        answer=answer("approve"),
        upstream=settled[-1].state,
        signing=grace,
    )
    # The open request for gate 5 invites any other reviewer: the checker.
    assert checked.refusal is None and checked.state.status == "approved"
    (decision,) = trail.events(kind="decision", gate="export_authorization")
    assert decision.actor == "grace"


def test_a_gate_form_shows_the_signed_in_reviewer_fixed() -> None:
    form = gate_form(gate_by_id("data_quality"), records()["data_quality"], "ada")
    assert form.element.value["reviewer"] == "ada"
