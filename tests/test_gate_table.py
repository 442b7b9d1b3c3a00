"""Gates are data: a sixth gate added to `review.gates.GATES` in a fixture is ordered,
bound, staled and reported with no other code change (issue 12, deliverable 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_walk import at_threshold, walk

import review.gates
from flow.gates import settle
from flow.report import report
from flow.views import gate_form
from review.analyses import register_analysis
from review.audit import AuditTrail
from review.decisions import decide
from review.gates import (
    GateSpec,
    gate_by_id,
    gate_ids,
    gate_states,
    next_subject,
    order_of,
    record_stale,
    request_type,
    subject_chain,
    upstream_of,
)
from review.requests import open_requests
from steps.record import Record

AN = "an1"
SIXTH = GateSpec(
    id="threshold_check",
    title="Threshold check",
    guards="the correlation threshold findings are cut at",
    request_type="validation",
    subject=lambda record: {"threshold": record.analysed.parameters.threshold},
)
SIX = (
    "data_quality",
    "analysis_validation",
    "threshold_check",
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
def six_gates(monkeypatch: pytest.MonkeyPatch) -> tuple[GateSpec, ...]:
    """The table with the sixth gate just after analysis validation; nothing else changes."""
    gates = list(review.gates.GATES)
    gates.insert(gates.index(gate_by_id("analysis_validation")) + 1, SIXTH)
    monkeypatch.setattr(review.gates, "GATES", tuple(gates))
    return tuple(gates)


@pytest.fixture
def trail(tmp_path: Path) -> AuditTrail:
    trail = AuditTrail(tmp_path / "signoff.db")
    register_analysis(
        trail, analysis_id=AN, source_sha256=walk().started.source.sha256, source_name="p.csv"
    )
    return trail


def approve(trail: AuditTrail, gate: str, subject: str):
    return decide(
        trail, analysis_id=AN, gate=gate, subject_sha256=subject, verdict="approve", reviewer="Ada"
    )


def approve_all(trail: AuditTrail, record: Record) -> dict[str, str | None]:
    subjects = subject_chain(record)
    for gate, subject in subjects.items():
        if subject is not None:
            approve(trail, gate, subject)
    return subjects


def by_gate(states) -> dict:
    assert [s.gate for s in states] == list(gate_ids())
    return {s.gate: s for s in states}


def test_the_sixth_gate_is_ordered(six_gates) -> None:
    assert gate_ids() == SIX
    assert [order_of(g) for g in SIX] == [1, 2, 3, 4, 5, 6]
    assert upstream_of("threshold_check") == "analysis_validation"
    assert upstream_of("model_approval") == "threshold_check"
    assert gate_by_id("threshold_check") is SIXTH
    assert request_type("threshold_check", "pending") == "validation"
    assert request_type("threshold_check", "rejected") == "correction"
    # The notebook's form is built from the spec: numbered in flow order, approve or reject.
    form = gate_form(SIXTH, walk().analysed).text
    assert "Gate 3 · Threshold check" in form and "modify" not in form
    assert "Gate 4 · Model approval" in gate_form(gate_by_id("model_approval"), walk().trained).text


def test_the_table_is_five_gates_again_outside_the_fixture() -> None:
    assert len(gate_ids()) == 5 and "threshold_check" not in gate_ids()


def test_the_sixth_gate_is_bound_and_folded_into_every_later_gate(monkeypatch) -> None:
    record = walk().complete
    five = subject_chain(record)
    gates = list(review.gates.GATES)
    gates.insert(2, SIXTH)
    monkeypatch.setattr(review.gates, "GATES", tuple(gates))
    six = subject_chain(record)

    assert list(six) == list(SIX)
    assert six["threshold_check"] == next_subject(
        six["analysis_validation"], "threshold_check", {"threshold": 0.7}
    )
    # The gates before it are unchanged; every gate after it folds its subject in.
    assert (six["data_quality"], six["analysis_validation"]) == (
        five["data_quality"],
        five["analysis_validation"],
    )
    assert six["model_approval"] == next_subject(
        six["threshold_check"], "model_approval", record.model.subject_parts()
    )
    for gate in SIX[3:]:
        assert six[gate] != five[gate]


def test_an_approval_opens_the_sixth_gate_only_for_its_subject(six_gates, trail) -> None:
    gate1 = settle(
        trail,
        analysis_id=AN,
        gate="data_quality",
        record=walk().started,
        answer={"verdict": "approve", "reviewer": "Ada"},
    )
    gate2 = settle(
        trail,
        analysis_id=AN,
        gate="analysis_validation",
        record=walk().analysed,
        answer={"verdict": "approve", "reviewer": "Ada"},
        upstream=gate1.state,
    )
    waiting = settle(
        trail,
        analysis_id=AN,
        gate="threshold_check",
        record=walk().analysed,
        upstream=gate2.state,
    )
    assert (waiting.state.status, waiting.state.open) == ("pending", False)
    (asked,) = open_requests(trail)
    assert (asked.gate, asked.type, asked.subject_sha256) == (
        "threshold_check",
        "validation",
        subject_chain(walk().complete)["threshold_check"],
    )

    # An approval of another threshold's subject does not open it.
    approve(trail, "threshold_check", subject_chain(at_threshold(0.5))["threshold_check"])
    other = settle(
        trail,
        analysis_id=AN,
        gate="threshold_check",
        record=walk().analysed,
        upstream=gate2.state,
    )
    assert not other.state.open and other.state.status == "stale"

    approved = settle(
        trail,
        analysis_id=AN,
        gate="threshold_check",
        record=walk().analysed,
        answer={"verdict": "approve", "reviewer": "Grace"},
        upstream=gate2.state,
    )
    assert (approved.refusal, approved.state.status, approved.state.open) == (
        None,
        "approved",
        True,
    )
    assert approved.state.decision.reviewer == "Grace"
    assert open_requests(trail) == []  # its decision closed its request

    # The gate after it now waits on its own reviewer, not on the sixth gate.
    model = settle(
        trail,
        analysis_id=AN,
        gate="model_approval",
        record=walk().trained,
        upstream=approved.state,
    )
    assert (model.state.status, model.state.blocked_by) == ("pending", None)
    assert model.state.subject_sha256 == subject_chain(walk().complete)["model_approval"]


def test_a_changed_threshold_stales_the_sixth_gate_and_every_later_one(six_gates, trail) -> None:
    before = approve_all(trail, walk().complete)
    assert all(s.open for s in gate_states(trail, analysis_id=AN, record=walk().complete))

    after = by_gate(gate_states(trail, analysis_id=AN, record=at_threshold(0.5)))
    assert after["data_quality"].status == "approved"
    for gate in SIX[1:]:
        assert (after[gate].status, after[gate].open) == ("stale", False)
        assert after[gate].stale_subject_sha256 == before[gate]

    event = record_stale(trail, analysis_id=AN, state=after["threshold_check"])
    assert event is not None and event.kind == "stale"
    assert event.payload == {
        "gate": "threshold_check",
        "decision_event_id": after["threshold_check"].decision.event_id,
        "decided_subject_sha256": before["threshold_check"],
        "subject_sha256": after["threshold_check"].subject_sha256,
    }
    assert record_stale(trail, analysis_id=AN, state=after["threshold_check"]) is None
    assert len(trail.events(kind="stale", gate="threshold_check")) == 1
    assert trail.verify().ok


def test_the_sixth_gate_is_reported_in_order_and_named_while_it_waits(six_gates, trail) -> None:
    record = walk().complete
    subjects = subject_chain(record)
    approve(trail, "data_quality", subjects["data_quality"])
    approve(trail, "analysis_validation", subjects["analysis_validation"])

    draft = report(record, gate_states(trail, analysis_id=AN, record=record))
    assert [g.id for g in draft.gates] == list(SIX)
    assert list(draft.to_dict()["gates"]) == list(SIX)
    entry = draft.gate("threshold_check")
    assert (entry.title, entry.status, entry.open) == ("Threshold check", "pending", False)
    assert entry.subject_sha256 == subjects["threshold_check"]
    assert draft.status == "draft"
    assert draft.status_reason == "Threshold check is pending, not approved."
    assert draft.to_dict()["status_reason"] == draft.status_reason

    approve_all(trail, record)
    final = report(record, gate_states(trail, analysis_id=AN, record=record))
    assert final.gate("threshold_check").status == "approved"
    assert (final.status, final.status_reason) == ("final", "Export authorization is approved.")
