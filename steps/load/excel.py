"""Loading a workbook (.xlsx, .xlsm, .xls, .xlsb, .ods) through python-calamine, as CSV.

The chosen sheet's rows are streamed from calamine (`iter_rows`: one row of Python values
at a time, not the whole sheet as lists) into a CSV file, each cell written as a CSV of
the same table would hold it: numbers in their shortest exact form (whole numbers without
`.0`), dates and times in ISO form, booleans as Excel shows them (`TRUE`/`FALSE`), text as
it is. That file is read by the text loader's `read_table`, so a table saved as .xlsx and as
.csv gets the same types, kinds, missing values and figures by construction.

fastexcel (Arrow-native, over the same calamine) was measured against this and left
(bench/README.md): its text for a number keeps 10 significant digits (`3.141592654`, and
`1e-300` becomes `0`), and with typed columns a text cell in a numeric column silently
becomes missing, so neither form can stand for the cells exactly.

Before anything is unpacked the workbook is bounded (`workbook.check_workbook`), and
whatever the reader raises on a damaged file becomes one sentence naming the broken part.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from steps.errors import LoadError
from steps.load.encoding import sha256_of
from steps.load.report import PREAMBLE_LISTED, Body, ReadOptions, Source
from steps.load.sniff import preamble_lines
from steps.load.text import read_table, table_body
from steps.load.workbook import check_workbook

if TYPE_CHECKING:  # imported where used: only workbooks need it
    import python_calamine

_HEAD_ROWS = 200


def _damaged(job: Source, exc: Exception, sheet: str | None) -> LoadError:
    """One sentence for what calamine raised, naming the sheet being read, if any."""
    import python_calamine

    if isinstance(exc, python_calamine.PasswordError):
        return LoadError(f"{job.shown} is password-protected; save it without one.")
    where = f"its sheet {sheet!r}" if sheet is not None else "its list of sheets"
    if isinstance(exc, python_calamine.XmlError):
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        if re.fullmatch(r"\w+", detail):  # calamine names only the element it was in
            detail = f"in its <{detail}> element"
        return LoadError(f"{job.shown} is damaged: {where} is not well-formed XML ({detail}).")
    if isinstance(exc, python_calamine.WorksheetNotFound):
        return LoadError(f"{job.shown} is damaged: {where} is missing from the file.")
    if isinstance(exc, python_calamine.ZipError):
        return LoadError(f"{job.shown} is damaged: its zip archive cannot be read.")
    return LoadError(f"{job.shown} is damaged: {where} cannot be read.")


def _open(job: Source) -> python_calamine.CalamineWorkbook:
    import python_calamine

    try:
        return python_calamine.CalamineWorkbook.from_path(str(job.path))
    except Exception as exc:  # calamine's errors have no common base beyond this
        raise _damaged(job, exc, None) from None


def _cell_text(value: object) -> str:
    """A cell as a CSV of the same table holds it (see the module's docstring)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _text_rows(sheet: python_calamine.CalamineSheet) -> Iterator[list[str]]:
    """The sheet's rows as text, blank rows left out."""
    for row in sheet.iter_rows():
        cells = [_cell_text(v) for v in row]
        if any(cells):
            yield cells


def _sheet_rows(
    workbook: python_calamine.CalamineWorkbook, job: Source
) -> tuple[str, list[list[str]], Iterator[list[str]]]:
    """The chosen sheet (or the first holding data): its first rows, and the rest to come."""
    names = list(workbook.sheet_names)
    sheet = job.options.sheet
    if sheet is not None and sheet not in names:
        raise LoadError(
            f"{job.shown} has no sheet called {sheet!r}; its sheets are "
            f"{', '.join(repr(n) for n in names)}."
        )
    for candidate in [sheet] if sheet is not None else names:
        try:
            rows = _text_rows(workbook.get_sheet_by_name(candidate))
            head = [row for _, row in zip(range(_HEAD_ROWS), rows, strict=False)]
        except Exception as exc:
            raise _damaged(job, exc, candidate) from None
        if head:
            return candidate, head, rows
    if sheet is not None:
        raise LoadError(f"The sheet {sheet!r} of {job.shown} is empty.")
    raise LoadError(f"{job.shown} has no data in any sheet.")


def _trimmed(row: list[str]) -> list[str]:
    """A row cut after its last filled cell: its own width, not the sheet's."""
    end = len(row)
    while end and not row[end - 1]:
        end -= 1
    return row[:end]


def load_workbook(con: duckdb.DuckDBPyConnection, job: Source, staging: str, workdir: Path) -> Body:
    check_workbook(job)
    workbook = _open(job)
    chosen, head, rest = _sheet_rows(workbook, job)
    width = max(len(row) for row in head)
    if width > job.limits.max_columns:
        raise LoadError(
            f"The sheet {chosen!r} of {job.shown} has {width:,} columns, over the limit of "
            f"{job.limits.max_columns:,} that can be analysed."
        )
    trimmed = [_trimmed(row) for row in head]
    if job.options.skip_lines is None:
        skip = preamble_lines(trimmed, list(range(1, len(trimmed) + 1)))
    else:
        skip = job.options.skip_lines
    sheet_csv = workdir / "sheet.csv"
    with open(sheet_csv, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        try:
            writer.writerows(head[skip:])
            writer.writerows(rest)
        except Exception as exc:
            raise _damaged(job, exc, chosen) from None
    sheet_job = dataclasses.replace(
        job, options=ReadOptions(delimiter=",", skip_lines=0, header=job.options.header)
    )
    read = read_table(con, sheet_job, sheet_csv, "csv", staging, workdir)
    warnings = []
    if len(workbook.sheet_names) > 1 and job.options.sheet is None:
        warnings.append(
            f"The workbook has {len(workbook.sheet_names)} sheets; loaded {chosen!r}, "
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
        preamble=tuple("\t".join(row) for row in trimmed[: min(skip, PREAMBLE_LISTED)]),
    )
