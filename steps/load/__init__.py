"""Load a CSV/TSV/TXT or Excel file into a DuckDB table, safely.

Everything that can be checked before parsing is checked first (size, type by extension
and content, encoding), so a bad file gets one clear sentence instead of a half-parsed
table. The parse itself is DuckDB's: Python only looks at the first megabyte (dialect,
header) and streams the bytes once for the fingerprint and the UTF-8 check
(`steps.load.encoding`, which also transcodes the files that need it), so a 200 MB file
costs one DuckDB parse plus a few cheap passes. Rows DuckDB cannot read are counted and
listed with their line numbers; the report says so, never a silent partial table.

The package: `checks` (before parsing), `encoding`, `sniff` (dialect and header), `parse`
(DuckDB), `text` and `excel` (the two kinds of file), `report` (what a load produced).
"""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

import duckdb

from steps.engine import columns, connect, memory_limit_for, quote_ident, quote_literal, row_count
from steps.errors import LoadError
from steps.load.checks import (
    EXCEL_TYPES,
    TEXT_TYPES,
    check_size,
    file_type_of,
    header_width,
    known_suffix,
    read_head,
)
from steps.load.encoding import sha256_of
from steps.load.excel import load_excel
from steps.load.report import Loaded, LoadReport, SkippedRow, shown_name
from steps.load.sniff import DELIMITERS, MISSING_MARKERS
from steps.load.text import SKIPPED_LISTED, load_text
from steps.settings import DEFAULT_MAX_MB, MIB

__all__ = [
    "DELIMITERS",
    "EXCEL_TYPES",
    "MISSING_MARKERS",
    "SKIPPED_LISTED",
    "TEXT_TYPES",
    "LoadError",
    "LoadReport",
    "Loaded",
    "SkippedRow",
    "load",
    "sha256_of",
]


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
            path = Path(tmp) / ("upload" + known_suffix(name))
            path.write_bytes(source)
            return _load_fitted(path, name, con, table, limit, memory_limit, sheet)
    path = Path(source)
    name = name or path.name
    if not path.is_file():
        raise LoadError(f"There is no file called {shown_name(name)}.")
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
    width = header_width(path)
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
    head = read_head(path)
    file_type = file_type_of(path, name, head)
    staging = f"_signoff_load_{uuid.uuid4().hex}"
    try:
        with tempfile.TemporaryDirectory(prefix="signoff-load-") as workdir:
            try:
                if file_type in ("xlsx", "xls"):
                    body = load_excel(con, path, name, staging, sheet, limit)
                else:
                    body = load_text(con, path, name, file_type, head, staging, Path(workdir))
            except duckdb.Error as exc:
                raise LoadError(
                    f"{shown_name(name)} could not be read as a table: {_first_line(exc)}"
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


def _first_line(exc: Exception) -> str:
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    line = re.sub(r"^[A-Za-z ]*Error: ", "", line).strip()
    return line if line.endswith(".") else line + "."
