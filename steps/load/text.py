"""Loading a text file (CSV, TSV, TXT): encoding, dialect, the DuckDB parse, and the report.

The order is that of cost: what the bytes say (encoding, longest line), then what the
first megabyte says (dialect, preamble, width), and only then DuckDB's sample and parse.
A sheet of a workbook, written out as CSV, goes through the same `read_table`, so a table
reads the same from either kind of file.
"""

from __future__ import annotations

import io
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
    Sniffed,
    is_integer_type,
    markers_seen,
    parse_exact,
    sniff,
)
from steps.load.report import Body, ReadOptions, Source, megabytes, plural, shown_name, were
from steps.load.rows import (
    first_per_line,
    physical_lines,
    refuse_mostly_broken,
    row_warnings,
    skipped_rows,
)
from steps.load.sniff import (
    Dialect,
    collapse_spaces,
    head_text,
    likely_delimiter,
    sniff_dialect,
    unique_names,
)
from steps.load.values import date_order_warnings, date_orders, infinities, infinity_warnings

# DuckDB's own longest line (`max_line_size`), less a margin for the line end.
_DUCKDB_LINE_BYTES = 2_000_000
# How a value holding a likely delimiter is described, when a file was read as one column.
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "a tab", "|": "'|'", " ": "a space", ":": "':'"}


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


def _as_utf8(job: Source, head: bytes, workdir: Path) -> tuple[Path, Scan, Encoding, list[str]]:
    """The file as clean UTF-8 for DuckDB: as it is when it already is, else transcoded.

    The same pass measures the longest line, refused past `max_line_bytes` before any
    parser holds it."""
    bom = bom_encoding(head)
    scanned = scan(job.path, skip_utf8_check=bom is not None and bom.startswith("utf-16"))
    limit = job.limits.max_line_bytes
    if scanned.longest_line > limit:
        end = scanned.longest_line_end
        line = physical_lines(job.path, [end])[end]
        raise LoadError(
            f"{job.shown} has a line of {megabytes(scanned.longest_line)} (line {line:,}), "
            f"over the limit of {megabytes(limit)} for one line."
        )
    encoding = choose_encoding(job.path, head, scanned)
    _refuse_binary(job.name, decoded_head(head, encoding))
    if encoding.codec is None:
        return job.path, scanned, encoding, []
    warnings = []
    utf8 = workdir / "utf8.csv"
    try:
        removed = transcode(job.path, utf8, encoding)
    except TranscodeError as error:
        raise LoadError(f"{job.shown} is not valid {encoding.name} text: {error}.") from None
    if removed:
        warnings.append(f"{plural(removed, 'NUL byte')} {were(removed)} removed from the text.")
    if encoding.errors == "replace":
        warnings.append("Bytes that are not valid UTF-8 were replaced with \ufffd.")
    return utf8, scanned, encoding, warnings


def _columns(
    dialect: Dialect, has_header: bool, sniffed: Sniffed
) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Column names, renamings and the types to read, one per field of the header.

    Booleans are read as text so that `Yes`/`No` stay `Yes`/`No` in every view and export
    (Step 1 still calls the column boolean); numbers with infinities, which DuckDB's sample
    calls text, are read as doubles.
    """
    if has_header:
        width = len(dialect.first_record)
        names, renamed = unique_names(list(dialect.first_record))
    else:
        width = dialect.usual_width
        names, renamed = [f"field_{i + 1}" for i in range(width)], []
    types = list(sniffed.types[:width]) + ["VARCHAR"] * (width - len(sniffed.types))
    types = ["VARCHAR" if t == "BOOLEAN" else t for t in types]
    for j in dialect.infinite_columns:
        if j < width and types[j] == "VARCHAR":
            types[j] = "DOUBLE"
    return names, renamed, types


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


def _collapse_file(src: Path, dst: Path) -> None:
    """Copy `src` with runs of spaces collapsed as `collapse_spaces` does, line by line."""
    with (
        open(src, encoding="utf-8", newline="") as fin,
        open(dst, "w", encoding="utf-8", newline="") as fout,
    ):
        for line in fin:
            fout.write(collapse_spaces(line))


def _first_line_fields(path: Path, delimiter: str) -> int:
    """The fields of a first line longer than the head, by its delimiters (streamed; the line
    is within the line limit, checked before)."""
    fields = 1
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), ""):
            end = min((i for i in (chunk.find("\n"), chunk.find("\r")) if i >= 0), default=-1)
            fields += chunk[: end if end >= 0 else len(chunk)].count(delimiter)
            if end >= 0:
                break
    return fields


def _refuse_too_wide(job: Source, dialect: Dialect, path: Path, head: str) -> None:
    """Refuse a table wider than `max_columns`, judged from its head before DuckDB sees it;
    a first line longer than the head is counted by its delimiters."""
    width = max(len(dialect.first_record), dialect.usual_width)
    if "\n" not in head and "\r" not in head:
        width = max(width, _first_line_fields(path, dialect.delimiter))
    if width > job.limits.max_columns:
        raise LoadError(
            f"{job.shown} has {width:,} columns, over the limit of {job.limits.max_columns:,} "
            "that can be analysed; split it or keep fewer columns."
        )


@dataclass(frozen=True)
class _Read:
    path: Path
    plan: Plan
    has_header: bool
    renamed: list[tuple[str, str]]
    sampled_types: list[str]
    parsed: Parsed


def read_table(
    con: duckdb.DuckDBPyConnection,
    job: Source,
    path: Path,
    file_type: str,
    staging: str,
    workdir: Path,
    longest_line: int | None = None,
) -> _Read:
    """Dialect, preamble and header from the head, types from DuckDB's sample, the parse.

    `longest_line` (bytes), when the caller measured it, lets DuckDB keep its own line limit
    for a file whose lines fit it; unmeasured, lines up to the loader's limit are read."""
    max_line_bytes = (
        job.limits.max_line_bytes
        if longest_line is None or longest_line >= _DUCKDB_LINE_BYTES
        else None
    )
    text, complete = head_text(path)
    if not text.strip():
        raise LoadError(f"{job.shown} holds no data, only blank lines.")
    dialect = sniff_dialect(text, complete, file_type, job.options)
    _refuse_too_wide(job, dialect, path, text)
    if dialect.delimiter == " ":
        path, spaced = workdir / "spaces.csv", path
        _collapse_file(spaced, path)
    sniffed = sniff(con, path, dialect, job.options.header, max_line_bytes)
    has_header = sniffed.has_header if job.options.header is None else job.options.header
    names, renamed, types = _columns(dialect, has_header, sniffed)
    plan = Plan(
        path,
        dialect,
        has_header,
        tuple(names),
        sniffed.date_format,
        sniffed.timestamp_format,
        max_line_bytes,
    )
    parsed = parse_exact(con, plan, staging, types)
    return _Read(path, parsed.plan, has_header, renamed, types, parsed)


def _one_column_warning(read: _Read, options: ReadOptions) -> list[str]:
    """When everything landed in one column but most lines hold a likely delimiter, say
    which, and how to choose it (the detector only splits on what the rows agree on)."""
    if len(read.plan.names) != 1 or options.delimiter is not None:
        return []
    text, complete = head_text(read.path)
    lines = io.StringIO(text, newline="").readlines()[read.plan.dialect.skip_lines :]
    delimiter = likely_delimiter("".join(lines), complete)
    if delimiter is None:
        return []
    shown = _DELIMITER_NAMES[delimiter]
    return [
        f"Every row was read as one column, but most hold {shown}; if that separates the "
        f"fields, choose {shown} as the delimiter in the read options."
    ]


def load_text(
    con: duckdb.DuckDBPyConnection,
    job: Source,
    file_type: str,
    head: bytes,
    staging: str,
    workdir: Path,
) -> Body:
    path, scanned, encoding, warnings = _as_utf8(job, head, workdir)
    # Lines were measured in the file's own bytes; transcoded, they may have grown.
    longest = scanned.longest_line if path == job.path else None
    try:
        read = read_table(con, job, path, file_type, staging, workdir, longest)
    except duckdb.Error as exc:
        # DuckDB's strict reader stops at a file mixing CRLF and LF line endings.
        if "invalid state" not in str(exc):
            raise
        path, unmixed = workdir / "lf.csv", path
        _rewrite_newlines(unmixed, path)
        read = read_table(con, job, path, file_type, staging, workdir, longest)
        warnings.append("Line endings mix CRLF and LF; every CRLF was read as LF.")
    return table_body(
        con, job, read, staging, warnings, sha256=scanned.sha256, encoding=encoding.name
    )


def table_body(
    con: duckdb.DuckDBPyConnection,
    job: Source,
    read: _Read,
    staging: str,
    warnings: list[str],
    *,
    sha256: str,
    encoding: str,
) -> Body:
    """The report of a parsed table: skipped and padded rows, types, infinities, dates."""
    plan, parsed = read.plan, read.parsed
    names = list(plan.names)
    skipped, shown = skipped_rows(read.path, parsed.skipped, plan.dialect.delimiter, len(names))
    padded = first_per_line(parsed.padded)
    refuse_mostly_broken(job.name, skipped, shown, row_count(con, staging))
    first_pad = physical_lines(read.path, [padded[0].byte])[padded[0].byte] if padded else 0
    found_infinities = infinities(con, staging, plan.names, parsed.types)
    orders = date_orders(con, staging, plan, parsed.types)
    warnings = [
        *warnings,
        *row_warnings(skipped, shown, padded, first_pad),
        *_type_warnings(names, read.sampled_types, parsed.types),
        *infinity_warnings(found_infinities),
        *date_order_warnings(orders),
        *_one_column_warning(read, job.options),
    ]
    return Body(
        sha256=sha256,
        encoding=encoding,
        delimiter=plan.dialect.delimiter,
        quote='"',
        has_header=read.has_header,
        sheet=None,
        n_columns=len(names),
        skipped=shown,
        rows_skipped=len(skipped),
        missing_markers_seen=markers_seen(con, plan, staging, parsed.padding),
        renamed_columns=tuple(read.renamed),
        warnings=tuple(warnings),
        lines_skipped=plan.dialect.skip_lines,
        preamble=plan.dialect.preamble,
        infinities=found_infinities,
        date_orders=orders,
    )
