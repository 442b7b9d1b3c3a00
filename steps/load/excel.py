"""Loading a workbook (.xlsx, .xlsm, .xls, .xlsb, .ods) through fastexcel, then as CSV.

fastexcel (calamine, in Rust) reads the chosen sheet straight into Arrow as text, so no
Python object is made per cell (bench/README.md: half the time and two thirds of the memory
of python-calamine's lists). The sheet is then written out as CSV and read by the text
loader's `read_table`: a table saved as .xlsx and as .csv gets the same types, kinds,
missing values and figures by construction. Only what the text hides is put back first:
dates (`2024-01-02 00:00:00` from a date cell is the date `2024-01-02`) and times of day.

Before anything is unpacked the workbook is bounded (`workbook.check_workbook`), and
whatever the reader raises on a damaged file becomes one sentence naming the broken part.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from steps.errors import LoadError
from steps.load.encoding import sha256_of
from steps.load.report import PREAMBLE_LISTED, Body, ReadOptions, Source
from steps.load.sniff import preamble_lines
from steps.load.text import read_table, table_body
from steps.load.workbook import check_workbook

if TYPE_CHECKING:  # imported where used: only workbooks need them, and pyarrow is large
    import fastexcel
    import pyarrow as pa

_HEAD_ROWS = 200
_MIDNIGHT = r"^\d{4}-\d{2}-\d{2} 00:00:00$"
# Excel keeps a time of day as a fraction of a day: calamine dates it 1899-12-30 or -31.
_TIME_OF_DAY = r"^1899-12-3[01] \d{2}:\d{2}:\d{2}$"
_BROKEN_SHEET = re.compile(r"Error while loading sheet (.+?)\s*$", re.MULTILINE)


def _reader_error(job: Source, exc: Exception) -> LoadError:
    """One sentence for whatever calamine raised, naming the sheet where it says one."""
    text = str(exc)
    sheet = _BROKEN_SHEET.search(text)
    detail = text.split("\n", 1)[0].removeprefix("calamine error: ").strip().rstrip(".")
    detail = re.sub(r"^\w+ error: ", "", detail)
    if "Cannot detect file format" in text:
        return LoadError(f"{job.shown} is damaged or is not a workbook: it cannot be opened.")
    if sheet:
        return LoadError(
            f"{job.shown} is damaged: its sheet {sheet.group(1)!r} cannot be read ({detail})."
        )
    return LoadError(f"{job.shown} is damaged: {detail}.")


def _open(job: Source) -> fastexcel.ExcelReader:
    import fastexcel

    try:
        return fastexcel.read_excel(job.path)
    except Exception as exc:  # calamine's errors have no common base beyond this
        raise _reader_error(job, exc) from None


def _sheet_table(reader: fastexcel.ExcelReader, job: Source) -> tuple[str, pa.Table]:
    """The chosen sheet (or the first holding data) as text, blank rows gone."""
    import pyarrow.compute as pc

    names = list(reader.sheet_names)
    sheet = job.options.sheet
    if sheet is not None and sheet not in names:
        raise LoadError(
            f"{job.shown} has no sheet called {sheet!r}; its sheets are "
            f"{', '.join(repr(n) for n in names)}."
        )
    for candidate in [sheet] if sheet is not None else names:
        try:
            table = reader.load_sheet(
                candidate, header_row=None, dtypes="string", whitespace_as_null=False
            ).to_arrow()
        except Exception as exc:
            raise _reader_error(job, exc) from None
        if table.num_columns:
            blank = [pc.or_kleene(pc.is_null(c), pc.equal(c, "")) for c in table.columns]
            keep = pc.invert(blank[0])
            for column in blank[1:]:
                keep = pc.or_(keep, pc.invert(column))
            table = table.filter(keep)
        if table.num_rows:
            return candidate, table
    if sheet is not None:
        raise LoadError(f"The sheet {sheet!r} of {job.shown} is empty.")
    raise LoadError(f"{job.shown} has no data in any sheet.")


def _head_rows(table: pa.Table) -> list[list[str]]:
    """The first rows as lists of text, each cut after its last filled cell (a sheet's row
    is as wide as the sheet; its own width is where its cells end)."""
    rows = []
    for record in table.slice(0, _HEAD_ROWS).to_pylist():
        cells = ["" if v is None else v for v in record.values()]
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    return rows


def _dated(column: pa.ChunkedArray, first_data: int) -> pa.ChunkedArray:
    """Date cells back as dates and time-of-day cells as times, when every value below the
    header row has that form (a column of text that merely looks so is rare; see module)."""
    import pyarrow.compute as pc

    data = column.slice(first_data).drop_null()
    for pattern, start, length in ((_MIDNIGHT, 0, 10), (_TIME_OF_DAY, 11, 8)):
        if len(data) and pc.all(pc.match_substring_regex(data, pattern)).as_py():
            matches = pc.match_substring_regex(column, pattern)
            cut = pc.utf8_slice_codeunits(column, start, start + length)
            return pc.if_else(pc.fill_null(matches, False), cut, column)
    return column


def _write_csv(table: pa.Table, path: Path) -> None:
    import pyarrow.csv as pcsv

    pcsv.write_csv(table, path, pcsv.WriteOptions(include_header=False))


def load_workbook(con: duckdb.DuckDBPyConnection, job: Source, staging: str, workdir: Path) -> Body:
    import pyarrow as pa

    check_workbook(job)
    reader = _open(job)
    chosen, table = _sheet_table(reader, job)
    if table.num_columns > job.limits.max_columns:
        raise LoadError(
            f"The sheet {chosen!r} of {job.shown} has {table.num_columns:,} columns, over the "
            f"limit of {job.limits.max_columns:,} that can be analysed."
        )
    head = _head_rows(table)
    if job.options.skip_lines is None:
        skip = preamble_lines(head, list(range(1, len(head) + 1)))
    else:
        skip = job.options.skip_lines
    preamble = tuple("\t".join(row) for row in head[: min(skip, PREAMBLE_LISTED)])
    table = table.slice(skip)
    first_data = 0 if job.options.header is False else 1
    table = pa.table([_dated(c, first_data) for c in table.columns], names=table.column_names)
    sheet_csv = workdir / "sheet.csv"
    _write_csv(table, sheet_csv)
    del table
    sheet_job = dataclasses.replace(
        job, options=ReadOptions(delimiter=",", skip_lines=0, header=job.options.header)
    )
    read = read_table(con, sheet_job, sheet_csv, "csv", staging, workdir)
    warnings = []
    if len(reader.sheet_names) > 1 and job.options.sheet is None:
        warnings.append(
            f"The workbook has {len(reader.sheet_names)} sheets; loaded {chosen!r}, "
            "the first that holds data."
        )
    body = table_body(
        con, sheet_job, read, staging, warnings, sha256=sha256_of(job.path), encoding="excel"
    )
    return dataclasses.replace(
        body,
        delimiter=None,
        quote=None,
        sheet=chosen,
        lines_skipped=skip,
        preamble=preamble,
    )
