"""Gates and decisions on a real SQLite trail: approvals bind to one exact subject."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import random
from pathlib import Path

import pytest

from review.audit import AuditTrail
from review.gates import (
    GATE_IDS,
    GATES,
    GateError,
    decide,
    decisions,
    gate_state,
    gate_states,
    record_stale,
    subject_chain,
    subject_hash,
)


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
    assert GATE_IDS == (
        "data_quality",
        "analysis_validation",
        "model_approval",
        "result_verification",
        "export_authorization",
    )
    assert [gate.order for gate in GATES] == [1, 2, 3, 4, 5]
    assert all(gate.title and gate.guards for gate in GATES)


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


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reviewer": ""}, "reviewer's name"),
        ({"reviewer": "   "}, "reviewer's name"),
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
        for other_gate in GATE_IDS[1:]:
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


def pipeline_parts(threshold: float, target: str | None = "price") -> dict:
    return {
        "data_quality": {"data_sha256": A, "plan": {"drop_duplicates": True}},
        "analysis_validation": {"threshold": threshold, "method": "iqr", "digest": "s1"},
        "model_approval": {"target": target, "digest": "m1"} if target else None,
        "result_verification": {"digest": "r1"},
        "export_authorization": {"formats": ["json", "html"]},
    }


def approve_all(trail: AuditTrail, subjects: dict[str, str | None]) -> None:
    for gate_id, subject in subjects.items():
        if subject is not None:
            approve(trail, subject, gate=gate_id)


def test_subject_chain_folds_upstream_into_downstream() -> None:
    base = subject_chain(pipeline_parts(0.05))
    changed = subject_chain(pipeline_parts(0.01))
    assert base["data_quality"] == changed["data_quality"]
    assert all(base[g] != changed[g] for g in GATE_IDS[1:])
    no_model = subject_chain(pipeline_parts(0.05, target=None))
    assert no_model["model_approval"] is None
    assert no_model["result_verification"] != base["result_verification"]
    with pytest.raises(GateError, match="Unknown gate"):
        subject_chain({"nope": {}})
    with pytest.raises(GateError, match="may not be named"):
        subject_chain({"data_quality": {"gate": "x"}})


def test_changing_the_threshold_after_approval_makes_gates_2_to_5_stale(trail: AuditTrail) -> None:
    before = subject_chain(pipeline_parts(0.05))
    approve_all(trail, before)
    states = gate_states(trail, analysis_id="an1", subjects=before)
    assert all(state.status == "approved" and state.open for state in states.values())

    after = subject_chain(pipeline_parts(0.01))
    states = gate_states(trail, analysis_id="an1", subjects=after)
    assert states["data_quality"].status == "approved"
    for gate_id in GATE_IDS[1:]:
        assert states[gate_id].status == "stale"
        assert states[gate_id].stale_subject_sha256 == before[gate_id]
        assert not states[gate_id].open


def test_downstream_waits_for_upstream(trail: AuditTrail) -> None:
    subjects = subject_chain(pipeline_parts(0.05))
    approve(trail, subjects["analysis_validation"], gate="analysis_validation")
    states = gate_states(trail, analysis_id="an1", subjects=subjects)
    assert states["data_quality"].status == "pending"
    assert states["analysis_validation"].status == "approved"
    assert not states["analysis_validation"].open
    assert states["analysis_validation"].blocked_by == "data_quality"
    assert "data quality" in states["analysis_validation"].message


def test_a_reject_upstream_closes_everything_downstream(trail: AuditTrail) -> None:
    subjects = subject_chain(pipeline_parts(0.05, target=None))
    approve_all(trail, subjects)
    decide(
        trail,
        analysis_id="an1",
        gate="data_quality",
        subject_sha256=subjects["data_quality"],
        verdict="reject",
        reviewer="Bo",
    )
    states = gate_states(trail, analysis_id="an1", subjects=subjects)
    assert states["data_quality"].status == "rejected"
    assert states["model_approval"].status == "not_applicable"
    assert not any(state.open for gate, state in states.items() if gate != "model_approval")
    assert {state.blocked_by for g, state in states.items() if g != "data_quality"} == {
        "data_quality"
    }


def test_record_stale_writes_each_change_once(trail: AuditTrail) -> None:
    before = subject_chain(pipeline_parts(0.05))
    approve_all(trail, before)
    states = gate_states(trail, analysis_id="an1", subjects=subject_chain(pipeline_parts(0.01)))
    first = record_stale(trail, analysis_id="an1", states=states)
    assert [e.payload["gate"] for e in first] == list(GATE_IDS[1:])
    assert all(e.kind == "stale" for e in first)
    assert record_stale(trail, analysis_id="an1", states=states) == []
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
    assert {"status", "reviewer", "decided_at", "subject_sha256", "notes"} <= set(entry)
    assert (entry["status"], entry["reviewer"], entry["subject_sha256"]) == ("approved", "Ada", A)
    json.dumps(entry)


def decide_from_process(path: str, writer: int, count: int, barrier) -> None:
    trail = AuditTrail(path)
    barrier.wait()
    for i in range(count):
        decide(
            trail,
            analysis_id=f"an{writer}",
            gate=GATE_IDS[i % 5],
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
