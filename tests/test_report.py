"""The report: built from the typed record alone, exact, plain JSON, nothing invented, and
final only once every gate is open and export authorization is approved."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import statistics
import tomllib
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from records import ADVISOR, computed, decided, loaded_csv

from flow.stages import Options, start
from review.gates import undecided_states
from steps.cleaning import CleaningPlan
from steps.errors import ReportError
from steps.record import Parameters
from steps.report import ENVELOPE_KEYS, SCHEMA_VERSION, GateEntry, build_report, content_sha256

# NIST StRD NumAcc4-like: values near 1e7 that differ in the 8th significant digit.
NUMACC4 = [10000000.2] + [10000000.1, 10000000.3] * 500


@pytest.fixture
def numacc(tmp_path: Path):
    rows = "".join(f"{v!r},{'ab'[i % 2]}\n" for i, v in enumerate(NUMACC4))
    return loaded_csv(tmp_path, "y,label\n" + rows, "numacc4.csv")


def test_report_is_stamped_and_plain_json(numacc) -> None:
    record = computed(numacc)
    report = build_report(record, (s.report_entry() for s in undecided_states(record)))
    doc = report.to_dict()
    assert doc["schema_version"] == SCHEMA_VERSION == "2.0"
    pyproject = tomllib.loads(Path("pyproject.toml").read_text("utf-8"))
    assert doc["app"] == {"name": "signoff", "version": pyproject["project"]["version"]}
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert doc["source"]["name"] == "numacc4.csv"
    stamp = doc["generated_at"]
    assert stamp.endswith("Z") and len(stamp) == len("2024-06-02T08:30:00Z")


def test_exact_figures_survive_the_report(numacc) -> None:
    record = computed(numacc)
    doc = json.loads(json.dumps(build_report(record, pending(record)).to_dict()))
    y = next(c for c in doc["overview"]["columns"] if c["name"] == "y")
    assert y["mean"] == float(sum(map(Fraction, NUMACC4)) / len(NUMACC4)) == 10000000.2
    assert math.isclose(y["std"], statistics.stdev(NUMACC4), rel_tol=1e-12)


def test_steps_that_did_not_run_are_null(numacc) -> None:
    record, _ = start(numacc, ADVISOR, None)
    first = GateEntry("data_quality", "Data quality", "pending", False, "awaiting a reviewer")
    doc = build_report(record, (first,)).to_dict()
    assert doc["statistics"] is None and doc["model"] is None
    assert doc["recommendations"] is None and doc["audit"] is None
    assert set(doc["ai"]) == {"overview", "quality"}
    assert doc["parameters"] == {"target": None}


def test_one_dialect_whoever_produced_it(numacc) -> None:
    doc = build_report(computed(numacc), pending(computed(numacc))).to_dict()
    assert doc["parameters"] == {**Parameters().to_dict(), "target": None}
    assert doc["cleaning"] == {
        "drop_duplicates": False,
        "drop_columns": [],
        "drop_rows_missing": [],
    }
    assert doc["statistics"]["outliers"]["method"] == "iqr"
    assert set(doc["statistics"]["distributions"]) == {"n_rows", "numeric", "categorical"}
    assert all(item["review"] == "pending" for item in doc["recommendations"]["action_plan"])
    findings = [f for section in doc["ai"].values() for f in section["findings"]]
    assert findings and all(
        f["rejected"] is False and f["rejection_reason"] is None for f in findings
    )


@pytest.mark.parametrize("status", ["pending", "rejected", "modified", "stale"])
def test_final_only_when_export_authorization_is_approved(numacc, status: str) -> None:
    record = computed(numacc)
    final = build_report(record, (s.report_entry() for s in decided(record)))
    assert final.status == "final"
    assert final.status_reason == "Export authorization is approved."
    held = build_report(
        record, (s.report_entry() for s in decided(record, export_authorization=status))
    )
    assert held.status == "draft"
    assert held.status_reason == f"Export authorization is {status}, not approved."


def test_a_gate_closed_upstream_keeps_a_signed_export_a_draft(numacc) -> None:
    record = computed(numacc)
    states = decided(record, data_quality="rejected")
    report = build_report(record, (s.report_entry() for s in states))
    assert report.status == "draft"
    assert report.status_reason == "Data quality is rejected, not approved."


def test_no_gates_or_the_same_gate_twice_is_refused(numacc) -> None:
    record = computed(numacc)
    entry = undecided_states(record)[0].report_entry()
    for gates in ((), (entry, entry)):
        with pytest.raises(ReportError):
            build_report(record, gates)


def pending(record):
    return [s.report_entry() for s in undecided_states(record)]


def canonical_sha256(doc: dict) -> str:
    """The documented rule, written out independently: every key but the envelope, keys
    sorted, no spaces, UTF-8."""
    content = {k: v for k, v in doc.items() if k not in ENVELOPE_KEYS}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_content_digest_follows_the_documented_rule(numacc) -> None:
    report = build_report(computed(numacc), pending(computed(numacc)))
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["content_sha256"] == canonical_sha256(doc) == content_sha256(doc)


def test_decisions_and_time_do_not_move_the_digest_but_content_does(numacc) -> None:
    record = computed(numacc)
    draft = build_report(record, (s.report_entry() for s in undecided_states(record)))
    signed = build_report(
        record, (s.report_entry() for s in decided(record)), generated_at="2030-01-01T00:00:00Z"
    )
    assert signed.status == "final" and draft.status == "draft"
    assert signed.content_sha256 == draft.content_sha256
    other = computed(numacc, Options(parameters=Parameters(threshold=0.9)))
    assert build_report(other, pending(other)).content_sha256 != draft.content_sha256
    reviewed = dataclasses.replace(
        record, plan=dataclasses.replace(record.plan, drop_duplicates=True)
    )
    assert build_report(reviewed, pending(reviewed)).content_sha256 != draft.content_sha256


def test_the_cleaning_effect_is_the_loaded_file_beside_the_cleaned_view(tmp_path) -> None:
    text = "a,b,notes\n1,2,x\n1,2,x\n3,,y\n4,5,\n4,5,\n6,7,z\n"
    loaded = loaded_csv(tmp_path, text)
    plan = CleaningPlan(drop_duplicates=True, drop_columns=("notes",))
    report = build_report(computed(loaded, Options(plan=plan)), pending(computed(loaded))).to_dict()
    effect = report["cleaning_effect"]
    frame = pd.read_csv(io.StringIO(text))
    cleaned = frame.drop_duplicates().drop(columns=["notes"])
    expected = {
        "rows": (len(frame), len(cleaned)),
        "columns": (frame.shape[1], cleaned.shape[1]),
        "missing_cells": (int(frame.isna().sum().sum()), int(cleaned.isna().sum().sum())),
        "duplicate_rows": (int(frame.duplicated().sum()), int(cleaned.duplicated().sum())),
    }
    got = {k: (effect[k]["before"], effect[k]["after"]) for k in expected}
    assert got == expected
    assert all(effect[k]["change"] == after - before for k, (before, after) in expected.items())
    assert effect["quality_score"]["after"] > effect["quality_score"]["before"]
    # The loaded file raises a duplicates alert; the cleaned view (duplicates dropped) not.
    keys = {a["key"] for a in report["alerts"]}
    assert "duplicates:" in keys and "duplicates:" in effect["alerts_closed"]
    assert set(effect["alerts_closed"]) <= keys
    step3 = {"skewed", "high_correlation"}
    gate_one = [a for a in report["alerts"] if a["type"] not in step3]
    assert effect["alerts"]["before"] == len(gate_one)
    assert effect["alerts"]["change"] == effect["alerts"]["after"] - effect["alerts"]["before"]
    opened = {a["key"] for a in effect["alerts_opened"]}
    assert not opened & keys
    assert effect["alerts"]["change"] == len(opened) - len(effect["alerts_closed"])


def test_no_plan_has_no_cleaning_effect(numacc) -> None:
    assert (
        build_report(computed(numacc), pending(computed(numacc))).to_dict()["cleaning_effect"]
        is None
    )
