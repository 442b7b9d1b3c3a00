"""The report contract: required keys checked, nothing invented, draft until gate 5 approves."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import statistics
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from steps.report import (
    GATE_STATUSES,
    GATES,
    SCHEMA_VERSION,
    ReportError,
    build_report,
    report_digest,
)
from steps.results import ToDict

# NIST StRD NumAcc4-like: values near 1e7 that differ in the 8th significant digit.
NUMACC4 = [10000000.2] + [10000000.1, 10000000.3] * 500


@dataclass(frozen=True)
class Source(ToDict):
    name: str
    sha256: str
    bytes: int
    encoding: str
    delimiter: str
    rows_skipped: int


def column(name: str, values: list[float] | None) -> dict[str, Any]:
    if values is None:
        stats = dict.fromkeys(("mean", "std", "min", "q1", "median", "q3", "max"))
        return {"name": name, "kind": "categorical", "n_missing": 0, "n_distinct": 2, **stats}
    exact = [Fraction(v) for v in values]
    mean = sum(exact) / len(exact)
    variance = sum((v - mean) ** 2 for v in exact) / (len(exact) - 1)
    q1, median, q3 = np.quantile(np.array(values), [0.25, 0.5, 0.75])
    return {
        "name": name,
        "kind": "numeric",
        "n_missing": 0,
        "n_distinct": len(set(values)),
        "mean": float(mean),
        "std": math.sqrt(variance),
        "min": min(values),
        "q1": q1,  # numpy scalars on purpose: the report must make them plain JSON
        "median": median,
        "q3": q3,
        "max": max(values),
    }


def inputs(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": Source("numacc4.csv", hashlib.sha256(b"x").hexdigest(), 123, "utf-8", ",", 0),
        "overview": {
            "n_rows": len(NUMACC4),
            "n_columns": 2,
            "columns": [column("y", NUMACC4), column("label", None)],
        },
        "quality": {
            "duplicate_rows": len(NUMACC4) - 3,
            "missing_cells": 0,
            "quality_score": float("nan"),
            "outliers": {"y": {"iqr": np.int64(0), "zscore": 0}},
        },
        "gates": {"data_quality": {"status": "approved", "reviewer": "Ana"}},
        "generated_at": "2024-06-02T08:30:00Z",
    }
    return base | overrides


def test_report_is_stamped_and_plain_json() -> None:
    report = build_report(**inputs())
    assert report["schema_version"] == SCHEMA_VERSION == "1.0"
    assert report["generated_at"] == "2024-06-02T08:30:00Z"
    pyproject = tomllib.loads(Path("pyproject.toml").read_text("utf-8"))
    assert report["app"] == {"name": "signoff", "version": pyproject["project"]["version"]}
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report
    assert report["quality"]["quality_score"] is None  # NaN is null, never a number
    assert report["source"]["rows_skipped"] == 0  # extra keys kept


def test_exact_figures_survive_the_report() -> None:
    report = json.loads(json.dumps(build_report(**inputs())))
    y = report["overview"]["columns"][0]
    assert y["mean"] == float(sum(map(Fraction, NUMACC4)) / len(NUMACC4))
    assert y["mean"] == 10000000.2
    assert math.isclose(y["std"], statistics.stdev(NUMACC4), rel_tol=1e-12)
    assert abs(y["std"] - 0.1) < 1e-6


def test_missing_steps_are_null_and_undecided_gates_pending() -> None:
    report = build_report(**inputs())
    for step in ("cleaning", "statistics", "model", "recommendations", "ai", "audit"):
        assert report[step] is None
    assert list(report["gates"]) == list(GATES)
    assert report["gates"]["data_quality"] == {
        "status": "approved",
        "reviewer": "Ana",
        "decided_at": None,
        "subject_sha256": None,
        "notes": None,
    }
    for gate in GATES[1:]:
        assert report["gates"][gate]["status"] == "pending"


@pytest.mark.parametrize("status", sorted(GATE_STATUSES))
def test_final_only_when_export_authorization_is_approved(status: str) -> None:
    gates = {g: {"status": "approved"} for g in GATES[:4]} | {
        "export_authorization": {"status": status, "reviewer": "Bo"}
    }
    report = build_report(**inputs(gates=gates))
    assert report["status"] == ("final" if status == "approved" else "draft")
    assert status.replace("_", " ") in report["status_reason"]


def test_draft_even_when_every_other_gate_is_approved() -> None:
    gates = {g: {"status": "approved"} for g in GATES[:4]}
    assert build_report(**inputs(gates=gates))["status"] == "draft"


def broken(path: tuple[str, ...], key: str) -> dict[str, Any]:
    args = copy.deepcopy(inputs())
    if path[0] == "source":
        args["source"] = args["source"].to_dict()
    target = args
    for step in path:
        target = target[step]
    del target[key]
    return args


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (("source",), "sha256"),
        (("source",), "delimiter"),
        (("overview",), "columns"),
        (("overview", "columns", 0), "std"),
        (("quality",), "outliers"),
        (("quality", "outliers", "y"), "zscore"),
    ],
)
def test_a_missing_required_key_is_named(path: tuple[str, ...], key: str) -> None:
    with pytest.raises(ReportError, match=repr(key)) as error:
        build_report(**broken(path, key))
    assert str(error.value).endswith(".") and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("step", "value", "needle"),
    [
        ("statistics", {"correlation": {}, "threshold": 0.5}, "strong_correlations"),
        ("model", {"target": "y", "task": "regression"}, "candidates"),
        ("recommendations", {"action_plan": []}, "business_insights"),
        ("ai", {"overview": {"advisor": "offline", "findings": []}}, "unverified_numbers"),
        ("audit", {"head_sha256": "ab"}, "events"),
        ("cleaning", ["drop"], "object"),
        ("cleaning", {"drop_duplicates": True, "drop_columns": []}, "drop_rows_missing"),
    ],
)
def test_optional_steps_are_checked_when_present(step: str, value: Any, needle: str) -> None:
    with pytest.raises(ReportError, match=needle):
        build_report(**inputs(**{step: value}))


@pytest.mark.parametrize(
    "gates",
    [{"data_quality": {"status": "maybe"}}, {"gate_six": {"status": "approved"}}, ["x"]],
)
def test_bad_gates_are_refused(gates: Any) -> None:
    with pytest.raises(ReportError):
        build_report(**inputs(gates=gates))


def test_a_required_step_cannot_be_null() -> None:
    with pytest.raises(ReportError, match="quality"):
        build_report(**inputs(quality=None))


def canonical_sha256(report: dict[str, Any]) -> str:
    envelope = {"generated_at", "status", "status_reason", "content_sha256", "gates", "audit"}
    content = {k: v for k, v in report.items() if k not in envelope}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_content_digest_follows_the_documented_rule() -> None:
    report = build_report(**inputs())
    assert report["content_sha256"] == canonical_sha256(report) == report_digest(report)
    assert report_digest(json.loads(json.dumps(report))) == report["content_sha256"]


def test_decisions_and_time_do_not_move_the_digest_but_figures_do() -> None:
    report = build_report(**inputs())
    approved = build_report(
        **inputs(
            gates={g: {"status": "approved"} for g in GATES},
            audit={"head_sha256": "cd" * 32, "events": [{"kind": "decision"}]},
            generated_at="2030-01-01T00:00:00Z",
        )
    )
    assert approved["status"] == "final"
    assert approved["content_sha256"] == report["content_sha256"]
    changed = inputs()
    changed["overview"]["columns"][0]["mean"] += 1e-7
    assert build_report(**changed)["content_sha256"] != report["content_sha256"]
    with_parameters = build_report(**inputs(parameters={"threshold": 0.7}))
    assert with_parameters["content_sha256"] != report["content_sha256"]


def test_default_time_is_utc_iso() -> None:
    args = inputs()
    del args["generated_at"]
    stamp = build_report(**args)["generated_at"]
    assert stamp.endswith("Z") and len(stamp) == len("2024-06-02T08:30:00Z")
