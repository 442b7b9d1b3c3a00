"""What a load produced, and the few phrases its sentences share.

The report is part of the analysis record (`docs/report.md`, `source`): every field is
JSON-safe and says something a person can check against the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from steps.results import ToDict


@dataclass(frozen=True)
class SkippedRow(ToDict):
    line: int
    reason: str


@dataclass(frozen=True)
class LoadReport(ToDict):
    name: str
    sha256: str
    bytes: int
    file_type: str
    encoding: str
    delimiter: str | None
    quote: str | None
    has_header: bool
    sheet: str | None
    n_rows: int
    n_columns: int
    rows_skipped: int
    skipped: tuple[SkippedRow, ...]
    missing_markers_seen: tuple[str, ...]
    renamed_columns: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Loaded:
    con: duckdb.DuckDBPyConnection
    table: str
    report: LoadReport


@dataclass(frozen=True)
class Body:
    """What a loader of one kind of file found, for the report."""

    sha256: str
    encoding: str
    delimiter: str | None
    quote: str | None
    has_header: bool
    sheet: str | None
    n_columns: int
    skipped: tuple[SkippedRow, ...]
    rows_skipped: int
    missing_markers_seen: tuple[str, ...]
    renamed_columns: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]


def shown_name(name: str) -> str:
    """A file name fit for a one-line message (no control characters, not too long)."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in name)
    return clean if len(clean) <= 80 else clean[:77] + "..."


def megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MB ({n:,} bytes)"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def were(n: int) -> str:
    return "was" if n == 1 else "were"
