"""Loading a workbook (.xlsx, .xls) through python-calamine into Arrow, then DuckDB.

A workbook is checked as a zip before it is unpacked (a small file can inflate to
gigabytes), and whatever the reader raises on a damaged one becomes one sentence.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from steps.engine import quote_ident
from steps.errors import LoadError
from steps.load.encoding import CHUNK_BYTES, sha256_of
from steps.load.report import Body, megabytes, shown_name
from steps.load.sniff import MISSING_MARKERS, unique_names

if TYPE_CHECKING:  # imported where used: only workbooks need them, and pyarrow is large
    import pyarrow as pa
    import python_calamine


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
                    f"{shown_name(name)} unpacks to {megabytes(unpacked)}, over the limit of "
                    f"{megabytes(limit)}; it cannot be loaded."
                )
            for info in z.infolist():
                with z.open(info) as part:
                    while part.read(CHUNK_BYTES):
                        pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise LoadError(f"{shown_name(name)} is damaged or is not an Excel workbook.") from None


def _open_workbook(path: Path, name: str) -> python_calamine.CalamineWorkbook:
    import python_calamine

    try:
        with open(path, "rb") as f:
            return python_calamine.CalamineWorkbook.from_filelike(f)
    except python_calamine.PasswordError:
        raise LoadError(f"{shown_name(name)} is password-protected; save it without one.") from None
    except Exception:
        raise LoadError(f"{shown_name(name)} is damaged or is not an Excel workbook.") from None


def _sheet_rows(
    workbook: python_calamine.CalamineWorkbook, name: str, sheet: str | None
) -> tuple[str, list[list[object]]]:
    """The chosen sheet (or the first holding data) and its rows, empty trailing rows gone."""
    names = list(workbook.sheet_names)
    if sheet is not None and sheet not in names:
        raise LoadError(
            f"{shown_name(name)} has no sheet called {sheet!r}; its sheets are "
            f"{', '.join(repr(n) for n in names)}."
        )
    for candidate in [sheet] if sheet is not None else names:
        rows = workbook.get_sheet_by_name(candidate).to_python(skip_empty_area=True)
        rows = [row for row in rows if any(cell != "" for cell in row)]
        if rows:
            return candidate, rows
    if sheet is not None:
        raise LoadError(f"The sheet {sheet!r} of {shown_name(name)} is empty.")
    raise LoadError(f"{shown_name(name)} has no data in any sheet.")


def load_excel(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    staging: str,
    sheet: str | None,
    limit: int,
) -> Body:
    import pyarrow as pa

    if zipfile.is_zipfile(path):
        _check_unpacked_size(path, name, limit)
    workbook = _open_workbook(path, name)
    chosen, rows = _sheet_rows(workbook, name, sheet)
    width = max(len(row) for row in rows)
    header = [_cell_text(v) for v in rows[0]] + [""] * (width - len(rows[0]))
    names, renamed = unique_names(header)
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
    return Body(
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
