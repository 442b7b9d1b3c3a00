"""The report: one versioned JSON document that every export is a view of.

The report assembles the JSON-safe `to_dict()` forms of the step results, the five gate
decisions and the audit chain head, so a reader can tell an approved analysis from a draft.
It checks that the keys `docs/report.md` promises are there and refuses to fill a gap with a
guess: a step that did not run is `null`, a gate nobody decided is `pending`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from steps.errors import ReportError
from steps.results import json_safe

SCHEMA_VERSION = "1.0"

GATES = (
    "data_quality",
    "analysis_validation",
    "model_approval",
    "result_verification",
    "export_authorization",
)
GATE_STATUSES = frozenset(
    {"pending", "approved", "rejected", "modified", "stale", "not_applicable"}
)
GATE_FIELDS = ("reviewer", "decided_at", "subject_sha256", "notes")

# The envelope records *when* and *what was decided about* the content; it is left out of
# the content digest so that approving (or exporting, which appends to the audit trail)
# does not change the very thing the approval is bound to.
ENVELOPE_KEYS = frozenset(
    {"generated_at", "status", "status_reason", "content_sha256", "gates", "audit"}
)

_REQUIRED: dict[str, tuple[str, ...]] = {
    "source": ("name", "sha256", "bytes", "encoding", "delimiter"),
    "overview": ("n_rows", "n_columns", "columns"),
    "quality": ("duplicate_rows", "missing_cells", "quality_score", "outliers"),
    "cleaning": ("drop_duplicates", "drop_columns", "drop_rows_missing"),
    "statistics": ("correlation", "strong_correlations", "threshold", "distributions"),
    "model": ("target", "task", "candidates", "selected", "metrics", "importances", "warnings"),
    "recommendations": ("action_plan", "business_insights", "next_steps"),
    "audit": ("head_sha256", "events"),
}
_COLUMN_KEYS = (
    "name",
    "kind",
    "n_missing",
    "n_distinct",
    "mean",
    "std",
    "min",
    "q1",
    "median",
    "q3",
    "max",
)
_CORRELATION_KEYS = ("method", "columns", "matrix")
_STRONG_KEYS = ("a", "b", "r", "n")
_AI_KEYS = ("advisor", "findings", "unverified_numbers")


def build_report(
    *,
    source: Mapping[str, Any],
    overview: Mapping[str, Any],
    quality: Mapping[str, Any],
    cleaning: Mapping[str, Any] | None = None,
    statistics: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    recommendations: Mapping[str, Any] | None = None,
    ai: Mapping[str, Any] | None = None,
    gates: Mapping[str, Any],
    audit: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    generated_at: str | None = None,
) -> dict[str, Any]:
    """Assemble, check and stamp the report (schema in `docs/report.md`).

    Inputs may be `to_dict()` forms or the result objects themselves; both pass through
    `json_safe`, so the report is plain JSON. Raises `ReportError` naming the first missing key.
    """
    sections = {
        "source": _checked_section("source", source),
        "overview": _checked_overview(overview),
        "quality": _checked_quality(quality),
        "cleaning": _checked_section("cleaning", cleaning),
        "statistics": _checked_statistics(statistics),
        "model": _checked_section("model", model),
        "recommendations": _checked_section("recommendations", recommendations),
        "ai": _checked_ai(ai),
    }
    gate_states = _checked_gates(gates)
    status, reason = _status(gate_states)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "status_reason": reason,
        "generated_at": generated_at or _now(),
        "app": {"name": "signoff", "version": _app_version()},
        "parameters": json_safe(dict(parameters or {})),
        **sections,
        "gates": gate_states,
        "audit": _checked_section("audit", audit),
    }
    report["content_sha256"] = report_digest(report)
    return report


def report_digest(report: Mapping[str, Any]) -> str:
    """SHA-256 of the report's content (everything but the envelope) as canonical JSON.

    This is the result digest an export-authorization approval is bound to: it is the same
    for the report object and for the report read back from its JSON file.
    """
    content = {k: v for k, v in report.items() if k not in ENVELOPE_KEYS}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: one byte string per JSON value."""
    text = json.dumps(
        json_safe(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _checked_section(name: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    section = json_safe(value)
    if not isinstance(section, dict):
        raise ReportError(f"The report's {name} section must be an object, not {_kind(section)}.")
    _require(section, _REQUIRED[name], name)
    return section


def _checked_overview(overview: Any) -> dict[str, Any]:
    section = _checked_required("overview", overview)
    columns = section["columns"]
    if not isinstance(columns, list):
        raise ReportError("The report's overview.columns must be a list of column summaries.")
    for i, column in enumerate(columns):
        if not isinstance(column, dict):
            raise ReportError(f"The report's overview.columns[{i}] must be an object.")
        _require(column, _COLUMN_KEYS, f"overview.columns[{i}]")
    return section


def _checked_quality(quality: Any) -> dict[str, Any]:
    section = _checked_required("quality", quality)
    outliers = section["outliers"]
    if not isinstance(outliers, dict):
        raise ReportError("The report's quality.outliers must map column names to counts.")
    for column, counts in outliers.items():
        if not isinstance(counts, dict):
            raise ReportError(f"The report's quality.outliers[{column!r}] must be an object.")
        _require(counts, ("iqr", "zscore"), f"quality.outliers[{column!r}]")
    return section


def _checked_statistics(statistics: Any) -> dict[str, Any] | None:
    section = _checked_section("statistics", statistics)
    if section is None:
        return None
    if not isinstance(section["correlation"], dict):
        raise ReportError("The report's statistics.correlation must be an object.")
    _require(section["correlation"], _CORRELATION_KEYS, "statistics.correlation")
    for i, pair in enumerate(section["strong_correlations"]):
        _require(pair, _STRONG_KEYS, f"statistics.strong_correlations[{i}]")
    return section


def _checked_ai(ai: Any) -> dict[str, Any] | None:
    if ai is None:
        return None
    section = json_safe(ai)
    if not isinstance(section, dict):
        raise ReportError(f"The report's ai section must be an object, not {_kind(section)}.")
    for step, insight in section.items():
        if not isinstance(insight, dict):
            raise ReportError(f"The report's ai.{step} must be an object.")
        _require(insight, _AI_KEYS, f"ai.{step}")
    return section


def _checked_required(name: str, value: Any) -> dict[str, Any]:
    section = _checked_section(name, value)
    if section is None:
        raise ReportError(f"The report needs the {name} section, and none was given.")
    return section


def _checked_gates(gates: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every gate, in flow order; one without a recorded decision is pending."""
    given = json_safe(gates)
    if not isinstance(given, dict):
        raise ReportError(f"The report's gates must be an object, not {_kind(given)}.")
    unknown = sorted(set(given) - set(GATES))
    if unknown:
        raise ReportError(f"The report got an unknown gate {unknown[0]!r}.")
    return {gate: _checked_gate(gate, given.get(gate)) for gate in GATES}


def _checked_gate(gate: str, state: Any) -> dict[str, Any]:
    state = state or {"status": "pending"}
    if not isinstance(state, dict):
        raise ReportError(f"The report's gates.{gate} must be an object, not {_kind(state)}.")
    status = state.get("status")
    if status not in GATE_STATUSES:
        raise ReportError(
            f"Gate {gate} has status {status!r}, not one of {', '.join(sorted(GATE_STATUSES))}."
        )
    fields = {field: state.get(field) for field in GATE_FIELDS}
    extras = {k: v for k, v in state.items() if k != "status" and k not in GATE_FIELDS}
    return {"status": status, **fields, **extras}


def _status(gates: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """Final only once export authorization is approved; the reason says what is missing."""
    export = gates["export_authorization"]["status"]
    if export == "approved":
        return "final", "Export authorization is approved."
    return "draft", f"Export authorization is {export.replace('_', ' ')}, not approved."


def _require(section: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(section, dict):
        raise ReportError(f"The report's {where} must be an object, not {_kind(section)}.")
    missing = [k for k in keys if k not in section]
    if missing:
        raise ReportError(f"The report's {where} is missing the key {missing[0]!r}.")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@functools.cache
def _app_version() -> str | None:
    """The installed version, else the one in the checkout's pyproject (package = false)."""
    try:
        return importlib.metadata.version("signoff")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text("utf-8"))["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return None
