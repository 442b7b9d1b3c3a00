"""Review requests, the shared queue and the analysis registry, on both backends (a real
SQLite file and a real PostgreSQL schema)."""

from __future__ import annotations

import hashlib
import multiprocessing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import review.decisions
from review.analyses import (
    AnalysisError,
    analysis_source,
    get_analysis,
    list_analyses,
    register_analysis,
    update_parameters,
)
from review.audit import AuditTrail
from review.decisions import decide
from review.requests import (
    RequestError,
    close_request,
    close_requests_in,
    get_request,
    normalise_deadline,
    open_requests,
    request_review,
    route_request,
)
from review.workspace import keep_source


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


S1, S2 = sha("subject 1"), sha("subject 2")
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def trail(db_location: str) -> AuditTrail:
    trail = AuditTrail(db_location)
    for n in (1, 2, 3):
        register_analysis(
            trail, analysis_id=f"an{n}", source_sha256=sha(f"file {n}"), source_name=f"f{n}.csv"
        )
    return trail


def approve(trail: AuditTrail, subject: str) -> None:
    decide(
        trail,
        analysis_id="an1",
        gate="data_quality",
        subject_sha256=subject,
        verdict="approve",
        reviewer="Bo",
    )


def ask(trail: AuditTrail, **changes):
    arguments = {"analysis_id": "an1", "gate": "data_quality", "subject_sha256": S1, **changes}
    return request_review(trail, **arguments)


def test_request_is_stored_with_its_source_and_audited(trail: AuditTrail) -> None:
    request = ask(trail, priority=2, deadline="2025-07-01", assignee="Bo", requested_by="Ada")
    assert (request.status, request.priority, request.assignee) == ("open", 2, "Bo")
    assert (request.source_sha256, request.source_name) == (sha("file 1"), "f1.csv")
    assert request.deadline == "2025-07-01"
    (event,) = trail.events(kind="request")
    assert event.payload["action"] == "opened" and event.payload["request_id"] == request.id
    assert event.actor == "Ada" and event.analysis_id == "an1"
    assert get_request(trail, request.id) == request


def test_request_is_idempotent_while_open(trail: AuditTrail) -> None:
    first = ask(trail, priority=2)
    again = ask(trail, priority=5)
    assert again.id == first.id and again.priority == 2
    assert len(open_requests(trail)) == 1
    assert len(trail.events(kind="request")) == 1


def test_a_new_subject_supersedes_the_open_request(trail: AuditTrail) -> None:
    old = ask(trail)
    new = ask(trail, subject_sha256=S2)
    assert [r.id for r in open_requests(trail)] == [new.id]
    closed = get_request(trail, old.id)
    assert (closed.status, closed.resolution) == ("closed", "superseded")


def test_queue_is_sorted_by_priority_then_deadline(trail: AuditTrail) -> None:
    specs = [
        ("an1", "data_quality", 3, None),
        ("an2", "data_quality", 1, "2025-08-01"),
        ("an3", "data_quality", 3, "2025-06-20T09:00:00+00:00"),
        ("an1", "model_approval", 1, "2025-07-01"),
        ("an2", "analysis_validation", 3, "2025-06-18"),
        ("an3", "export_authorization", 5, "2025-01-01"),
    ]
    made = [
        request_review(
            trail, analysis_id=a, gate=g, subject_sha256=sha(f"{a}{g}"), priority=p, deadline=d
        )
        for a, g, p, d in specs
    ]
    ids = [r.id for r in made]
    order = [ids.index(r.id) for r in open_requests(trail, now=NOW)]
    assert order == [3, 1, 4, 2, 0, 5]


def test_overdue_flag_is_judged_against_now(trail: AuditTrail) -> None:
    ask(trail, gate="data_quality", deadline="2025-06-15")
    ask(trail, gate="analysis_validation", deadline=datetime(2025, 6, 15, 11, 59, tzinfo=UTC))
    ask(trail, gate="model_approval", deadline=date(2025, 6, 14))
    ask(trail, gate="result_verification")
    flags = {r.gate: r.overdue for r in open_requests(trail, now=NOW)}
    # A date-only deadline is due by the end of that day (UTC).
    assert flags == {
        "data_quality": False,
        "analysis_validation": True,
        "model_approval": True,
        "result_verification": False,
    }
    later = {r.gate: r.overdue for r in open_requests(trail, now=NOW + timedelta(days=1))}
    assert later["data_quality"] is True


def test_deadlines_are_normalised_to_utc() -> None:
    assert normalise_deadline("2025-06-15T14:00:00+02:00") == "2025-06-15T12:00:00+00:00"
    assert normalise_deadline(datetime(2025, 6, 15, 12, 0)) == "2025-06-15T12:00:00+00:00"
    assert normalise_deadline("") is None
    with pytest.raises(RequestError, match="not an ISO date"):
        normalise_deadline("next friday")


def test_queue_filters(trail: AuditTrail) -> None:
    ask(trail, assignee="Bo")
    ask(trail, analysis_id="an2", gate="model_approval")
    assert [r.analysis_id for r in open_requests(trail, analysis_id="an2")] == ["an2"]
    assert [r.assignee for r in open_requests(trail, assignee="Bo")] == ["Bo"]
    assert [r.gate for r in open_requests(trail, gate="model_approval")] == ["model_approval"]


def test_a_decision_closes_its_request(trail: AuditTrail) -> None:
    request = ask(trail)
    other = ask(trail, analysis_id="an2")
    approve(trail, S1)
    closed = get_request(trail, request.id)
    assert (closed.status, closed.resolution, closed.closed_by) == ("closed", "approve", "Bo")
    assert [r.id for r in open_requests(trail)] == [other.id]
    actions = [e.payload["action"] for e in trail.events(kind="request", analysis_id="an1")]
    assert actions == ["opened", "closed"]
    assert trail.verify().ok


def test_a_decision_and_the_closing_of_its_request_are_one_write(
    trail: AuditTrail, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If closing the request fails, the decision is not recorded either (and vice versa)."""
    request = ask(trail)
    before = trail.events()

    def close_then_fail(*args):
        assert close_requests_in(*args) == [request.id]
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(review.decisions, "close_requests_in", close_then_fail)
    with pytest.raises(RuntimeError, match="disk filled up"):
        approve(trail, S1)
    assert trail.events() == before
    assert get_request(trail, request.id).status == "open"
    assert trail.verify().ok


def test_a_decision_on_another_subject_leaves_the_request_open(trail: AuditTrail) -> None:
    request = ask(trail)
    approve(trail, S2)
    assert [r.id for r in open_requests(trail)] == [request.id]


def test_nothing_to_request_once_approved_but_a_reject_can_be_rerequested(
    trail: AuditTrail,
) -> None:
    approve(trail, S1)
    assert ask(trail) is None
    decide(
        trail,
        analysis_id="an1",
        gate="data_quality",
        subject_sha256=S1,
        verdict="reject",
        reviewer="Cy",
    )
    assert ask(trail, type="correction").type == "correction"


def test_close_request_by_hand(trail: AuditTrail) -> None:
    request = ask(trail)
    closed = close_request(trail, request.id, actor="Ada")
    assert (closed.status, closed.resolution) == ("closed", "withdrawn")
    assert close_request(trail, request.id) == closed
    assert open_requests(trail) == []
    with pytest.raises(RequestError, match="no review request 999"):
        close_request(trail, 999)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"priority": 0}, "1 \\(highest\\) to 5"),
        ({"priority": 6}, "1 \\(highest\\) to 5"),
        ({"priority": True}, "1 \\(highest\\) to 5"),
        ({"type": "gossip"}, "Unknown request type"),
        ({"gate": "vibes"}, "Unknown gate"),
        ({"subject_sha256": "xyz"}, "64 hexadecimal"),
        ({"analysis_id": "ghost"}, "not registered"),
        ({"deadline": "soon"}, "not an ISO date"),
    ],
)
def test_invalid_requests_are_refused(trail: AuditTrail, changes: dict, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        ask(trail, **changes)
    assert open_requests(trail) == []


def test_empty_file_has_an_empty_queue(db_location: str) -> None:
    assert open_requests(db_location) == []
    assert get_request(db_location, 1) is None


def request_from_process(path: str, gate: str, barrier, results) -> None:
    barrier.wait()
    request = request_review(path, analysis_id="an1", gate=gate, subject_sha256=S1, priority=1)
    results.put((request.id, [r.id for r in open_requests(path)]))


def run_two(path: str, gates: tuple[str, str]) -> list[tuple[int, list[int]]]:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=request_from_process, args=(path, g, barrier, results))
        for g in gates
    ]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    return answers


def test_a_request_made_in_another_process_is_in_this_queue(trail: AuditTrail) -> None:
    mine = ask(trail, gate="model_approval", priority=4)
    answers = run_two(trail.location, ("data_quality", "analysis_validation"))
    theirs = {request_id for request_id, _ in answers}
    queue = open_requests(trail.location)
    assert {r.id for r in queue} == theirs | {mine.id}
    assert queue[-1].id == mine.id  # priority 4 after their priority 1
    for _, seen_there in answers:
        assert mine.id in seen_there  # and ours was visible in their process


def test_two_processes_requesting_the_same_review_make_one_request(trail: AuditTrail) -> None:
    answers = run_two(trail.location, ("data_quality", "data_quality"))
    assert answers[0][0] == answers[1][0]
    assert len(open_requests(trail)) == 1
    assert len(trail.events(kind="request")) == 1
    assert trail.verify().ok


def test_registry_round_trip_and_idempotence(trail: AuditTrail) -> None:
    again = register_analysis(
        trail, analysis_id="an1", source_sha256=sha("file 1"), source_name="x"
    )
    assert again == get_analysis(trail, "an1") and again.source_name == "f1.csv"
    with pytest.raises(AnalysisError, match="another file"):
        register_analysis(trail, analysis_id="an1", source_sha256=sha("other"), source_name="y")
    fresh = register_analysis(trail, source_sha256=sha("file 4"), source_name="f4.csv")
    assert len(fresh.id) == 32 and get_analysis(trail, fresh.id) == fresh
    assert {a.id for a in list_analyses(trail)} == {"an1", "an2", "an3", fresh.id}
    assert get_analysis(trail, "ghost") is None
    with pytest.raises(AnalysisError, match="SHA-256"):
        register_analysis(trail, source_sha256="nope", source_name="z")


def test_parameter_changes_are_audited(trail: AuditTrail) -> None:
    updated, event = update_parameters(
        trail, "an1", {"threshold": 0.05, "method": "iqr"}, actor="Ada"
    )
    assert updated.parameters == {"threshold": 0.05, "method": "iqr"}
    assert event.kind == "parameter"
    assert event.payload["changed"]["threshold"] == {"from": None, "to": 0.05}
    updated, event = update_parameters(trail, "an1", {"threshold": 0.01})
    assert updated.parameters == {"threshold": 0.01, "method": "iqr"}
    assert event.payload["changed"] == {"threshold": {"from": 0.05, "to": 0.01}}
    assert update_parameters(trail, "an1", {"method": "iqr"})[1] is None
    assert get_analysis(trail, "an1").parameters == {"threshold": 0.01, "method": "iqr"}
    with pytest.raises(AnalysisError, match="not registered"):
        update_parameters(trail, "ghost", {"x": 1})


def test_an_analysis_reopens_from_its_kept_source(trail: AuditTrail, tmp_path: Path) -> None:
    data = b"a,b\n1,2\n"
    kept = keep_source(data, "sales.csv", root=tmp_path / "ws")
    analysis = register_analysis(
        trail, source_sha256=hashlib.sha256(data).hexdigest(), source_name="sales.csv"
    )
    found, path = analysis_source(trail, analysis.id, root=tmp_path / "ws")
    assert (found, path, path.read_bytes()) == (analysis, kept, data)
    with pytest.raises(AnalysisError, match="no longer in the workspace"):
        analysis_source(trail, "an1", root=tmp_path / "ws")


def test_routing_a_request_sets_reviewer_deadline_priority_and_is_recorded(
    trail: AuditTrail,
) -> None:
    first = ask(trail, priority=3)
    other = ask(trail, analysis_id="an2", priority=2)
    routed = route_request(
        trail, first.id, assignee=" Grace ", deadline="2025-06-10", priority=1, actor="Ada"
    )
    assert (routed.assignee, routed.priority) == ("Grace", 1)
    assert routed.deadline == normalise_deadline("2025-06-10")
    queue = open_requests(trail, now=NOW)
    assert [r.id for r in queue] == [first.id, other.id]
    assert queue[0].overdue
    assert [r.id for r in open_requests(trail, assignee="Grace")] == [first.id]
    [event] = [e for e in trail.events(kind="request") if e.payload["action"] == "routed"]
    assert (event.actor, event.payload["assignee"], event.payload["priority"]) == (
        "Ada",
        "Grace",
        1,
    )
    with pytest.raises(RequestError, match="from 1 \\(highest\\) to 5"):
        route_request(trail, first.id, assignee=None, deadline=None, priority=9)
    close_request(trail, first.id)
    with pytest.raises(RequestError, match="is closed"):
        route_request(trail, first.id, assignee=None, deadline=None, priority=2)
