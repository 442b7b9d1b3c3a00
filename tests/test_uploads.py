"""The upload ledger on both backends: `upload` events, the 24-hour allowance counted from
them, and who may open a kept upload by its address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from review.audit import AuditTrail
from review.uploads import Usage, over_allowance, record_upload, uploaded_by, usage_today
from steps.settings import MIB, UploadSettings

SHA = "ab" * 32


def test_the_allowance_counts_each_persons_uploads_in_the_last_24_hours(db_location: str) -> None:
    trail = AuditTrail(db_location)
    record_upload(trail, sha256=SHA, name="a.csv", size=100, person="ada")
    record_upload(trail, sha256="cd" * 32, name="b.csv", size=50, person="ada")
    record_upload(trail, sha256=SHA, name="a.csv", size=7, person=None)
    record_upload(trail, sha256=SHA, name="a.csv", size=9, person="grace")
    assert usage_today(trail, "ada") == Usage(2, 150)
    assert usage_today(trail, None) == Usage(1, 7)
    assert usage_today(trail, "bob") == Usage(0, 0)
    tomorrow = datetime.now(UTC) + timedelta(hours=24, minutes=1)
    assert usage_today(trail, "ada", now=tomorrow) == Usage(0, 0)
    assert trail.verify().ok


def test_a_kept_upload_opens_by_its_address_only_for_whoever_sent_it(db_location: str) -> None:
    trail = AuditTrail(db_location)
    record_upload(trail, sha256=SHA, name="a.csv", size=100, person="ada")
    assert uploaded_by(trail, SHA, "ada") and uploaded_by(trail, SHA.upper(), "ada")
    assert not uploaded_by(trail, SHA, "grace")
    assert not uploaded_by(trail, SHA, None)
    assert not uploaded_by(trail, "ef" * 32, "ada")


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        (Usage(3, 10), None),
        (Usage(4, 10), "You have uploaded 3 files in the last 24 hours"),
        (Usage(1, 2 * MIB + 1), "past 2.0 MB in 24 hours (2.0 MB with it)"),
    ],
)
def test_past_the_allowance_is_one_sentence(used: Usage, expected: str | None) -> None:
    sentence = over_allowance(used, UploadSettings(quota_bytes=2 * MIB, quota_files=3))
    if expected is None:
        assert sentence is None
    else:
        assert sentence is not None and expected in sentence
        assert sentence.endswith(".") and sentence.count(". ") == 0


def test_a_file_dropped_on_the_page_of_a_shared_server_counts_towards_the_allowance(
    db_location: str, tmp_path
) -> None:
    from flow.source import Source, open_source
    from steps.errors import QuotaExceeded
    from steps.load import ReadOptions
    from steps.settings import Settings

    trail = AuditTrail(db_location)
    allowance = UploadSettings(quota_files=2, quota_bytes=MIB)
    hosted = Settings(hosted=True, workspace=tmp_path / "hosted", upload=allowance)
    local = Settings(workspace=tmp_path / "local", upload=allowance)
    body = b"a,b\n1,2\n3,4\n"
    for _ in range(3):  # no allowance on one's own machine
        open_source(Source("a.csv", body), local, trail, person="ada")
    assert usage_today(trail, "ada") == Usage(0, 0)
    first = Source("a.csv", body)
    open_source(first, hosted, trail, person="ada")
    # Reading the same upload again with other options is not another upload.
    open_source(first, hosted, trail, ReadOptions(delimiter=","), person="ada")
    open_source(Source("b.csv", body + b"5,6\n"), hosted, trail, person="ada")
    assert usage_today(trail, "ada") == Usage(2, 2 * len(body) + 4)
    assert uploaded_by(trail, open_source(first, local, trail).loaded.report.sha256, "ada")
    events = len(trail.events())
    with pytest.raises(QuotaExceeded, match="You have uploaded 2 files in the last 24 hours"):
        open_source(Source("c.csv", b"x\n1\n"), hosted, trail, person="ada")
    assert len(trail.events()) == events  # refused before anything was written
    open_source(Source("c.csv", b"x\n1\n"), hosted, trail, person="grace")  # hers is apart
    assert usage_today(trail, "grace") == Usage(1, 4)
