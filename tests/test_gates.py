"""Gates and decisions on a real SQLite trail: approvals bind to one exact subject."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import random
from pathlib import Path

import pytest
from review_walk import at_threshold, walk, without_model

from review.audit import AuditTrail
from review.decisions import decide
from review.gates import (
    GATES,
    decisions,
    gate_by_id,
    gate_ids,
    gate_state,
    gate_states,
    next_subject,
    order_of,
    record_stale,
    request_type,
    subject_chain,
    subject_hash,
    subject_of,
    undecided_states,
    upstream_of,
)
from steps.errors import GateError

FIVE = (
    "data_quality",
    "analysis_validation",
    "model_approval",
    "result_verification",
    "export_authorization",
)


@pytest.fixture(scope="module", autouse=True)
def _walked() -> None:
    """Walk the sample through the stages before the first test (once per session; the
    baselines' training is the slow part), so no test's own time includes it."""
    walk()


@pytest.fixture
def trail(tmp_path: Path) -> AuditTrail:
    return AuditTrail(tmp_path / "signoff.db")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


A, B = sha("file A"), sha("file B")


def approve(trail: AuditTrail, subject: str, gate: str = "data_quality", analysis: str = "an1"):
    return decide(
        trail,
        analysis_id=analysis,
        gate=gate,
        subject_sha256=subject,
        verdict="approve",
        reviewer="Ada",
    )


def reject(trail: AuditTrail, subject: str, gate: str = "data_quality", analysis: str = "an1"):
    return decide(
        trail,
        analysis_id=analysis,
        gate=gate,
        subject_sha256=subject,
        verdict="reject",
        reviewer="Bo",
    )


def test_five_gates_in_order() -> None:
    assert gate_ids() == FIVE
    assert [order_of(gate) for gate in gate_ids()] == [1, 2, 3, 4, 5]
    assert [upstream_of(gate) for gate in gate_ids()] == [None, *FIVE[:-1]]
    assert all(spec.title and spec.guards for spec in GATES)
    assert gate_by_id("model_approval").title == "Model approval"
    with pytest.raises(GateError, match="Unknown gate 'vibes_check'"):
        gate_by_id("vibes_check")


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
def test_the_queue_asks_for_a_correction_after_a_reject(gate, status, kind) -> None:
    assert request_type(gate, status) == kind


def test_subject_hash_is_sha256_of_canonical_json() -> None:
    parts = {"data_sha256": A, "threshold": 0.05, "plan": {"drop": ["b", "a"]}}
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    assert subject_hash(**parts) == hashlib.sha256(text.encode()).hexdigest()
    assert subject_hash(threshold=0.05, data_sha256=A, plan={"drop": ["b", "a"]}) == subject_hash(
        **parts
    )
    assert subject_hash(**{**parts, "threshold": 0.01}) != subject_hash(**parts)
    assert subject_hash(x=math.nan) == subject_hash(x=None)


def test_subject_hash_needs_parts() -> None:
    with pytest.raises(GateError, match="at least one part"):
        subject_hash()


def test_approval_binds_to_its_subject(trail: AuditTrail) -> None:
    decision = approve(trail, A)
    state = gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=A)
    assert (state.status, state.open, state.stale) == ("approved", True, False)
    assert state.decision == decision
    assert decision.subject_sha256 == A and decision.reviewer == "Ada"


def test_another_subject_makes_the_approval_stale(trail: AuditTrail) -> None:
    approve(trail, A)
    state = gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=B)
    assert (state.status, state.open, state.stale) == ("stale", False, True)
    assert state.stale_subject_sha256 == A
    assert state.subject_sha256 == B
    assert "stale" in state.message and "re-approval" in state.message


def test_no_decision_is_pending(trail: AuditTrail) -> None:
    state = gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=A)
    assert (state.status, state.open, state.decision) == ("pending", False, None)


def test_reject_blocks(trail: AuditTrail) -> None:
    decide(
        trail,
        analysis_id="an1",
        gate="data_quality",
        subject_sha256=A,
        verdict="reject",
        reviewer="Ada",
        notes="too many duplicates",
    )
    state = gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=A)
    assert (state.status, state.open) == ("rejected", False)
    assert state.decision.notes == "too many duplicates"


def test_latest_decision_for_the_subject_wins(trail: AuditTrail) -> None:
    approve(trail, A)
    reject(trail, A)
    state = gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=A)
    assert (state.status, state.open, state.decision.reviewer) == ("rejected", False, "Bo")


def test_returning_to_an_approved_subject_reopens_with_its_own_approval(trail: AuditTrail) -> None:
    approve(trail, A)
    reject(trail, B)
    back = gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=A)
    assert (back.status, back.open, back.decision.reviewer) == ("approved", True, "Ada")


def test_modify_carries_modifications_and_opens(trail: AuditTrail) -> None:
    plan = {"drop_duplicates": True, "drop_columns": ["junk"]}
    decision = decide(
        trail,
        analysis_id="an1",
        gate="data_quality",
        subject_sha256=A,
        verdict="modify",
        reviewer="Ada",
        modifications=plan,
    )
    state = gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=A)
    assert (state.status, state.open) == ("modified", True)
    assert decision.modifications == plan == state.decision.modifications


def test_details_annotate_any_verdict(trail: AuditTrail) -> None:
    reviews = {"items": {"a1": "reject"}, "edits": {}}
    decision = decide(
        trail,
        analysis_id="an1",
        gate="result_verification",
        subject_sha256=A,
        verdict="approve",
        reviewer="Ada",
        details=reviews,
    )
    assert (decision.details, decision.modifications) == (reviews, {})
    assert decisions(trail, analysis_id="an1") == [decision]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reviewer": ""}, "reviewer's name"),
        ({"reviewer": "   "}, "reviewer's name"),
        ({"reviewer": "x" * 201}, "at most 200 characters"),
        ({"gate": "vibes_check"}, "Unknown gate"),
        ({"verdict": "maybe"}, "Unknown verdict"),
        ({"subject_sha256": "abc"}, "64 hexadecimal"),
        ({"verdict": "modify"}, "needs the modifications"),
        ({"modifications": {"x": 1}}, "go with a modify"),
        ({"analysis_id": ""}, "analysis"),
    ],
)
def test_invalid_decisions_are_refused_and_not_recorded(
    trail: AuditTrail, changes: dict, message: str
) -> None:
    arguments = {
        "analysis_id": "an1",
        "gate": "data_quality",
        "subject_sha256": A,
        "verdict": "approve",
        "reviewer": "Ada",
        **changes,
    }
    with pytest.raises(GateError, match=message) as error:
        decide(trail, **arguments)
    sentence = str(error.value)
    assert sentence.endswith(".") and "\n" not in sentence
    assert trail.events() == []


def test_an_approval_never_opens_another_subject_gate_or_analysis(trail: AuditTrail) -> None:
    rng = random.Random(7)
    subjects = [sha(f"subject {i}") for i in range(30)]
    approved = set(rng.sample(subjects, 10))
    for subject in approved:
        approve(trail, subject)
    for subject in subjects:
        state = gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=subject)
        assert state.open == (subject in approved)
        for other_gate in gate_ids()[1:]:
            assert not gate_state(
                trail, analysis_id="an1", gate=other_gate, subject_sha256=subject
            ).open
        assert not gate_state(
            trail, analysis_id="an2", gate="data_quality", subject_sha256=subject
        ).open


def test_subject_case_does_not_matter_but_content_does(trail: AuditTrail) -> None:
    approve(trail, A.upper())
    assert gate_state(trail, analysis_id="an1", gate="data_quality", subject_sha256=A).open
    tweaked = A[:-1] + ("0" if A[-1] != "0" else "1")
    assert not gate_state(
        trail, analysis_id="an1", gate="data_quality", subject_sha256=tweaked
    ).open


def test_not_applicable_gate_is_open(trail: AuditTrail) -> None:
    state = gate_state(trail, analysis_id="an1", gate="model_approval", subject_sha256=None)
    assert (state.status, state.open) == ("not_applicable", True)


def approve_all(trail: AuditTrail, subjects: dict[str, str | None]) -> None:
    for gate_id, subject in subjects.items():
        if subject is not None:
            approve(trail, subject, gate=gate_id)


def by_gate(states) -> dict:
    assert [state.gate for state in states] == list(gate_ids())
    return {state.gate: state for state in states}


def test_each_subject_folds_its_parts_onto_the_one_before() -> None:
    record = walk().complete
    chain = subject_chain(record)
    upstream = None
    for spec in GATES:
        assert chain[spec.id] == next_subject(upstream, spec.id, spec.subject(record))
        assert chain[spec.id] == subject_of(spec.id, record, upstream)
        upstream = chain[spec.id]
    assert len(set(chain.values())) == len(GATES)


def test_subject_chain_folds_upstream_into_downstream() -> None:
    base = subject_chain(walk().complete)
    changed = subject_chain(at_threshold(0.5))
    assert base["data_quality"] == changed["data_quality"]
    assert all(base[g] != changed[g] for g in gate_ids()[1:])
    # The earlier stages do not move gate 1's subject: it is the bytes and the plan.
    assert subject_of("data_quality", walk().started, None) == base["data_quality"]
    record = without_model()
    no_model = subject_chain(record)
    assert no_model["model_approval"] is None
    assert no_model["result_verification"] == next_subject(
        no_model["analysis_validation"],
        "result_verification",
        gate_by_id("result_verification").subject(record),
    )
    assert no_model["result_verification"] != base["result_verification"]
    with pytest.raises(GateError, match="Unknown gate"):
        subject_of("nope", record, None)
    with pytest.raises(GateError, match="may not be named"):
        next_subject(None, "data_quality", {"gate": "x"})


def test_changing_the_threshold_after_approval_makes_gates_2_to_5_stale(trail: AuditTrail) -> None:
    before = subject_chain(walk().complete)
    approve_all(trail, before)
    states = gate_states(trail, analysis_id="an1", record=walk().complete)
    assert all(state.status == "approved" and state.open for state in states)

    after = by_gate(gate_states(trail, analysis_id="an1", record=at_threshold(0.5)))
    assert after["data_quality"].status == "approved"
    for gate_id in gate_ids()[1:]:
        assert after[gate_id].status == "stale"
        assert after[gate_id].stale_subject_sha256 == before[gate_id]
        assert not after[gate_id].open


def test_downstream_waits_for_upstream(trail: AuditTrail) -> None:
    subjects = subject_chain(walk().complete)
    approve(trail, subjects["analysis_validation"], gate="analysis_validation")
    states = by_gate(gate_states(trail, analysis_id="an1", record=walk().complete))
    assert states["data_quality"].status == "pending"
    assert states["analysis_validation"].status == "approved"
    assert not states["analysis_validation"].open
    assert states["analysis_validation"].blocked_by == "data_quality"
    assert "data quality" in states["analysis_validation"].message


def test_a_reject_upstream_closes_everything_downstream(trail: AuditTrail) -> None:
    record = without_model()
    subjects = subject_chain(record)
    approve_all(trail, subjects)
    reject(trail, subjects["data_quality"])
    states = by_gate(gate_states(trail, analysis_id="an1", record=record))
    assert states["data_quality"].status == "rejected"
    assert states["model_approval"].status == "not_applicable"
    assert not any(state.open for state in states.values())
    assert {state.blocked_by for g, state in states.items() if g != "data_quality"} == {
        "data_quality"
    }


def test_a_gate_that_does_not_apply_passes_its_upstream_subject_on(trail: AuditTrail) -> None:
    states = by_gate(gate_states(trail, analysis_id="an1", record=without_model()))
    model = states["model_approval"]
    assert (model.subject_sha256, model.status) == (None, "not_applicable")
    assert model.chain_sha256 == states["analysis_validation"].subject_sha256
    assert all(s.chain_sha256 == s.subject_sha256 for g, s in states.items() if s is not model)


def test_a_run_nobody_reviews_is_pending_from_gate_1_on() -> None:
    states = by_gate(undecided_states(walk().complete))
    assert [s.status for s in states.values()] == ["pending"] * 5
    assert not any(s.open for s in states.values())
    assert states["data_quality"].blocked_by is None
    assert {s.blocked_by for g, s in states.items() if g != "data_quality"} == {"data_quality"}
    assert [s.subject_sha256 for s in states.values()] == list(
        subject_chain(walk().complete).values()
    )
    assert by_gate(undecided_states(without_model()))["model_approval"].status == "not_applicable"


def test_record_stale_writes_each_change_once(trail: AuditTrail) -> None:
    before = subject_chain(walk().complete)
    approve_all(trail, before)
    states = gate_states(trail, analysis_id="an1", record=at_threshold(0.5))
    first = [record_stale(trail, analysis_id="an1", state=state) for state in states]
    assert first[0] is None  # gate 1 still applies: nothing to record
    assert [e.payload["gate"] for e in first[1:]] == list(gate_ids()[1:])
    assert all(e.kind == "stale" for e in first[1:])
    for event, state in zip(first[1:], states[1:], strict=True):
        assert event.payload["decided_subject_sha256"] == before[state.gate]
        assert event.payload["subject_sha256"] == state.subject_sha256
        assert event.payload["decision_event_id"] == state.decision.event_id
    assert [record_stale(trail, analysis_id="an1", state=state) for state in states] == [None] * 5
    assert len(trail.events(kind="stale")) == 4
    assert trail.verify().ok


def stale_from_process(path: str, state, barrier, made) -> None:
    trail = AuditTrail(path)
    barrier.wait()
    made.put(sum(record_stale(trail, analysis_id="an1", state=state) is not None for _ in range(5)))


def test_sessions_noticing_the_same_stale_approval_at_once_record_it_once(
    trail: AuditTrail,
) -> None:
    approve_all(trail, subject_chain(walk().complete))
    state = by_gate(gate_states(trail, analysis_id="an1", record=at_threshold(0.5)))[
        "analysis_validation"
    ]
    context = multiprocessing.get_context("fork")
    barrier, made = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=stale_from_process, args=(str(trail.path), state, barrier, made))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    written = [made.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert sum(written) == 1
    assert len(trail.events(kind="stale")) == 1
    assert trail.verify().ok


def test_decisions_are_audit_events(trail: AuditTrail) -> None:
    decision = approve(trail, A)
    (event,) = trail.events(kind="decision")
    assert event.actor == "Ada" and event.analysis_id == "an1"
    assert event.payload["subject_sha256"] == A and event.payload["verdict"] == "approve"
    assert decisions(trail, analysis_id="an1") == [decision]
    assert json.loads(json.dumps(decision.to_dict()))["decided_at"] == event.at


def test_report_entry_has_the_report_keys(trail: AuditTrail) -> None:
    approve(trail, A)
    entry = gate_state(
        trail, analysis_id="an1", gate="data_quality", subject_sha256=A
    ).report_entry()
    shown = entry.to_dict()
    assert {"title", "status", "open", "message", "reviewer", "decided_at"} <= set(shown)
    assert {"subject_sha256", "decided_subject_sha256", "notes", "blocked_by"} <= set(shown)
    assert (entry.id, entry.title, entry.status, entry.open) == (
        "data_quality",
        "Data quality",
        "approved",
        True,
    )
    assert (entry.reviewer, entry.subject_sha256, entry.decided_subject_sha256) == ("Ada", A, A)
    json.dumps(shown)
    pending = gate_state(trail, analysis_id="an1", gate="model_approval", subject_sha256=B)
    assert (pending.report_entry().status, pending.report_entry().reviewer) == ("pending", None)


def decide_from_process(path: str, writer: int, count: int, barrier) -> None:
    trail = AuditTrail(path)
    barrier.wait()
    for i in range(count):
        decide(
            trail,
            analysis_id=f"an{writer}",
            gate=FIVE[i % 5],
            subject_sha256=sha(f"{writer}-{i}"),
            verdict="approve",
            reviewer=f"reviewer {writer}",
        )


def test_two_processes_deciding_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=decide_from_process, args=(str(path), n, 60, barrier))
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    trail = AuditTrail(path)
    assert trail.verify().ok
    for writer in range(2):
        made = decisions(trail, analysis_id=f"an{writer}")
        assert [d.subject_sha256 for d in made] == [sha(f"{writer}-{i}") for i in range(60)]
