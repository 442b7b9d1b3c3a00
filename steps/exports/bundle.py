"""The bundle: a zip of the report, the other exports, the analysis's audit events and a
manifest naming each member's sha256, the report's status and content digest, and the
trail's sealed head as the events were read — so a reader can check the files, what was
approved and the events against the server's trail from the zip alone
(`python -m review verify BUNDLE.zip`)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steps.errors import ExportError
from steps.exports.files import describe_export, json_report
from steps.report import Report
from steps.text import safe_filename

BUNDLE_REPORT = "report.json"
BUNDLE_AUDIT = "audit_events.jsonl"
BUNDLE_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class AuditExtract:
    """An analysis's audit events as JSON Lines, and the trail's sealed head read right after
    them (so every event is at or before it); empty for a run with no trail."""

    events_jsonl: bytes = b""
    head: Mapping[str, Any] | None = None


def bundle(report: Report, *, files: Mapping[str, bytes], audit: AuditExtract) -> bytes:
    audit_events_jsonl = audit.events_jsonl
    _check_jsonl(audit_events_jsonl)
    members = {BUNDLE_REPORT: json_report(report)}
    for name, data in files.items():
        if name in (BUNDLE_REPORT, BUNDLE_AUDIT, BUNDLE_MANIFEST) or name in members:
            raise ExportError(f"The bundle already has a file named {name!r}.")
        if safe_filename(name) != name:
            raise ExportError(f"The bundle refuses the unsafe file name {name!r}.")
        members[name] = data
    members[BUNDLE_AUDIT] = audit_events_jsonl
    members[BUNDLE_MANIFEST] = _json_bytes(_manifest(report, members, audit.head))
    stamp = _zip_time(report.generated_at)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = _compression_for(name)
            archive.writestr(info, data)
    return buffer.getvalue()


def _compression_for(name: str) -> int:
    """Parquet is compressed already and HTML is mostly plotly.js: deflating them again
    costs seconds on big data and saves little, so they are stored as they are."""
    return zipfile.ZIP_STORED if name.endswith((".parquet", ".html")) else zipfile.ZIP_DEFLATED


def _manifest(
    report: Report, members: Mapping[str, bytes], head: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "schema_version": report.parts["schema_version"],
        "status": report.status,
        "content_sha256": report.content_sha256,
        "source_sha256": report.record.source.sha256,
        "audit_head": head,
        "generated_at": report.generated_at,
        "files": [describe_export(name, data).to_dict() for name, data in members.items()],
    }


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def _check_jsonl(data: bytes) -> None:
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError:
            raise ExportError(f"Audit events line {number} is not JSON.") from None


def _zip_time(generated_at: str) -> tuple[int, int, int, int, int, int]:
    """The report's own time, so one report always zips to the same bytes."""
    try:
        moment = dt.datetime.fromisoformat(generated_at)
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    return max(moment.timetuple()[:6], (1980, 1, 1, 0, 0, 0))
