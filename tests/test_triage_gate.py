"""Gate 1's alert triage: one table in the form, read with any verdict, checked before
anything is recorded, part of the subject and the trail, in force after (dismissed alerts
out of the score), and remembered by the file's fingerprint on the next load."""

from __future__ import annotations

from pathlib import Path

import marimo as mo
import pytest
from records import ADVISOR, loaded_csv

from flow.choices import with_remembered_triage
from flow.gates import settle
from flow.stages import clean, start
from flow.views import gate_form
from review.analyses import register_analysis
from review.answers import data_quality_subject, triage_rows
from review.audit import AuditTrail
from review.gates import gate_by_id, latest_decision

ROWS = ["a,b,c"] + [f"{i % 7},{'' if i % 4 == 0 else i},x" for i in range(40)] + ["1,1,x"] * 3
TEXT = "\n".join(ROWS) + "\n"


def started(tmp_path: Path, text: str = TEXT, name: str = "m.csv"):
    loaded = loaded_csv(tmp_path, text, name)
    return loaded, start(loaded, ADVISOR, None)[0]


def table(record, **statuses: tuple[str, str]) -> list[dict]:
    """The triage table as the reviewer leaves it: `key=(status, note)` edits."""
    rows = [dict(r) for r in triage_rows(record)]
    for row in rows:
        if row["key"] in statuses:
            row["status"], row["note"] = statuses[row["key"]]
    return rows


def trail_for(tmp_path: Path, *records) -> AuditTrail:
    trail = AuditTrail(tmp_path / "signoff.db")
    for record in records:
        register_analysis(
            trail,
            analysis_id=record.source.sha256[:16],
            source_sha256=record.source.sha256,
            source_name=record.source.name,
        )
    return trail


def answer(verdict: str, rows: list[dict], reviewer: str = "Ada") -> dict:
    return {"verdict": verdict, "reviewer": reviewer, "notes": "", "alert_triage": rows}


def test_the_form_holds_one_triage_table(tmp_path: Path):
    _, record = started(tmp_path)
    form = gate_form(gate_by_id("data_quality"), record)
    editors = [e for e in form.element._elements.values() if isinstance(e, mo.ui.data_editor)]
    assert len(editors) == 1
    assert sorted(r["key"] for r in editors[0].value) == sorted(
        a.key for a in record.original.alerts
    )
    assert {r["status"] for r in editors[0].value} == {"open"}
    assert "None" not in form.text


def test_triage_is_recorded_bound_and_in_force(tmp_path: Path):
    loaded, record = started(tmp_path)
    trail = trail_for(tmp_path, record)
    an = record.source.sha256[:16]
    rows = table(
        record, **{"missing:b": ("dismissed", "b is optional"), "duplicates:": ("deferred", "")}
    )
    settled = settle(
        trail, analysis_id=an, gate="data_quality", record=record, answer=answer("approve", rows)
    )
    assert settled.refusal is None and settled.state.open
    decision = latest_decision(trail, analysis_id=an, gate="data_quality")
    assert decision.details["alert_triage"] == {
        "duplicates:": {"status": "deferred", "note": ""},
        "missing:b": {"status": "dismissed", "note": "b is optional"},
    }
    assert "alert_triage" in decision.subject_parts
    assert data_quality_subject(settled.record) != data_quality_subject(record)
    in_force = settled.record.triage.of(next(a for a in record.alerts if a.key == "missing:b"))
    assert (in_force.status, in_force.reviewer, in_force.decided_at) == (
        "dismissed",
        "Ada",
        decision.decided_at,
    )
    view, _ = clean(settled.record, loaded, settled.record.plan, ADVISOR, None)
    assert view.shown.quality.quality_score > record.original.quality.quality_score
    assert any("missing:b" in n for n in view.shown.quality.notes)


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        ([{"key": "nonsense:b", "status": "accepted"}], "does not have"),
        ("not a table", "must be a table"),
        (None, None),
    ],
)
def test_a_bad_triage_records_nothing(tmp_path: Path, rows, said):
    _, record = started(tmp_path)
    trail = trail_for(tmp_path, record)
    an = record.source.sha256[:16]
    if rows is None:  # a dismissal without a reason
        rows = table(record, **{"missing:b": ("dismissed", "  ")})
        said = "needs a reason"
    before = len(trail.events())
    settled = settle(
        trail, analysis_id=an, gate="data_quality", record=record, answer=answer("approve", rows)
    )
    assert said in settled.refusal and settled.refusal.count(". ") == 0
    assert not settled.state.open
    assert (
        len(trail.events()) == before + 1
    )  # the review request the pending gate files, no decision
    assert latest_decision(trail, analysis_id=an, gate="data_quality") is None


def test_the_triage_is_remembered_by_fingerprint(tmp_path: Path):
    first_dir, other_dir, same_dir = (tmp_path / d for d in ("one", "two", "three"))
    for d in (first_dir, other_dir, same_dir):
        d.mkdir()
    _, record = started(first_dir)
    trail = trail_for(tmp_path, record)
    rows = table(record, **{"missing:b": ("dismissed", "b is optional")})
    settle(
        trail,
        analysis_id=record.source.sha256[:16],
        gate="data_quality",
        record=record,
        answer=answer("approve", rows),
    )
    decided_at = latest_decision(
        trail, analysis_id=record.source.sha256[:16], gate="data_quality"
    ).decided_at
    # The same bytes again: pre-filled as decided, with who and when.
    _, again = started(same_dir)
    assert again.source.sha256 == record.source.sha256
    shown = {r["key"]: r for r in triage_rows(with_remembered_triage(trail, again, None))}
    assert (shown["missing:b"]["status"], shown["missing:b"]["note"]) == (
        "dismissed",
        "b is optional",
    )
    assert shown["missing:b"]["remembered"] == f"decided by Ada on {decided_at[:10]}"
    # Same columns, other bytes: a suggestion, left open.
    _, other = started(other_dir, TEXT + "2,3,x\n")
    assert other.source.sha256 != record.source.sha256
    remembered = with_remembered_triage(trail, other, None)
    offered = {r["key"]: r for r in triage_rows(remembered)}
    assert offered["missing:b"]["status"] == "open"
    assert offered["missing:b"]["remembered"].startswith("suggested: dismissed by Ada")
    assert remembered.triage.is_empty() and data_quality_subject(
        remembered
    ) == data_quality_subject(other)
    # Nothing is remembered across different columns.
    _, unlike = started(other_dir, TEXT.replace("a,b,c", "a,bb,c"), "n.csv")
    assert all(
        r["remembered"] == "" for r in triage_rows(with_remembered_triage(trail, unlike, None))
    )


def test_the_form_checks_the_edits_the_browser_sends(tmp_path: Path):
    """A form's validate gets the browser's raw value: for the table, its list of edits."""
    _, record = started(tmp_path)
    form = gate_form(gate_by_id("data_quality"), record)
    row = next(i for i, a in enumerate(record.original.alerts) if a.key == "missing:b")
    base = {"verdict": "approve", "reviewer": "Ada", "notes": ""}
    bare = {"edits": [{"rowIdx": row, "columnId": "status", "value": "dismissed"}]}
    assert "needs a reason" in form.validate({**base, "alert_triage": bare})
    noted = {"edits": [*bare["edits"], {"rowIdx": row, "columnId": "note", "value": "optional"}]}
    assert form.validate({**base, "alert_triage": noted}) is None
    assert form.validate({**base, "alert_triage": {"edits": []}}) is None


def test_the_triage_table_puts_the_most_severe_alerts_first(tmp_path: Path):
    from samples import sample_path
    from steps.load import load

    loaded = load(sample_path("messy_orders"))
    record = start(loaded, ADVISOR, None)[0]
    shown = [r["severity"] for r in triage_rows(record)]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert shown == sorted(shown, key=rank.__getitem__)
    assert len(set(shown)) > 1  # the sample has alerts of more than one severity
    by_key = {a.key: a.severity for a in record.original.alerts}
    assert sorted(r["key"] for r in triage_rows(record)) == sorted(by_key)
