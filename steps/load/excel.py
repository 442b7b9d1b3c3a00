"""Loading a workbook (.xlsx, .xlsm, .xls, .xlsb, .ods) through python-calamine, as CSV.

The chosen sheet's rows are streamed from calamine (`iter_rows`) in batches, turned into
the text a CSV of the same table holds (`steps.load.cells`: numbers in their shortest exact
form, dates and times in ISO form, booleans as Excel shows them, text as it is) and written
out by Arrow's CSV writer. That file is read by the text loader's `read_table`, so a table
saved as .xlsx and as .csv gets the same types, kinds, missing values and figures by
construction, and a title row above a sheet's header is a preamble like any other.

fastexcel (Arrow-native, over the same calamine) was measured against this and left
(bench/README.md): its text for a number keeps 10 significant digits (`3.141592654`, and
`1e-300` becomes `0`), and with typed columns a text cell in a numeric column silently
becomes missing, so neither form can stand for the cells exactly.

Before anything is unpacked the workbook is bounded (`workbook.check_workbook`), and
whatever the reader raises on a damaged file becomes one sentence naming the broken part.
"""

from __future__ import annotations

import dataclasses
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

if TYPE_CHECKING:  # imported where used: only workbooks need them
    import pyarrow as pa
    import python_calamine

_HEAD_ROWS = 200


def _damaged(job: Source, exc: Exception, sheet: str | None) -> LoadError:
    """One sentence for what calamine raised, naming the sheet being read; before any sheet
    it reads the list of sheets, the shared strings and the styles."""
    import python_calamine

    if isinstance(exc, python_calamine.PasswordError):
        return LoadError(f"{job.shown} is password-protected; save it without one.")
    where = (
        f"its sheet {sheet!r}"
        if sheet is not None
        else "a part read before any sheet (the list of sheets, shared strings or styles)"
    )
    if isinstance(exc, python_calamine.XmlError):
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if re.fullmatch(r"\w+", detail):  # calamine names only the element it was in
            detail = f"in its <{detail}> element"
        said = f" ({detail})" if detail else ""
        return LoadError(f"{job.shown} is damaged: {where} is not well-formed XML{said}.")
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


def _sheet_batches(
    workbook: python_calamine.CalamineWorkbook, job: Source
) -> tuple[str, pa.Table, Iterator[pa.Table]]:
    """The chosen sheet (or the first holding data): its first batch of rows as text, and
    the batches still to come."""
    names = list(workbook.sheet_names)
    sheet = job.options.sheet
    if sheet is not None and sheet not in names:
        raise LoadError(
            f"{job.shown} has no sheet called {sheet!r}; its sheets are "
            f"{', '.join(repr(n) for n in names)}."
        )
    from steps.load.cells import text_batches  # pyarrow and numpy: only workbooks need them

    for candidate in [sheet] if sheet is not None else names:
        try:
            batches = text_batches(workbook.get_sheet_by_name(candidate).iter_rows())
            first = next(batches, None)
        except Exception as exc:
            raise _damaged(job, exc, candidate) from None
        if first is not None:
            return candidate, first, batches
    if sheet is not None:
        raise LoadError(f"The sheet {sheet!r} of {job.shown} is empty.")
    raise LoadError(f"{job.shown} has no data in any sheet.")


def _head(first: pa.Table) -> list[list[str]]:
    """The first rows as lists of text, each cut after its last filled cell: its own width,
    not the sheet's."""
    rows = []
    for record in first.slice(0, _HEAD_ROWS).to_pylist():
        cells = ["" if v is None else v for v in record.values()]
        while cells and not cells[-1]:
            cells.pop()
        rows.append(cells)
    return rows


def _write_csv(path: Path, first: pa.Table, rest: Iterator[pa.Table]) -> None:
    import pyarrow.csv as pcsv

    options = pcsv.WriteOptions(include_header=False)
    with pcsv.CSVWriter(str(path), first.schema, write_options=options) as writer:
        writer.write_table(first)
        for batch in rest:
            writer.write_table(batch)


def load_workbook(con: duckdb.DuckDBPyConnection, job: Source, staging: str, workdir: Path) -> Body:
    check_workbook(job)
    workbook = _open(job)
    chosen, first, rest = _sheet_batches(workbook, job)
    if first.num_columns > job.limits.max_columns:
        raise LoadError(
            f"The sheet {chosen!r} of {job.shown} has {first.num_columns:,} columns, over the "
            f"limit of {job.limits.max_columns:,} that can be analysed."
        )
    head = _head(first)
    if job.options.skip_lines is None:
        skip = preamble_lines(head, list(range(1, len(head) + 1)))
    else:
        skip = job.options.skip_lines
    sheet_csv = workdir / "sheet.csv"
    try:
        _write_csv(sheet_csv, first.slice(skip), rest)
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
        sheets=tuple(workbook.sheet_names),
        lines_skipped=skip,
        preamble=tuple("\t".join(row) for row in head[: min(skip, PREAMBLE_LISTED)]),
    )
