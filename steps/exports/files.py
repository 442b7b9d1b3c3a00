"""What every export shares: the record of an exported file, and the JSON report itself."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePath

from steps.report import Report
from steps.results import ToDict

MEDIA_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".zip": "application/zip",
    ".jsonl": "application/jsonl",
}


@dataclass(frozen=True)
class ExportFile(ToDict):
    """What the audit trail and the bundle manifest record about one exported file."""

    filename: str
    media_type: str
    sha256: str
    bytes: int


def describe_export(filename: str, data: bytes) -> ExportFile:
    """The manifest entry of `data` saved as `filename` (media type from its suffix)."""
    suffix = PurePath(filename).suffix.lower()
    return ExportFile(
        filename=filename,
        media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
    )


def json_report(report: Report) -> bytes:
    """The report as indented UTF-8 JSON; NaN is refused rather than written as invalid JSON."""
    text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")
