"""Loading a text file (CSV, TSV, TXT): encoding, dialect, the DuckDB parse, and the report.

Rows DuckDB cannot read are counted and listed with the line numbers an editor shows; a
file missing most of its rows is refused rather than shown as a table.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb

from steps.engine import row_count
from steps.errors import LoadError, TranscodeError
from steps.load.encoding import (
    CHUNK_BYTES,
    Encoding,
    Scan,
    bom_encoding,
    choose_encoding,
    decoded_head,
    scan,
    transcode,
)
from steps.load.parse import (
    Parsed,
    Plan,
    Reject,
    Sniffed,
    is_integer_type,
    markers_seen,
    parse_exact,
    sniff,
)
from steps.load.report import Body, SkippedRow, plural, shown_name, were
from steps.load.sniff import Dialect, head_text, sniff_dialect, unique_names

SKIPPED_LISTED = 20
_COUNTS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _refuse_binary(name: str, text: str) -> None:
    """Refuse content that decodes but is largely control characters: a binary file.

    A few NUL bytes are tolerated (they are removed); many mean binary data.
    """
    if not text:
        return
    nuls = text.count("\x00")
    odd = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\x0c\x00")
    odd += text.count("\ufffd")
    if odd / len(text) > 0.05 or nuls / len(text) > 0.1:
        raise LoadError(f"{shown_name(name)} holds binary data, not text; it cannot be loaded.")


def _as_utf8(
    path: Path, name: str, head: bytes, workdir: Path
) -> tuple[Path, Scan, Encoding, list[str]]:
    """The file as clean UTF-8 for DuckDB: as it is when it already is, else transcoded."""
    bom = bom_encoding(head)
    scanned = scan(path, skip_utf8_check=bom is not None and bom.startswith("utf-16"))
    encoding = choose_encoding(path, head, scanned)
    _refuse_binary(name, decoded_head(head, encoding))
    if encoding.codec is None:
        return path, scanned, encoding, []
    warnings = []
    utf8 = workdir / "utf8.csv"
    try:
        removed = transcode(path, utf8, encoding)
    except TranscodeError as error:
        raise LoadError(f"{shown_name(name)} is not valid {encoding.name} text: {error}.") from None
    if removed:
        warnings.append(f"{plural(removed, 'NUL byte')} {were(removed)} removed from the text.")
    if encoding.errors == "replace":
        warnings.append("Bytes that are not valid UTF-8 were replaced with \ufffd.")
    return utf8, scanned, encoding, warnings


def _columns(
    dialect: Dialect, sniffed: Sniffed
) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Column names, renamings and sampled types, one per field of the header."""
    if sniffed.has_header:
        width = len(dialect.first_record)
        names, renamed = unique_names(list(dialect.first_record))
    else:
        width = dialect.usual_width
        names, renamed = [f"field_{i + 1}" for i in range(width)], []
    types = list(sniffed.types[:width]) + ["VARCHAR"] * (width - len(sniffed.types))
    return names, renamed, types


def _row_warnings(
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


def _type_warnings(names: list[str], sampled: list[str], final: tuple[str, ...]) -> list[str]:
    return [
        f"Column {column!r} looked like {before} in the sampled rows but holds values that "
        f"do not fit it exactly, so it was read as {after}."
        for column, before, after in zip(names, sampled, final, strict=True)
        if before != after and not (is_integer_type(before) and after == "BIGINT")
    ]


def _rewrite_newlines(src: Path, dst: Path) -> None:
    """Copy `src` with every CRLF turned into LF, streaming (a CR may end one chunk)."""
    carry = b""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for chunk in iter(lambda: fin.read(CHUNK_BYTES), b""):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""
            fout.write(chunk[: len(chunk) - len(carry)].replace(b"\r\n", b"\n"))
        fout.write(carry)


@dataclass(frozen=True)
class _Read:
    plan: Plan
    sniffed: Sniffed
    renamed: list[tuple[str, str]]
    sampled_types: list[str]
    parsed: Parsed


def _read_table(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, file_type: str, staging: str
) -> _Read:
    """Dialect and header from the head, types from DuckDB's sample, then the parse."""
    text, complete = head_text(path)
    if not text.strip():
        raise LoadError(f"{shown_name(name)} holds no data, only blank lines.")
    dialect = sniff_dialect(text, complete, file_type)
    sniffed = sniff(con, path, dialect)
    names, renamed, types = _columns(dialect, sniffed)
    plan = Plan(
        path,
        dialect,
        sniffed.has_header,
        tuple(names),
        sniffed.date_format,
        sniffed.timestamp_format,
    )
    return _Read(plan, sniffed, renamed, types, parse_exact(con, plan, staging, types))


def load_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    file_type: str,
    head: bytes,
    staging: str,
    workdir: Path,
) -> Body:
    path, scanned, encoding, warnings = _as_utf8(path, name, head, workdir)
    try:
        read = _read_table(con, path, name, file_type, staging)
    except duckdb.Error as exc:
        # DuckDB's strict reader stops at a file mixing CRLF and LF line endings.
        if "invalid state" not in str(exc):
            raise
        path, unmixed = workdir / "lf.csv", path
        _rewrite_newlines(unmixed, path)
        read = _read_table(con, path, name, file_type, staging)
        warnings.append("Line endings mix CRLF and LF; every CRLF was read as LF.")
    plan, sniffed, parsed, names = read.plan, read.sniffed, read.parsed, list(read.plan.names)
    skipped = _first_per_line(parsed.skipped)
    padded = _first_per_line(parsed.padded)
    listed = skipped[:SKIPPED_LISTED]
    lines = _physical_lines(path, [r.byte for r in listed + padded[:1]])
    shown = tuple(SkippedRow(lines[r.byte], _reason(r)) for r in listed)
    _refuse_mostly_broken(name, skipped, shown, row_count(con, staging))
    first_pad = lines[padded[0].byte] if padded else 0
    warnings += _row_warnings(skipped, shown, padded, first_pad)
    warnings += _type_warnings(names, read.sampled_types, parsed.types)
    return Body(
        sha256=scanned.sha256,
        encoding=encoding.name,
        delimiter=plan.dialect.delimiter,
        quote='"',
        has_header=sniffed.has_header,
        sheet=None,
        n_columns=len(names),
        skipped=shown,
        rows_skipped=len(skipped),
        missing_markers_seen=markers_seen(con, plan, staging, parsed.padding),
        renamed_columns=tuple(read.renamed),
        warnings=tuple(warnings),
    )


def _refuse_mostly_broken(
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


def _physical_lines(path: Path, offsets: list[int]) -> dict[int, int]:
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


def _reason(reject: Reject) -> str:
    counts = _COUNTS.search(reject.message)
    if reject.error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS") and counts:
        expected, found = counts.groups()
        return f"{found} fields where the header has {expected}"
    if reject.error_type == "UNQUOTED VALUE":
        return "a quote in the wrong place"
    if reject.error_type == "LINE SIZE OVER MAXIMUM":
        return "a line longer than the maximum line size"
    if reject.error_type.startswith("INVALID"):
        return "bytes that are not valid text"
    return reject.error_type.lower()


def _first_per_line(rejects: tuple[Reject, ...]) -> list[Reject]:
    first: dict[int, Reject] = {}
    for reject in rejects:
        first.setdefault(reject.line, reject)
    return [first[line] for line in sorted(first)]
