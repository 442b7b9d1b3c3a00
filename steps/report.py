"""The report: one versioned JSON document that every export is a view of.

It is built from the typed `Record` alone (`report_parts`), plus the gates' states and the
audit chain head the caller hands over, so the app and the headless run — which build the
same record with the same stage functions — write the same content for the same file and
the same answers; only the envelope (when, which gates are signed, the trail) differs.
`docs/report.md` documents every key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import importlib.metadata
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from steps.errors import ReportError
from steps.insights import StepInsights
from steps.recommend import reviewed
from steps.record import Record, RejectedFinding
from steps.results import ToDict, json_safe
from steps.text import json_sha256

SCHEMA_VERSION = "2.0"

GateStatus = Literal["pending", "approved", "rejected", "modified", "stale", "not_applicable"]

# The envelope records *when* and *what was decided about* the content; it is left out of
# the content digest so that approving (or exporting, which appends to the audit trail)
# does not change the very thing the approval is bound to.
ENVELOPE_KEYS = frozenset(
    {"generated_at", "status", "status_reason", "content_sha256", "gates", "audit"}
)


@dataclass(frozen=True)
class GateEntry(ToDict):
    """What the report says of one gate: its state now and the decision behind it.

    `review/` fills these from the trail; the report only orders and shows them, so a gate
    added to the table appears here with no change to this module.
    """

    id: str
    title: str
    status: GateStatus
    open: bool
    message: str
    verdict: str | None = None
    reviewer: str | None = None
    decided_at: str | None = None
    subject_sha256: str | None = None
    decided_subject_sha256: str | None = None
    notes: str | None = None
    modifications: Mapping[str, Any] | None = None
    details: Mapping[str, Any] | None = None
    blocked_by: str | None = None


@dataclass(frozen=True)
class AuditSummary(ToDict):
    """The report's `audit`: this analysis's events and the chain head they hang from.

    `chain_head` is the trail's sealed head (`{last_id, sha256, seal}`): with the server's
    key, `python -m review verify` can tell this very trail from a rewritten one.
    """

    head_sha256: str | None
    verified: bool
    events: tuple[Mapping[str, Any], ...]
    chain_head: Mapping[str, Any] | None = None


def report_parts(record: Record) -> dict[str, Any]:
    """The report's content: every section that the content digest covers, from the record.

    A step that did not run is `None`; nothing is filled in with a guess.
    """
    shown, analysed = record.shown, record.analysed
    rejected = {r.id: r for r in record.rejected}
    statistics = None
    if analysed is not None:
        statistics = {**analysed.statistics.to_dict(), "outliers": analysed.outliers.to_dict()}
    ai = {
        "overview": _marked(shown.overview_insights, rejected),
        "quality": _marked(shown.quality_insights, rejected),
    }
    if analysed is not None:
        ai["statistics"] = _marked(analysed.insights, rejected)
    return {
        "schema_version": SCHEMA_VERSION,
        "app": {"name": "signoff", "version": _app_version()},
        "parameters": {
            **(analysed.parameters.to_dict() if analysed is not None else {}),
            "target": record.model.target if record.model is not None else None,
        },
        "source": record.source.to_dict(),
        "overview": shown.overview.to_dict(),
        "quality": shown.quality.to_dict(),
        "cleaning": record.plan.to_dict(),
        "cleaning_effect": (
            delta.to_dict() if (delta := record.cleaning_delta) is not None else None
        ),
        "statistics": statistics,
        "model": record.approved_model.to_dict() if record.approved_model is not None else None,
        "recommendations": (
            reviewed(record.recommendations, record.reviews)
            if record.recommendations is not None
            else None
        ),
        "ai": ai,
        "alerts": alerts_section(record),
    }


def alerts_section(record: Record) -> list[dict[str, Any]]:
    """Each alert with its triage (`open` until the gate-1 reviewer decides it)."""
    return [
        {**alert.to_dict(), "key": alert.key, "triage": record.triage.of(alert).to_dict()}
        for alert in record.alerts
    ]


def _marked(insights: StepInsights, rejected: Mapping[str, RejectedFinding]) -> dict[str, Any]:
    """Findings rejected at gate 2 stay in the report, marked, with the reason: a reader sees
    what the reviewer overruled instead of finding it silently gone."""
    out = insights.to_dict()
    for finding in out["findings"]:
        overruled = rejected.get(finding["id"])
        finding["rejected"] = overruled is not None
        finding["rejection_reason"] = overruled.reason if overruled is not None else None
    return out


def content_sha256(parts: Mapping[str, Any]) -> str:
    """SHA-256 of the report's content (everything but the envelope) as canonical JSON.

    This is what an export-authorization approval is bound to: the same for the report
    object and for the report read back from its JSON file.
    """
    content = {k: v for k, v in parts.items() if k not in ENVELOPE_KEYS}
    return json_sha256(content)


def result_digest(result: ToDict) -> str:
    """SHA-256 of one step result's canonical JSON: how the trail and the gates name it."""
    return json_sha256(result.to_dict())


@dataclass(frozen=True)
class Report:
    """One analysis's report: the record's content, the gates in flow order, the trail.

    `to_dict()` is the JSON document; every export renders this object, so a figure cannot
    read differently in two of them.
    """

    record: Record
    parts: Mapping[str, Any]
    gates: tuple[GateEntry, ...]
    audit: AuditSummary | None
    generated_at: str
    content_sha256: str

    @property
    def status(self) -> Literal["draft", "final"]:
        return "final" if self._blocker() is None else "draft"

    @property
    def status_reason(self) -> str:
        blocker = self._blocker()
        if blocker is None:
            return f"{self.gates[-1].title} is approved."
        return f"{blocker.title} is {blocker.status.replace('_', ' ')}, not approved."

    def _blocker(self) -> GateEntry | None:
        """Final only once every gate is open and the last one (export authorization) is
        approved: the first gate that stands in the way, if any."""
        closed = next((g for g in self.gates if not g.open), None)
        if closed is not None:
            return closed
        return None if self.gates[-1].status == "approved" else self.gates[-1]

    def gate(self, gate_id: str) -> GateEntry:
        return next(g for g in self.gates if g.id == gate_id)

    def to_dict(self) -> dict[str, Any]:
        parts = dict(self.parts)
        return {
            "schema_version": parts.pop("schema_version"),
            "status": self.status,
            "status_reason": self.status_reason,
            "generated_at": self.generated_at,
            **parts,
            "gates": {
                g.id: {k: v for k, v in g.to_dict().items() if k != "id"} for g in self.gates
            },
            "audit": self.audit.to_dict() if self.audit is not None else None,
            "content_sha256": self.content_sha256,
        }


def build_report(
    record: Record,
    gates: Iterable[GateEntry],
    *,
    audit: AuditSummary | None = None,
    generated_at: str | None = None,
) -> Report:
    """Stamp the record's content with the gates (in flow order) and the audit summary."""
    ordered = tuple(gates)
    ids = [g.id for g in ordered]
    if not ordered:
        raise ReportError("A report needs the state of its gates, and none was given.")
    if len(set(ids)) != len(ids):
        raise ReportError("The report got the same gate twice.")
    parts = json_safe(report_parts(record))
    return Report(
        record=record,
        parts=parts,
        gates=ordered,
        audit=audit,
        generated_at=generated_at or _now(),
        content_sha256=content_sha256(parts),
    )


def with_gates(report: Report, gates: Iterable[GateEntry], audit: AuditSummary | None) -> Report:
    """The same content under newer gate states (the final report after gate 5)."""
    return dataclasses.replace(report, gates=tuple(gates), audit=audit, generated_at=_now())


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
