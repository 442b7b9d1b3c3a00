"""Rows DuckDB could not read: which lines they are, why, and when there are too many.

A rejected line is read again with Python's csv module to count its fields, because DuckDB
stops counting one past the header's width (a 14-field row under a 3-field header is "4
fields" to it). Line numbers are physical lines, as an editor shows them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from steps.errors import LoadError
from steps.load.encoding import CHUNK_BYTES
from steps.load.parse import Reject
from steps.load.report import SkippedRow, plural, shown_name, were

SKIPPED_LISTED = 20
_REREAD_BYTES = 1 << 20


def row_warnings(
    skipped: list[Reject], shown: tuple[SkippedRow, ...], padded: list[Reject], first_pad: int
) -> list[str]:
    warnings = []
    if skipped:
        first = shown[0]
        warnings.append(
            f"{plural(len(skipped), 'row')} could not be read and {were(len(skipped))} left "
            f"out (the first is line {first.line}: {first.reason})."
        )
    if padded:
        warnings.append(
            f"{plural(len(padded), 'row')} had fewer fields than the header; the missing "
            f"fields are empty (the first is line {first_pad})."
        )
    return warnings


def refuse_mostly_broken(
    name: str, skipped: list[Reject], shown: tuple[SkippedRow, ...], n_rows: int
) -> None:
    """A table missing most of its rows is no table: refuse rather than present it."""
    for reject in skipped:
        if reject.error_type == "UNQUOTED VALUE" and "unterminated" in reject.message.lower():
            line = shown[0].line if shown else reject.line
            raise LoadError(
                f"{shown_name(name)} has a quote that is never closed, near line {line}, so the "
                "rows after it cannot be told apart."
            )
    if not skipped or len(skipped) <= n_rows:
        return
    first = shown[0]
    raise LoadError(
        f"{shown_name(name)} could not be read reliably: {len(skipped):,} of "
        f"{len(skipped) + n_rows:,} rows are malformed, the first on line {first.line} "
        f"({first.reason})."
    )


def skipped_rows(
    path: Path, rejects: tuple[Reject, ...], delimiter: str, header_width: int
) -> tuple[list[Reject], tuple[SkippedRow, ...]]:
    """Each rejected line once, and the first `SKIPPED_LISTED` of them with line and reason."""
    skipped = first_per_line(rejects)
    listed = skipped[:SKIPPED_LISTED]
    lines = physical_lines(path, [r.byte for r in listed])
    shown = tuple(
        SkippedRow(lines[r.byte], _reason(path, r, delimiter, header_width)) for r in listed
    )
    return skipped, shown


def _fields_at(path: Path, byte: int, delimiter: str) -> int | None:
    """How many fields the record starting at `byte` has, read by Python's csv module."""
    with open(path, "rb") as f:
        f.seek(byte)
        text = f.read(_REREAD_BYTES).decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    try:
        return len(next(reader))
    except (csv.Error, StopIteration):
        return None


def _reason(path: Path, reject: Reject, delimiter: str, header_width: int) -> str:
    if reject.error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
        found = _fields_at(path, reject.byte, delimiter)
        if found is not None:
            return f"{found} fields where the header has {header_width}"
    if reject.error_type == "UNQUOTED VALUE":
        return "a quote in the wrong place"
    if reject.error_type == "LINE SIZE OVER MAXIMUM":
        return "a line longer than the maximum line size"
    if reject.error_type.startswith("INVALID"):
        return "bytes that are not valid text"
    return reject.error_type.lower()


def first_per_line(rejects: tuple[Reject, ...]) -> list[Reject]:
    first: dict[int, Reject] = {}
    for reject in rejects:
        first.setdefault(reject.line, reject)
    return [first[line] for line in sorted(first)]


def physical_lines(path: Path, offsets: list[int]) -> dict[int, int]:
    """Line numbers (1-based, as an editor shows them) of byte offsets in a file."""
    wanted = sorted(set(offsets))
    lines: dict[int, int] = {}
    seen_newlines = 0
    position = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            end = position + len(chunk)
            while wanted and wanted[0] < end:
                offset = wanted.pop(0)
                lines[offset] = seen_newlines + chunk[: offset - position].count(b"\n") + 1
            if not wanted:
                break
            seen_newlines += chunk.count(b"\n")
            position = end
    for offset in wanted:
        lines[offset] = seen_newlines + 1
    return lines
