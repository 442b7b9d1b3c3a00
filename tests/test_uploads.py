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
