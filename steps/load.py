"""Load a CSV/TSV/TXT or Excel file into a DuckDB table, safely.

Everything that can be checked before parsing is checked first (size, type by extension
and content, encoding), so a bad file gets one clear sentence instead of a half-parsed
table. The parse itself is DuckDB's: Python only looks at the first megabyte (dialect,
header) and streams the bytes once for the fingerprint and the UTF-8 check
(`steps.encoding`, which also transcodes the files that need it), so a 200 MB file costs
one DuckDB parse plus a few cheap passes. Rows DuckDB cannot read are counted and listed
with their line numbers; the report says so, never a silent partial table.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import itertools
import re
import tempfile
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from steps.encoding import (
    CHUNK_BYTES,
    Encoding,
    Scan,
    TranscodeError,
    bom_encoding,
    choose_encoding,
    decoded_head,
    scan,
    transcode,
)
from steps.engine import (
    columns,
    connect,
    memory_limit_for,
    quote_ident,
    quote_literal,
    row_count,
)
from steps.errors import LoadError
from steps.results import ToDict
from steps.settings import DEFAULT_MAX_MB, MIB

if TYPE_CHECKING:  # imported where used: only some files need them, and pyarrow is large
    import pyarrow as pa
    import python_calamine

# pandas' default `na_values` (read_csv), so a file reads the same here as in pandas.
MISSING_MARKERS: tuple[str, ...] = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
DELIMITERS = (",", ";", "\t", "|")
TEXT_TYPES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "txt"}
EXCEL_TYPES = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls"}
SKIPPED_LISTED = 20

_HEAD = 1 << 20
_HEAD_RECORDS = 2000
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
# Content that is certainly not a table of text, whatever the file is called. Short or
# text-like signatures (MZ, PAR1, BZh) are left to the control-character check, since a
# header such as "PAR1,PAR2" is fine.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (_ZIP_MAGIC, "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (_OLE2_MAGIC, "an old-style Office document (such as .xls)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program"),
)
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
_PLAIN_INTEGER = re.compile(r"[-+]?\d+")
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_QUOTED = re.compile(r'"[^"]*"')
_COUNTS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


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


def sha256_of(source: Path | str | bytes) -> str:
    """The dataset fingerprint: SHA-256 of the file's bytes, read in chunks."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha256(source).hexdigest()
    return scan(Path(source), skip_utf8_check=True).sha256


def load(
    source: Path | str | bytes,
    *,
    name: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    table: str = "data",
    limit: int = DEFAULT_MAX_MB * MIB,
    memory_limit: str | None = None,
    sheet: str | None = None,
) -> Loaded:
    """Load `source` (a path, or the bytes of an upload) into `table`, replacing it.

    `limit` is the size limit in bytes (`Settings.max_bytes`); `sheet` picks an Excel
    sheet by name (default: the first sheet that holds data). Without `con`, a new
    connection is opened with a memory limit fitted to the file (`memory_limit_for`), or
    `memory_limit` when one is configured (`Settings.duckdb_memory`).
    Raises `LoadError`.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = name or "upload"
        check_size(len(source), limit, name)
        with tempfile.TemporaryDirectory(prefix="signoff-upload-") as tmp:
            path = Path(tmp) / ("upload" + _known_suffix(name))
            path.write_bytes(source)
            return _load_fitted(path, name, con, table, limit, memory_limit, sheet)
    path = Path(source)
    name = name or path.name
    if not path.is_file():
        raise LoadError(f"There is no file called {_shown(name)}.")
    return _load_fitted(path, name, con, table, limit, memory_limit, sheet)


def _load_fitted(
    path: Path,
    name: str,
    con: duckdb.DuckDBPyConnection | None,
    table: str,
    limit: int,
    memory_limit: str | None,
    sheet: str | None,
) -> Loaded:
    """Load into `con`, or into a new connection whose memory limit fits the file: its size
    while parsing, then raised if the exact quantiles of the loaded table need more."""
    if con is not None:
        return _load_path(path, name, con, table, limit, sheet)
    size = path.stat().st_size
    width = _header_width(path)
    con = connect(memory_limit=memory_limit_for(size, width=width, configured=memory_limit))
    loaded = _load_path(path, name, con, table, limit, sheet)
    numeric = sum(c.is_numeric for c in columns(con, table))
    fitted = memory_limit_for(
        size,
        rows=loaded.report.n_rows,
        numeric_columns=numeric,
        width=loaded.report.n_columns,
        configured=memory_limit,
    )
    con.execute(f"SET memory_limit = {quote_literal(fitted)}")
    return loaded


# ---------------------------------------------------------------- checks before parsing


def _shown(name: str) -> str:
    """A file name fit for a one-line message (no control characters, not too long)."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in name)
    return clean if len(clean) <= 80 else clean[:77] + "..."


def _known_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix in TEXT_TYPES or suffix in EXCEL_TYPES else ""


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MB ({n:,} bytes)"


def check_size(size: int, limit: int, name: str) -> None:
    """Refuse a file over the size limit, in one sentence naming both sizes."""
    if size > limit:
        raise LoadError(
            f"{_shown(name)} is {_megabytes(size)}, over the limit of {_megabytes(limit)}."
        )


def _header_width(path: Path) -> int:
    """A cheap upper guess of the column count (the most frequent delimiter in the first
    line, plus one), made before parsing so the memory limit can allow for a wide file."""
    first = _read_head(path).split(b"\n", 1)[0]
    return 1 + max(first.count(d) for d in (b",", b";", b"\t", b"|"))


def _read_head(path: Path, n: int = _HEAD) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _binary_kind(head: bytes) -> str | None:
    """What a file's first bytes say it is, when that is something other than text."""
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _is_workbook_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "xl/workbook.xml" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _file_type(path: Path, name: str, head: bytes) -> str:
    """The type to load as: extension and content must agree, else a refusal."""
    suffix = Path(name).suffix.lower()
    shown = _shown(name)
    if suffix in EXCEL_TYPES:
        if head.startswith(_ZIP_MAGIC) and _is_workbook_zip(path):
            return "xlsx"
        if suffix == ".xls" and head.startswith(_OLE2_MAGIC):
            return "xls"
        raise LoadError(f"{shown} is named {suffix} but is not an Excel workbook.")
    if suffix and suffix not in TEXT_TYPES:
        raise LoadError(
            f"{shown} is a {suffix} file; only .csv, .tsv, .txt, .xlsx and .xls files "
            "can be loaded."
        )
    kind = _binary_kind(head)
    if kind is None:
        return TEXT_TYPES.get(suffix, "txt")
    if not suffix and head.startswith(_ZIP_MAGIC) and _is_workbook_zip(path):
        return "xlsx"
    if not suffix and head.startswith(_OLE2_MAGIC):
        return "xls"
    described = f"a {suffix} file" if suffix else "a text file"
    raise LoadError(f"{shown} is {kind}, not {described}; it cannot be loaded as a table.")


# ---------------------------------------------------------------- dialect and header


@dataclass(frozen=True)
class _Dialect:
    delimiter: str
    first_record: tuple[str, ...]
    usual_width: int
    decimal_comma: bool
    newline: str | None = None


def _head_text(path: Path) -> tuple[str, bool]:
    """The first megabyte of a UTF-8 file as text, and whether that is the whole file."""
    raw = _read_head(path)
    text = raw.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    return text, len(raw) < _HEAD


def _records(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    """The head's records (blank lines dropped); a record cut by the head's end is dropped."""
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False
    )
    try:
        rows = list(itertools.islice(reader, _HEAD_RECORDS + 1))
    except csv.Error:
        return []
    if not complete or len(rows) > _HEAD_RECORDS:
        rows = rows[:-1] or rows
    return [row for row in rows if row]


def _usual_width(rows: list[list[str]]) -> int:
    counts = [len(row) for row in rows]
    return max(set(counts), key=counts.count) if counts else 0


def _delimiter_score(rows: list[list[str]]) -> float:
    """How table-like the rows are: share of rows with the usual field count, header bonus."""
    counts = [len(row) for row in rows]
    usual = _usual_width(rows)
    if usual < 2:
        return 0.0
    return counts.count(usual) / len(counts) + (0.5 if counts[0] == usual else 0.0)


def _dialect(text: str, complete: bool, file_type: str) -> _Dialect:
    order = ("\t", ",", ";", "|") if file_type == "tsv" else DELIMITERS
    parsed = {d: _records(text, d, complete) for d in order}
    delimiter = max(order, key=lambda d: _delimiter_score(parsed[d]))
    rows = parsed[delimiter]
    first = tuple(rows[0]) if rows else ()
    decimal_comma = delimiter != "," and _uses_decimal_comma(rows[1:])
    return _Dialect(delimiter, first, _usual_width(rows), decimal_comma, _newline(text))


def _newline(text: str) -> str | None:
    """The line ending used outside quotes, when the head uses exactly one kind.

    DuckDB guesses line endings from raw bytes, quotes ignored: a CR inside a quoted header
    makes it read the file as CR-terminated and return no rows at all. Named explicitly,
    the ending is read right; a head that mixes endings is left to DuckDB's own handling.
    """
    unquoted = _QUOTED.sub("", text)
    crlf = unquoted.count("\r\n")
    counts = {
        "\\r\\n": crlf,
        "\\n": unquoted.count("\n") - crlf,
        "\\r": unquoted.rstrip("\r").count("\r") - crlf,
    }
    used = [ending for ending, n in counts.items() if n]
    return used[0] if len(used) == 1 else None


def _uses_decimal_comma(rows: list[list[str]]) -> bool:
    """Some column holds only numbers, at least one written with a decimal comma."""
    width = max((len(row) for row in rows), default=0)
    for j in range(width):
        values = [row[j] for row in rows if j < len(row) and row[j] not in MISSING_MARKERS]
        if (
            values
            and any(_DECIMAL_COMMA.fullmatch(v) for v in values)
            and all(_DECIMAL_COMMA.fullmatch(v) or _PLAIN_INTEGER.fullmatch(v) for v in values)
        ):
            return True
    return False


def _unique_names(raw: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Visible, unique column names (DuckDB compares names case-insensitively).

    A blank header becomes `field_<position>`; a repeated one gets `_2`, `_3`, ...; the
    first occurrence of a name keeps it.
    """
    names: list[str | None] = [None] * len(raw)
    used: set[str] = set()
    for i, header in enumerate(raw):
        if header.strip() and header.lower() not in used:
            names[i] = header
            used.add(header.lower())
    for i, header in enumerate(raw):
        if names[i] is not None:
            continue
        base = header if header.strip() else f"field_{i + 1}"
        candidate, k = base, 2
        while candidate.lower() in used:
            candidate, k = f"{base}_{k}", k + 1
        names[i] = candidate
        used.add(candidate.lower())
    final = [n for n in names if n is not None]
    renamed = [(r, n) for r, n in zip(raw, final, strict=True) if r != n]
    return final, renamed


# ---------------------------------------------------------------- parsing with DuckDB


def _sql_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(quote_literal(v) for v in values) + "]"


@dataclass(frozen=True)
class _Sniffed:
    has_header: bool
    types: tuple[str, ...]
    date_format: str | None
    timestamp_format: str | None


def _sniff(con: duckdb.DuckDBPyConnection, path: Path, dialect: _Dialect) -> _Sniffed:
    """DuckDB's header and type detection on a sample, with our delimiter and quoting."""
    options = [
        *_dialect_options(dialect),
        f"nullstr={_sql_list(MISSING_MARKERS)}",
        "null_padding=true",
    ]
    sql = (
        "SELECT HasHeader, Columns, DateFormat, TimestampFormat "
        f"FROM sniff_csv({quote_literal(str(path))}, {', '.join(options)})"
    )
    try:
        has_header, columns, date_format, timestamp_format = con.execute(sql).fetchone()
    except duckdb.Error:
        return _Sniffed(True, (), None, None)
    return _Sniffed(
        bool(has_header), tuple(c["type"] for c in columns), date_format, timestamp_format
    )


def _dialect_options(dialect: _Dialect) -> list[str]:
    options = [
        f"delim={quote_literal(dialect.delimiter)}",
        "quote='\"'",
        "escape='\"'",
    ]
    if dialect.newline:
        options.append(f"new_line='{dialect.newline}'")
    if dialect.decimal_comma:
        options.append("decimal_separator=','")
    return options


@dataclass(frozen=True)
class _Reject:
    line: int
    byte: int
    column: str | None
    error_type: str
    message: str


@dataclass(frozen=True)
class _Plan:
    """Everything read_csv needs, so the parse and the marker scan read the same way."""

    path: Path
    dialect: _Dialect
    has_header: bool
    names: tuple[str, ...]
    date_format: str | None
    timestamp_format: str | None

    def read_csv(self, types: list[str], *, null_padding: bool, extra: list[str]) -> str:
        columns = ", ".join(
            f"{quote_literal(n)}: {quote_literal(t)}"
            for n, t in zip(self.names, types, strict=True)
        )
        options = [
            "auto_detect=false",
            f"header={str(self.has_header).lower()}",
            *_dialect_options(self.dialect),
            f"columns={{{columns}}}",
            "ignore_errors=true",
        ]
        if null_padding:
            # DuckDB's parallel reader cannot pad rows when values hold newlines.
            options += ["null_padding=true", "parallel=false"]
        if self.date_format:
            options.append(f"dateformat={quote_literal(self.date_format)}")
        if self.timestamp_format:
            options.append(f"timestampformat={quote_literal(self.timestamp_format)}")
        return f"read_csv({quote_literal(str(self.path))}, {', '.join(options + extra)})"


def _parse_once(
    con: duckdb.DuckDBPyConnection, plan: _Plan, staging: str, types: list[str], padding: bool
) -> list[_Reject]:
    tag = uuid.uuid4().hex
    rejects, scans = f"_signoff_rejects_{tag}", f"_signoff_scans_{tag}"
    extra = [
        f"nullstr={_sql_list(MISSING_MARKERS)}",
        "store_rejects=true",
        f"rejects_table={quote_literal(rejects)}",
        f"rejects_scan={quote_literal(scans)}",
    ]
    source = plan.read_csv(types, null_padding=padding, extra=extra)
    # Drop an earlier attempt first, so that two copies of the data never coexist.
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
    try:
        con.execute(f"CREATE TABLE {quote_ident(staging)} AS SELECT * FROM {source}")
        rows = con.execute(
            "SELECT line, line_byte_position, column_name, error_type, error_message "
            f"FROM {quote_ident(rejects)} ORDER BY line"
        ).fetchall()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(rejects)}")
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(scans)}")
    return [_Reject(int(r[0]), int(r[1]), r[2], str(r[3]), str(r[4])) for r in rows]


def _widened(dtype: str) -> str:
    """The next type to try when values do not fit: dates may still be timestamps."""
    return "TIMESTAMP" if dtype.upper() == "DATE" else "VARCHAR"


@dataclass(frozen=True)
class _Parsed:
    types: tuple[str, ...]
    padded: tuple[_Reject, ...]
    skipped: tuple[_Reject, ...]
    padding: bool


def _parse(con: duckdb.DuckDBPyConnection, plan: _Plan, staging: str, types: list[str]) -> _Parsed:
    """Parse until every value fits its column type and short rows are padded.

    Typing comes from a sample; a later value that does not fit widens that column and the
    file is parsed again (rare, and never silently drops the row). Short rows are padded
    with missing values, which needs DuckDB's single-threaded reader, so only then.
    """
    types = list(types)
    padding = False
    padded: list[_Reject] = []
    for _ in range(2 * len(types) + 2):
        rejects = _parse_once(con, plan, staging, types, padding)
        misfits = {r.column for r in rejects if r.error_type == "CAST"} & set(plan.names)
        if misfits:
            for i, name in enumerate(plan.names):
                if name in misfits:
                    types[i] = _widened(types[i])
            continue
        short = [r for r in rejects if r.error_type == "MISSING COLUMNS"]
        if short and not padding:
            padding, padded = True, short
            continue
        return _Parsed(tuple(types), tuple(padded), tuple(rejects), padding)
    raise LoadError("The file could not be parsed into consistent column types.")


def _is_integer(dtype: str) -> bool:
    return dtype.upper() in _INTEGER_TYPES


@dataclass(frozen=True)
class _Narrowing:
    """Read a column as a wider type, then narrow it back when every value allows.

    `fits` and `exact` are SQL aggregates over `{c}`; when `exact` fails, the wider type
    cannot hold the values exactly and the column is read again as text.
    """

    read_as: str
    narrow_to: str
    fits: str
    exact: str = "true"


# DuckDB casts "1.5" to the integer 2 and "2024-01-01 10:00" to the date 2024-01-01 without
# a word, so a value beyond the sampled rows would be changed silently. Doubles hold whole
# numbers exactly up to 2**53.
_WHOLE_NUMBERS = _Narrowing(
    "DOUBLE", "BIGINT", "bool_and({c} = trunc({c}))", "max(abs({c})) < 9007199254740992"
)
_CALENDAR_DAYS = _Narrowing(
    "TIMESTAMP", "DATE", "bool_and({c} = CAST(CAST({c} AS DATE) AS TIMESTAMP))"
)


def _narrowing(dtype: str, plan: _Plan) -> _Narrowing | None:
    if _is_integer(dtype):
        return _WHOLE_NUMBERS
    iso_dates = plan.date_format in (None, "%Y-%m-%d") and plan.timestamp_format is None
    return _CALENDAR_DAYS if dtype.upper() == "DATE" and iso_dates else None


def _parse_exact(
    con: duckdb.DuckDBPyConnection, plan: _Plan, staging: str, sniffed: list[str]
) -> _Parsed:
    """Parse so that no value is rounded or truncated to fit a type guessed from a sample."""
    rules = [_narrowing(t, plan) for t in sniffed]
    types = [rule.read_as if rule else t for rule, t in zip(rules, sniffed, strict=True)]
    while True:
        parsed = _parse(con, plan, staging, types)
        candidates = [
            (i, rule)
            for i, (rule, t) in enumerate(zip(rules, parsed.types, strict=True))
            if rule is not None and t == rule.read_as
        ]
        if not candidates:
            return parsed
        checks = con.execute(
            "SELECT "
            + ", ".join(
                f"coalesce({rule.fits}, true), coalesce({rule.exact}, true)".format(
                    c=quote_ident(plan.names[i])
                )
                for i, rule in candidates
            )
            + f" FROM {quote_ident(staging)}"
        ).fetchone()
        inexact = [i for k, (i, _) in enumerate(candidates) if not checks[2 * k + 1]]
        if inexact:
            types = list(parsed.types)
            for i in inexact:
                types[i] = "VARCHAR"
            continue
        final = list(parsed.types)
        for k, (i, rule) in enumerate(candidates):
            if checks[2 * k]:
                column = quote_ident(plan.names[i])
                con.execute(
                    f"ALTER TABLE {quote_ident(staging)} ALTER {column} TYPE {rule.narrow_to}"
                )
                final[i] = rule.narrow_to
        return dataclasses.replace(parsed, types=tuple(final))


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


def _reason(reject: _Reject) -> str:
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


def _first_per_line(rejects: tuple[_Reject, ...]) -> list[_Reject]:
    first: dict[int, _Reject] = {}
    for reject in rejects:
        first.setdefault(reject.line, reject)
    return [first[line] for line in sorted(first)]


def _markers_seen(
    con: duckdb.DuckDBPyConnection, plan: _Plan, staging: str, padding: bool
) -> tuple[str, ...]:
    """Which missing-value markers the file holds, exactly.

    Markers became NULL in the parse, so only columns with NULLs can hold them; those
    columns are read again as raw text (one projected DuckDB scan, skipped when no
    column has a missing value).
    """
    counts = con.execute(
        "SELECT "
        + ", ".join(f"count(*) - count({quote_ident(n)})" for n in plan.names)
        + f" FROM {quote_ident(staging)}"
    ).fetchone()
    with_nulls = [n for n, c in zip(plan.names, counts, strict=True) if c]
    if not with_nulls:
        return ()
    markers = ", ".join(quote_literal(m) for m in MISSING_MARKERS)
    source = plan.read_csv(
        ["VARCHAR"] * len(plan.names),
        null_padding=padding,
        # \x01 alone is no marker, so reading it as NULL changes nothing here.
        extra=[f"nullstr={quote_literal(chr(1))}", "allow_quoted_nulls=false"],
    )
    lists = con.execute(
        "SELECT "
        + ", ".join(
            f"list(DISTINCT {quote_ident(n)}) FILTER (WHERE {quote_ident(n)} IN ({markers}))"
            for n in with_nulls
        )
        + f" FROM {source}"
    ).fetchone()
    found = {m for values in lists if values for m in values}
    return tuple(m for m in MISSING_MARKERS if m in found)


# ---------------------------------------------------------------- the two kinds of file


@dataclass(frozen=True)
class _Body:
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


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


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
        raise LoadError(f"{_shown(name)} holds binary data, not text; it cannot be loaded.")


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
        raise LoadError(f"{_shown(name)} is not valid {encoding.name} text: {error}.") from None
    if removed:
        warnings.append(f"{_plural(removed, 'NUL byte')} {_were(removed)} removed from the text.")
    if encoding.errors == "replace":
        warnings.append("Bytes that are not valid UTF-8 were replaced with \ufffd.")
    return utf8, scanned, encoding, warnings


def _columns(
    dialect: _Dialect, sniffed: _Sniffed
) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Column names, renamings and sampled types, one per field of the header."""
    if sniffed.has_header:
        width = len(dialect.first_record)
        names, renamed = _unique_names(list(dialect.first_record))
    else:
        width = dialect.usual_width
        names, renamed = [f"field_{i + 1}" for i in range(width)], []
    types = list(sniffed.types[:width]) + ["VARCHAR"] * (width - len(sniffed.types))
    return names, renamed, types


def _row_warnings(
    skipped: list[_Reject], shown: tuple[SkippedRow, ...], padded: list[_Reject], first_pad: int
) -> list[str]:
    warnings = []
    if skipped:
        first = shown[0]
        warnings.append(
            f"{_plural(len(skipped), 'row')} could not be read and {_were(len(skipped))} left "
            f"out (the first is line {first.line}: {first.reason})."
        )
    if padded:
        warnings.append(
            f"{_plural(len(padded), 'row')} had fewer fields than the header; the missing "
            f"fields are empty (the first is line {first_pad})."
        )
    return warnings


def _type_warnings(names: list[str], sampled: list[str], final: tuple[str, ...]) -> list[str]:
    return [
        f"Column {column!r} looked like {before} in the sampled rows but holds values that "
        f"do not fit it exactly, so it was read as {after}."
        for column, before, after in zip(names, sampled, final, strict=True)
        if before != after and not (_is_integer(before) and after == "BIGINT")
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
    plan: _Plan
    sniffed: _Sniffed
    renamed: list[tuple[str, str]]
    sampled_types: list[str]
    parsed: _Parsed


def _read_table(
    con: duckdb.DuckDBPyConnection, path: Path, name: str, file_type: str, staging: str
) -> _Read:
    """Dialect and header from the head, types from DuckDB's sample, then the parse."""
    text, complete = _head_text(path)
    if not text.strip():
        raise LoadError(f"{_shown(name)} holds no data, only blank lines.")
    dialect = _dialect(text, complete, file_type)
    sniffed = _sniff(con, path, dialect)
    names, renamed, types = _columns(dialect, sniffed)
    plan = _Plan(
        path,
        dialect,
        sniffed.has_header,
        tuple(names),
        sniffed.date_format,
        sniffed.timestamp_format,
    )
    return _Read(plan, sniffed, renamed, types, _parse_exact(con, plan, staging, types))


def _load_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    file_type: str,
    head: bytes,
    staging: str,
    workdir: Path,
) -> _Body:
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
    return _Body(
        sha256=scanned.sha256,
        encoding=encoding.name,
        delimiter=plan.dialect.delimiter,
        quote='"',
        has_header=sniffed.has_header,
        sheet=None,
        n_columns=len(names),
        skipped=shown,
        rows_skipped=len(skipped),
        missing_markers_seen=_markers_seen(con, plan, staging, parsed.padding),
        renamed_columns=tuple(read.renamed),
        warnings=tuple(warnings),
    )


def _refuse_mostly_broken(
    name: str, skipped: list[_Reject], shown: tuple[SkippedRow, ...], n_rows: int
) -> None:
    """A table missing most of its rows is no table: refuse rather than present it."""
    for reject in skipped:
        if reject.error_type == "UNQUOTED VALUE" and "unterminated" in reject.message.lower():
            line = shown[0].line if shown else reject.line
            raise LoadError(
                f"{_shown(name)} has a quote that is never closed, near line {line}, so the "
                "rows after it cannot be told apart."
            )
    if not skipped or len(skipped) <= n_rows:
        return
    first = shown[0]
    raise LoadError(
        f"{_shown(name)} could not be read reliably: {len(skipped):,} of "
        f"{len(skipped) + n_rows:,} rows are malformed, the first on line {first.line} "
        f"({first.reason})."
    )


def _first_line(exc: Exception) -> str:
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    line = re.sub(r"^[A-Za-z ]*Error: ", "", line).strip()
    return line if line.endswith(".") else line + "."


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _arrow_column(values: list[object]) -> pa.Array:
    """One Excel column as Arrow, typed only when every present value agrees.

    Excel keeps every number as a double; a column of whole numbers becomes integers.
    """
    import pyarrow as pa

    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if kinds == {bool}:
        return pa.array(values, pa.bool_())
    if kinds and kinds <= {int, float}:
        if all(float(v).is_integer() and abs(v) < 2**53 for v in present):
            return pa.array([None if v is None else int(v) for v in values], pa.int64())
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kinds == {dt.date}:
        return pa.array(values, pa.date32())
    if kinds and kinds <= {dt.datetime, dt.date}:
        return pa.array(
            [
                v
                if v is None or isinstance(v, dt.datetime)
                else dt.datetime(v.year, v.month, v.day)
                for v in values
            ],
            pa.timestamp("us"),
        )
    return pa.array([None if v is None else _cell_text(v) for v in values], pa.string())


def _check_unpacked_size(path: Path, name: str, limit: int) -> None:
    """Refuse a workbook whose parts unpack to more than `limit` bytes, before unpacking it.

    python-calamine inflates a whole sheet into memory, so a tiny .xlsx whose sheet XML is
    gigabytes of repeated bytes (a zip bomb) must be stopped at the zip directory. Each part
    is then streamed once through `zipfile`, which stops at the declared size and checks the
    CRC, so a directory that understates a part is refused too, in bounded memory.
    """
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(info.file_size for info in z.infolist())
            if unpacked > limit:
                raise LoadError(
                    f"{_shown(name)} unpacks to {_megabytes(unpacked)}, over the limit of "
                    f"{_megabytes(limit)}; it cannot be loaded."
                )
            for info in z.infolist():
                with z.open(info) as part:
                    while part.read(CHUNK_BYTES):
                        pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise LoadError(f"{_shown(name)} is damaged or is not an Excel workbook.") from None


def _open_workbook(path: Path, name: str) -> python_calamine.CalamineWorkbook:
    import python_calamine

    try:
        with open(path, "rb") as f:
            return python_calamine.CalamineWorkbook.from_filelike(f)
    except python_calamine.PasswordError:
        raise LoadError(f"{_shown(name)} is password-protected; save it without one.") from None
    except Exception:
        raise LoadError(f"{_shown(name)} is damaged or is not an Excel workbook.") from None


def _sheet_rows(
    workbook: python_calamine.CalamineWorkbook, name: str, sheet: str | None
) -> tuple[str, list[list[object]]]:
    """The chosen sheet (or the first holding data) and its rows, empty trailing rows gone."""
    names = list(workbook.sheet_names)
    if sheet is not None and sheet not in names:
        raise LoadError(
            f"{_shown(name)} has no sheet called {sheet!r}; its sheets are "
            f"{', '.join(repr(n) for n in names)}."
        )
    for candidate in [sheet] if sheet is not None else names:
        rows = workbook.get_sheet_by_name(candidate).to_python(skip_empty_area=True)
        rows = [row for row in rows if any(cell != "" for cell in row)]
        if rows:
            return candidate, rows
    if sheet is not None:
        raise LoadError(f"The sheet {sheet!r} of {_shown(name)} is empty.")
    raise LoadError(f"{_shown(name)} has no data in any sheet.")


def _load_excel(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    staging: str,
    sheet: str | None,
    limit: int,
) -> _Body:
    import pyarrow as pa

    if zipfile.is_zipfile(path):
        _check_unpacked_size(path, name, limit)
    workbook = _open_workbook(path, name)
    chosen, rows = _sheet_rows(workbook, name, sheet)
    width = max(len(row) for row in rows)
    header = [_cell_text(v) for v in rows[0]] + [""] * (width - len(rows[0]))
    names, renamed = _unique_names(header)
    markers = set(MISSING_MARKERS)
    seen: set[str] = set()
    columns: list[list[object]] = [[] for _ in range(width)]
    for row in rows[1:]:
        for j in range(width):
            value = row[j] if j < len(row) else ""
            if isinstance(value, str) and value in markers:
                seen.add(value)
                value = None
            columns[j].append(value)
    arrow = pa.table({n: _arrow_column(c) for n, c in zip(names, columns, strict=True)})
    view = f"_signoff_arrow_{uuid.uuid4().hex}"
    con.register(view, arrow)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(staging)} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)
    warnings = []
    if len(workbook.sheet_names) > 1 and sheet is None:
        warnings.append(
            f"The workbook has {len(workbook.sheet_names)} sheets; loaded {chosen!r}, "
            "the first that holds data."
        )
    return _Body(
        sha256=sha256_of(path),
        encoding="excel",
        delimiter=None,
        quote=None,
        has_header=True,
        sheet=chosen,
        n_columns=width,
        skipped=(),
        rows_skipped=0,
        missing_markers_seen=tuple(m for m in MISSING_MARKERS if m in seen),
        renamed_columns=tuple(renamed),
        warnings=tuple(warnings),
    )


def _load_path(
    path: Path,
    name: str,
    con: duckdb.DuckDBPyConnection,
    table: str,
    limit: int,
    sheet: str | None,
) -> Loaded:
    size = path.stat().st_size
    check_size(size, limit, name)
    if size == 0:
        raise LoadError("The file is empty.")
    head = _read_head(path)
    file_type = _file_type(path, name, head)
    staging = f"_signoff_load_{uuid.uuid4().hex}"
    try:
        with tempfile.TemporaryDirectory(prefix="signoff-load-") as workdir:
            try:
                if file_type in ("xlsx", "xls"):
                    body = _load_excel(con, path, name, staging, sheet, limit)
                else:
                    body = _load_text(con, path, name, file_type, head, staging, Path(workdir))
            except duckdb.Error as exc:
                raise LoadError(
                    f"{_shown(name)} could not be read as a table: {_first_line(exc)}"
                ) from None
        n_rows = row_count(con, staging)
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
        con.execute(f"ALTER TABLE {quote_ident(staging)} RENAME TO {quote_ident(table)}")
    except BaseException:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
        raise
    report = LoadReport(
        name=name,
        sha256=body.sha256,
        bytes=size,
        file_type=file_type,
        encoding=body.encoding,
        delimiter=body.delimiter,
        quote=body.quote,
        has_header=body.has_header,
        sheet=body.sheet,
        n_rows=n_rows,
        n_columns=body.n_columns,
        rows_skipped=body.rows_skipped,
        skipped=body.skipped,
        missing_markers_seen=body.missing_markers_seen,
        renamed_columns=body.renamed_columns,
        warnings=body.warnings,
    )
    return Loaded(con=con, table=table, report=report)
