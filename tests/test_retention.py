"""Retention: kept sources unused for `SIGNOFF_RETENTION_DAYS` are swept, never one an open
review request still needs; `python -m server` sweeps at start-up."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from review.analyses import register_analysis
from review.audit import AuditTrail
from review.requests import close_request, request_review
from review.retention import sweep_sources
from review.workspace import keep_source, source_path

DAY_S = 24 * 60 * 60


def kept(root: Path, text: str, *, age_days: float) -> str:
    """A kept source last used `age_days` ago; its SHA-256."""
    data = f"id,value\n1,{text}\n".encode()
    path = keep_source(data, f"{text}.csv", root=root)
    moment = time.time() - age_days * DAY_S
    for item in (path, path.parent):
        os.utime(item, (moment, moment))
    return hashlib.sha256(data).hexdigest()


def analysis_of(trail: AuditTrail, sha: str, analysis_id: str) -> None:
    register_analysis(trail, analysis_id=analysis_id, source_sha256=sha, source_name="f.csv")


@pytest.fixture
def trail(tmp_path: Path) -> AuditTrail:
    return AuditTrail(tmp_path / "signoff.db")


def test_old_unused_sources_go_and_recently_used_ones_stay(
    tmp_path: Path, trail: AuditTrail
) -> None:
    root = tmp_path / "workspace"
    old = kept(root, "old", age_days=40)
    recent = kept(root, "recent", age_days=3)
    worked_on = kept(root, "worked-on", age_days=40)  # its analysis had a step today
    analysis_of(trail, worked_on, "an-worked")
    trail.append("step", {"step": "overview", "digest": "d"}, analysis_id="an-worked")

    swept = sweep_sources(trail, root=root, older_than_days=30)

    assert swept.removed == (old,) and swept.kept_for_requests == ()
    assert source_path(old, root=root) is None
    assert source_path(recent, root=root) is not None
    assert source_path(worked_on, root=root) is not None
    (event,) = trail.events(kind="retention")
    assert event.payload == {"older_than_days": 30, "removed": [old], "kept_for_requests": []}
    assert event.analysis_id is None and trail.verify().ok


def test_a_source_an_open_request_needs_stays_until_it_is_closed(
    tmp_path: Path, trail: AuditTrail
) -> None:
    root = tmp_path / "workspace"
    sha = kept(root, "reviewed", age_days=10)
    analysis_of(trail, sha, "an1")
    request = request_review(trail, analysis_id="an1", gate="data_quality", subject_sha256="b" * 64)
    later = datetime.now(UTC) + timedelta(days=40)  # everything is old by then
    waiting = sweep_sources(trail, root=root, older_than_days=30, now=later)
    assert waiting.removed == () and waiting.kept_for_requests == (sha,)
    close_request(trail, request.id, actor="ada")
    assert sweep_sources(trail, root=root, older_than_days=30, now=later).removed == (sha,)


def test_handing_the_same_bytes_over_again_counts_as_use(tmp_path: Path, trail: AuditTrail) -> None:
    root = tmp_path / "workspace"
    sha = kept(root, "again", age_days=40)
    keep_source(b"id,value\n1,again\n", "again.csv", root=root)  # uploaded once more today
    assert sweep_sources(trail, root=root, older_than_days=30).removed == ()
    assert source_path(sha, root=root) is not None


def test_nothing_to_sweep_writes_nothing_and_crash_leftovers_are_cleared(
    tmp_path: Path, trail: AuditTrail
) -> None:
    root = tmp_path / "workspace"
    assert sweep_sources(trail, root=root, older_than_days=1).removed == ()
    kept(root, "fresh", age_days=0)
    leftover = root / "sources" / ".incoming-abc"
    leftover.mkdir()
    (leftover / "half.csv").write_bytes(b"id\n")
    stale = time.time() - 2 * DAY_S
    for item in (leftover / "half.csv", leftover):
        os.utime(item, (stale, stale))
    assert sweep_sources(trail, root=root, older_than_days=1).removed == ()
    assert not leftover.exists()
    assert trail.events() == []


@pytest.mark.slow
def test_the_server_sweeps_at_start_up(tmp_path: Path) -> None:
    from conftest import serve

    root = tmp_path / "workspace"
    trail = AuditTrail(tmp_path / "signoff.db")
    old = kept(root, "old", age_days=9)
    needed = kept(root, "needed", age_days=9)
    fresh = kept(root, "fresh", age_days=1)
    analysis_of(trail, needed, "an1")
    request_review(trail, analysis_id="an1", gate="data_quality", subject_sha256="c" * 64)
    command = ["-m", "server", "--port", "{port}", "--no-token"]
    for _server in serve(tmp_path, command, SIGNOFF_RETENTION_DAYS="7"):
        assert source_path(old, root=root) is None
        assert source_path(needed, root=root) is not None
        assert source_path(fresh, root=root) is not None
        assert [e.payload["removed"] for e in trail.events(kind="retention")] == [[old]]
