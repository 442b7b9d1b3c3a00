"""Workbooks (issues 15, 19, 20): the same table from .csv and .xlsx, .ods, damaged and
password-protected files in one sentence, and bounds checked before a reader unpacks.

Every workbook is built here (openpyxl, or its XML by hand where a case needs a part
openpyxl will not write); expected values come from the rows it was built from.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from helpers import xlsx_bytes
from msoffcrypto.format.ooxml import OOXMLFile

from samples import sample_path
from steps.engine import quote_ident
from steps.load import LoadError, LoadLimits, ReadOptions, load
from steps.overview import overview

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def refused(source, **kwargs) -> str:
    with pytest.raises(LoadError) as info:
        load(source, **kwargs)
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message
    assert not re.search(r"[.!?]\s+[A-Z]", message), message
    return message


def rows(loaded) -> list[tuple]:
    return loaded.con.execute(f"SELECT * FROM {quote_ident(loaded.table)}").fetchall()


def csv_text(table: list[list[object]]) -> str:
    """The table as a spreadsheet saves it as CSV: dates ISO, empty cells empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in table:
        writer.writerow(
            ["" if v is None else v.isoformat() if isinstance(v, dt.date) else v for v in row]
        )
    return out.getvalue()


# ---------------------------------------------------------------- CSV and Excel agree


def figures(loaded) -> dict[str, tuple]:
    """What Step 1 says of each column: kind, missing count and its figures."""
    ov = overview(loaded.con, loaded.table)
    out = {}
    for c in ov.columns:
        numbers = tuple(
            repr(round(v, 9)) if isinstance(v, float) else v  # repr: nan equals nan
            for v in (c.mean, c.std, c.min, c.median, c.max)
        )
        out[c.name] = (c.kind, c.n_missing, c.n_distinct, numbers, tuple(c.top_values))
    return out


def as_cells(value: str) -> object:
    """A CSV field as the cell a spreadsheet makes of it when it opens the CSV."""
    try:
        number = float(value)
    except ValueError:
        return value or None
    return int(number) if number.is_integer() and "." not in value else number


def test_penguins_from_csv_and_xlsx_give_the_same_overview(tmp_path):
    path = sample_path("penguins")
    table = list(csv.reader(path.open(encoding="utf-8", newline="")))
    cells = [table[0]] + [[as_cells(v) for v in row] for row in table[1:]]
    book = tmp_path / "penguins.xlsx"
    book.write_bytes(xlsx_bytes({"penguins": cells}))
    from_csv, from_xlsx = load(path), load(book)
    assert from_xlsx.report.n_rows == from_csv.report.n_rows == len(table) - 1
    assert figures(from_xlsx) == figures(from_csv)
    assert from_xlsx.report.missing_markers_seen == from_csv.report.missing_markers_seen


def test_dates_numbers_as_text_and_markers_agree(tmp_path):
    header = ["day", "day_text", "amount", "amount_text", "label", "note"]
    table = [header] + [
        [
            dt.date(2024, 1, 1) + dt.timedelta(days=3 * i),
            (dt.date(2024, 1, 1) + dt.timedelta(days=3 * i)).isoformat(),
            1.25 * i,
            str(7 * i),
            ["N/A", "alpha", "beta"][i % 3],
            None if i % 4 else "first, with a comma",
        ]
        for i in range(40)
    ]
    (tmp_path / "t.xlsx").write_bytes(xlsx_bytes({"t": table}))
    (tmp_path / "t.csv").write_text(csv_text(table), encoding="utf-8")
    from_xlsx, from_csv = load(tmp_path / "t.xlsx"), load(tmp_path / "t.csv")
    assert figures(from_xlsx) == figures(from_csv)
    kinds = {name: f[0] for name, f in figures(from_xlsx).items()}
    assert kinds["day"] == kinds["day_text"] == "datetime"
    assert kinds["amount_text"] == "numeric"
    assert [r[0] for r in rows(from_xlsx)] == [row[0] for row in table[1:]]


def test_boolean_labels_infinities_and_a_title_row_agree(tmp_path):
    table = [["Quarterly export"], ["id", "member", "ratio"]] + [
        [i, ["Yes", "No"][i % 2], ["inf", "-inf", "0.5", "2"][i % 4]] for i in range(24)
    ]
    (tmp_path / "b.xlsx").write_bytes(xlsx_bytes({"b": table}))
    (tmp_path / "b.csv").write_text(csv_text(table), encoding="utf-8")
    from_xlsx, from_csv = load(tmp_path / "b.xlsx"), load(tmp_path / "b.csv")
    assert figures(from_xlsx) == figures(from_csv)
    for loaded in (from_xlsx, from_csv):
        assert loaded.report.lines_skipped == 1
        assert loaded.report.infinities == (("ratio", 12),)
        assert [r[1] for r in rows(loaded)] == [row[1] for row in table[2:]]
    assert figures(from_xlsx)["member"][0] == "boolean"


def test_sheet_and_skip_lines_options(tmp_path):
    data = xlsx_bytes({"First": [["a"], [1]], "Second": [["junk"], ["b", "c"], ["x", 2.5]]})
    loaded = load(data, name="two.xlsx", options=ReadOptions(sheet="Second", skip_lines=1))
    assert loaded.report.sheet == "Second" and loaded.report.lines_skipped == 1
    assert loaded.report.sheets == ("First", "Second")
    assert rows(loaded) == [("x", 2.5)]
    headerless = load(data, name="two.xlsx", options=ReadOptions(sheet="First", header=False))
    assert rows(headerless) == [("a",), ("1",)]


def test_date_and_time_cells_keep_their_kind(tmp_path):
    table = [["when", "at", "stamp"]] + [
        [dt.date(2024, 5, i + 1), dt.time(9, i), dt.datetime(2024, 5, i + 1, 8, 30)]
        for i in range(5)
    ]
    loaded = load(xlsx_bytes({"s": table}), name="d.xlsx")
    described = {n: t for n, t, *_ in loaded.con.execute("DESCRIBE data").fetchall()}
    assert described == {"when": "DATE", "at": "TIME", "stamp": "TIMESTAMP"}
    assert rows(loaded) == [tuple(r) for r in table[1:]]


# ---------------------------------------------------------------- .ods


def ods(table: list[list[object]]) -> bytes:
    """An OpenDocument spreadsheet: numbers as floats, everything else as strings."""

    def cell(value: object) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, (int, float)):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        return (
            '<table:table-cell office:value-type="string">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in table
    )
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Data">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/'
        'vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path='
        '"content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def test_ods_loads(tmp_path):
    table = [["city", "people"], ["Oslo", 709037], ["Bergen", 291940], ["Tromsø", 78745.5]]
    loaded = load(ods(table), name="cities.ods")
    assert loaded.report.file_type == "ods" and loaded.report.sheet == "Data"
    assert rows(loaded) == [tuple(r) for r in table[1:]]


# ---------------------------------------------------------------- damaged workbooks


def rezip(data: bytes, change) -> bytes:
    """The workbook with each part passed through `change(name, bytes)` (None drops it)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in source.namelist():
            part = change(name, source.read(name))
            if part is not None:
                z.writestr(name, part)
    return out.getvalue()


GOOD = [["a", "b"], [1, "x"], [2, "y"]]


def test_broken_sheet_xml_names_the_sheet():
    data = rezip(
        xlsx_bytes({"Data": GOOD}),
        lambda n, d: d.replace(b"</sheetData>", b"") if n == "xl/worksheets/sheet1.xml" else d,
    )
    message = refused(data, name="book.xlsx")
    assert message == (
        "book.xlsx is damaged: its sheet 'Data' is not well-formed XML (in its <sheetData> "
        "element)."
    )


def test_missing_sheet_part_names_the_sheet():
    data = rezip(
        xlsx_bytes({"Data": GOOD}), lambda n, d: None if n.startswith("xl/worksheets/") else d
    )
    message = refused(data, name="book.xlsx")
    assert message == "book.xlsx is damaged: its sheet 'Data' is missing from the file."


def test_truncated_zip():
    data = xlsx_bytes({"Data": GOOD})
    message = refused(data[: len(data) // 2], name="book.xlsx")
    assert message == "book.xlsx is damaged: its zip archive is cut short or corrupt."


def test_wrong_content_types_still_read_the_cells_right():
    data = rezip(
        xlsx_bytes({"Data": GOOD}),
        lambda n, d: b"<Types>not what it should be" if n == "[Content_Types].xml" else d,
    )
    assert rows(load(data, name="book.xlsx")) == [(1, "x"), (2, "y")]


def test_workbook_part_cut_short():
    data = rezip(
        xlsx_bytes({"Data": GOOD}), lambda n, d: d[: len(d) // 2] if n == "xl/workbook.xml" else d
    )
    assert "book.xlsx is damaged" in refused(data, name="book.xlsx")


def test_broken_shared_strings():
    data = shared_string_book(["ok"], [[0]])
    data = rezip(data, lambda n, d: d[:-20] if n == "xl/sharedStrings.xml" else d)
    assert refused(data, name="book.xlsx") == (
        "book.xlsx is damaged: a part read before any sheet (the list of sheets, shared "
        "strings or styles) is not well-formed XML."
    )


@pytest.mark.parametrize("name", ["secret.xlsx", "secret.xls", "secret"])
def test_password_protected_workbook(name):
    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(xlsx_bytes({"Data": GOOD}))).encrypt("hunter2", encrypted)
    message = refused(encrypted.getvalue(), name=name)
    assert message == f"{name} is password-protected; save it without one."


# ---------------------------------------------------------------- bounds before unpacking


def shared_string_book(strings: list[str], refs: list[list[int]], extra_cell: str = "") -> bytes:
    """An .xlsx whose cells refer to shared strings by index, built by hand."""
    cells = "".join(
        f'<row r="{i + 1}">'
        + "".join(f'<c r="{chr(65 + j)}{i + 1}" t="s"><v>{k}</v></c>' for j, k in enumerate(row))
        + "</row>"
        for i, row in enumerate(refs)
    )
    sst = "".join(f"<si><t>{s}</t></si>" for s in strings)
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            f'ContentType="{CT}.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            f'sheet1.xml" ContentType="{CT}.worksheet+xml"/><Override PartName="/xl/'
            f'sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="S" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/'
            'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{MAIN}"><sheetData>{cells}{extra_cell}</sheetData></worksheet>'
        ),
        "xl/sharedStrings.xml": f'<sst xmlns="{MAIN}">{sst}</sst>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return buffer.getvalue()


def test_shared_strings_by_hand_load(tmp_path):
    data = shared_string_book(["name", "city", "Ann", "Oslo"], [[0, 1], [2, 3]])
    assert rows(load(data, name="s.xlsx")) == [("Ann", "Oslo")]


def load_in_child(path: Path, memory_cap: int = 2 << 30) -> tuple[str, float, int]:
    """Load `path` in a child process whose address space is capped (a reader that ignores
    the bound could otherwise take the machine), returning its output, seconds, peak RSS.

    The peak is the child's own high-water mark (`VmHWM`, reset by `exec`): `ru_maxrss`
    from `wait4` would count the pages the child shared with this test process at fork."""
    code = (
        "import resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory_cap}, {memory_cap})); "
        "from steps.load import LoadError, load\n"
        "try:\n    r = load(sys.argv[1]).report; print('loaded', r.n_rows)\n"
        "except LoadError as e:\n    print(e)\n"
        "status = open('/proc/self/status').read()\n"
        "print([line.split()[1] for line in status.splitlines() if line.startswith('VmHWM')][0])"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    seconds = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if len(lines) != 2:  # the child failed: its error is what the test shows
        return done.stdout + done.stderr[-300:], seconds, 0
    return lines[0], seconds, int(lines[1]) * 1024


def test_one_shared_string_referred_to_by_many_cells_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "amplified.xlsx"
    path.write_bytes(shared_string_book(["x" * 1_000_000], [[0] * 15 for _ in range(100)]))
    assert path.stat().st_size < 10_000
    out, seconds, peak = load_in_child(path)
    assert out.startswith("amplified.xlsx would take 1,430.") and "in memory" in out, out
    assert seconds < 10 and peak < 500 * 1024 * 1024, (seconds, peak)


def test_far_apart_corners_are_refused_before_the_range_is_allocated(tmp_path):
    corner = '<row r="1048576"><c r="XFD1048576" t="s"><v>0</v></c></row>'
    path = tmp_path / "corners.xlsx"
    path.write_bytes(shared_string_book(["a"], [[0]], extra_cell=corner))
    out, seconds, peak = load_in_child(path)
    cells = 1_048_576 * 16_384
    assert out.startswith("corners.xlsx would take"), out
    assert f"{cells * 32 / 2**20:,.1f} MB" in out
    assert seconds < 10 and peak < 500 * 1024 * 1024


def test_the_workbook_bound_is_a_parameter(tmp_path):
    data = shared_string_book(["y" * 10_000], [[0] * 3 for _ in range(10)])  # 300 000 chars
    assert load(data, name="s.xlsx", limits=LoadLimits(max_workbook_bytes=400_000)).report.n_rows
    message = refused(data, name="s.xlsx", limits=LoadLimits(max_workbook_bytes=300_000))
    assert "over the limit of 0.3 MB (300,000 bytes)" in message


def test_too_many_columns_in_a_sheet(tmp_path):
    data = xlsx_bytes({"wide": [[f"c{j}" for j in range(30)], list(range(30))]})
    message = refused(data, name="wide.xlsx", limits=LoadLimits(max_columns=20))
    assert "30 columns, over the limit of 20" in message
    assert load(data, name="wide.xlsx", limits=LoadLimits(max_columns=30)).report.n_columns == 30


def test_huge_and_irrational_numbers_keep_their_value():
    table = [["v"], [1e300], [-1e300], [math.pi]]
    loaded = load(xlsx_bytes({"s": table}), name="big.xlsx")
    assert [r[0] for r in rows(loaded)] == [1e300, -1e300, math.pi]


# ---------------------------------------------------------------- .xlsb


def xlsb(table: list[list[object]]) -> bytes:
    """A binary workbook (BIFF12 records in a zip), as MS-XLSB lays it out: numbers as
    BrtCellReal, text as BrtCellSt, booleans as BrtCellBool. No writer library makes these."""

    def record(kind: int, payload: bytes = b"") -> bytes:
        head = bytes([kind]) if kind < 0x80 else bytes([(kind & 0x7F) | 0x80, kind >> 7])
        size, length = len(payload), b""
        while True:
            length += bytes([(size & 0x7F) | (0x80 if size > 0x7F else 0)])
            size >>= 7
            if not size:
                break
        return head + length + payload

    def wide(text: str) -> bytes:
        return struct.pack("<I", len(text)) + text.encode("utf-16-le")

    cells = b""
    for r, row in enumerate(table):
        cells += record(0x00, struct.pack("<IIHH", r, 0, 0, 0))  # BrtRowHdr
        for c, value in enumerate(row):
            head = struct.pack("<II", c, 0)
            if isinstance(value, bool):
                cells += record(0x04, head + bytes([value]))
            elif isinstance(value, (int, float)):
                cells += record(0x05, head + struct.pack("<d", value))
            else:
                cells += record(0x06, head + wide(str(value)))
    width = max(len(row) for row in table)
    sheet = (
        record(0x81)  # BrtBeginSheet
        + record(0x94, struct.pack("<IIII", 0, len(table) - 1, 0, width - 1))  # BrtWsDim
        + record(0x91)  # BrtBeginSheetData
        + cells
        + record(0x92)  # BrtEndSheetData
        + record(0x82)  # BrtEndSheet
    )
    bundle = struct.pack("<II", 0, 1) + wide("rId1") + wide("Binary")  # BrtBundleSh
    book = record(0x83) + record(0x8F) + record(0x9C, bundle) + record(0x90) + record(0x84)
    rels = (
        f'<?xml version="1.0"?><Relationships xmlns="{PKG}"><Relationship Id="rId1" '
        f'Type="{REL}/worksheet" Target="worksheets/sheet1.bin"/></Relationships>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.bin", book)
        z.writestr("xl/_rels/workbook.bin.rels", rels)
        z.writestr("xl/worksheets/sheet1.bin", sheet)
    return buffer.getvalue()


def test_xlsb_loads():
    table = [["name", "score", "passed"], ["Ann", 2.5, True], ["Bob", 3.0, False]]
    loaded = load(xlsb(table), name="grades.xlsb")
    assert loaded.report.file_type == "xlsb" and loaded.report.sheet == "Binary"
    assert rows(loaded) == [("Ann", 2.5, "TRUE"), ("Bob", 3.0, "FALSE")]
