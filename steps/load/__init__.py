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

import dataclasses
import re
import tempfile
import uuid
from pathlib import Path

import duckdb

from steps.engine import (
    Budget,
    columns,
    connect,
    memory_limit_for,
    quote_ident,
    quote_literal,
    row_count,
)
from steps.errors import LoadError
from steps.load.checks import (
    EXCEL_TYPES,
    TEXT_TYPES,
    WORKBOOK_TYPES,
    check_size,
    file_type_of,
    header_width,
    known_suffix,
    read_head,
)
from steps.load.encoding import sha256_of
from steps.load.excel import load_workbook
from steps.load.report import (
    CHOSEN_NOTHING,
    DEFAULT_LIMITS,
    DEFAULT_MAX_MB,
    MIB,
    DateOrder,
    Loaded,
    LoadLimits,
    LoadReport,
    ReadOptions,
    SkippedRow,
    Source,
    megabytes,
    shown_name,
)
from steps.load.rows import SKIPPED_LISTED
from steps.load.sniff import DELIMITERS, MISSING_MARKERS
from steps.load.text import load_text

__all__ = [
    "DELIMITERS",
    "EXCEL_TYPES",
    "MISSING_MARKERS",
    "SKIPPED_LISTED",
    "TEXT_TYPES",
    "DateOrder",
    "LoadError",
    "LoadLimits",
    "LoadReport",
    "Loaded",
    "ReadOptions",
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
    threads: int | None = None,
    options: ReadOptions = CHOSEN_NOTHING,
    limits: LoadLimits = DEFAULT_LIMITS,
) -> Loaded:
    """Load `source` (a path, or the bytes of an upload) into `table`, replacing it.

    `limit` is the size limit in bytes (`Settings.max_bytes`); `options` says what the
    person chose (delimiter, lines to skip, header, sheet) instead of what is detected;
    `limits` bounds columns, line length and what a workbook expands to. Without `con`, a
    new connection is opened with a memory limit fitted to the file (`memory_limit_for`),
    or `memory_limit` when one is configured (`Settings.duckdb_memory`), and `threads`
    DuckDB threads (`Settings.duckdb_threads`; by default half the CPUs, `session_threads`).
    Raises `LoadError`.
    """
    _check_options(options)
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = name or "upload"
        check_size(len(source), limit, name)
        with tempfile.TemporaryDirectory(prefix="signoff-upload-") as tmp:
            path = Path(tmp) / ("upload" + known_suffix(name))
            path.write_bytes(source)
            job = Source(path, name, limit, options, limits)
            return _load_fitted(job, con, table, memory_limit, threads)
    path = Path(source)
    name = name or path.name
    if not path.is_file():
        raise LoadError(f"There is no file called {shown_name(name)}.")
    job = Source(path, name, limit, options, limits)
    return _load_fitted(job, con, table, memory_limit, threads)


def _check_options(options: ReadOptions) -> None:
    """Refuse read options no file could be read with (they come from a form or a flag)."""
    delimiter = options.delimiter
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise LoadError(
            f"The delimiter must be one character other than a quote or a line end, not "
            f"{delimiter!r}."
        )
    if options.skip_lines is not None and options.skip_lines < 0:
        raise LoadError(f"The lines to skip must be 0 or more, not {options.skip_lines}.")


def _load_fitted(
    job: Source,
    con: duckdb.DuckDBPyConnection | None,
    table: str,
    memory_limit: str | None,
    threads: int | None,
) -> Loaded:
    """Load into `con`, or into a new connection whose memory limit fits the file: its size
    while parsing, then raised if the exact quantiles of the loaded table need more."""
    if con is not None:
        return _load_bounded(job, con, table)
    size = job.path.stat().st_size
    width = header_width(job.path)
    limit = memory_limit_for(size, width=width, configured=memory_limit)
    con = connect(memory_limit=limit, threads=threads)
    loaded = _load_bounded(job, con, table)
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


def _load_bounded(job: Source, con: duckdb.DuckDBPyConnection, table: str) -> Loaded:
    """`_load_path`, with DuckDB's parsing stopped past `job.limits.max_seconds`."""
    seconds = job.limits.max_seconds
    if seconds is None:
        return _load_path(job, con, table)
    size = f"a file of {megabytes(job.path.stat().st_size)}"
    return Budget(con, seconds, size).run(f"Loading {job.shown}", _load_path, job, con, table)


def _load_path(job: Source, con: duckdb.DuckDBPyConnection, table: str) -> Loaded:
    size = job.path.stat().st_size
    check_size(size, job.limit, job.name)
    if size == 0:
        raise LoadError("The file is empty.")
    head = read_head(job.path)
    file_type = file_type_of(job.path, job.name, head)
    staging = f"_signoff_load_{uuid.uuid4().hex}"
    try:
        with tempfile.TemporaryDirectory(prefix="signoff-load-") as workdir:
            try:
                if file_type in WORKBOOK_TYPES:
                    body = load_workbook(con, job, staging, Path(workdir))
                else:
                    body = load_text(con, job, file_type, head, staging, Path(workdir))
            except duckdb.Error as exc:
                raise LoadError(
                    f"{job.shown} could not be read as a table: {_first_line(exc)}"
                ) from None
        n_rows = row_count(con, staging)
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
        con.execute(f"ALTER TABLE {quote_ident(staging)} RENAME TO {quote_ident(table)}")
    except BaseException:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
        raise
    found = {f.name: getattr(body, f.name) for f in dataclasses.fields(body)}
    report = LoadReport(
        **found,
        name=job.name,
        bytes=size,
        file_type=file_type,
        n_rows=n_rows,
        read_options=job.options,
    )
    return Loaded(con=con, table=table, report=report)


def _first_line(exc: Exception) -> str:
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    line = re.sub(r"^[A-Za-z ]*Error: ", "", line).strip()
    return line if line.endswith(".") else line + "."
