"""Write the benchmark's messy table as an .xlsx of a given size (not a test).

    uv run python bench/xlsx.py --mb 50 --out bench/data/messy_50mb.xlsx

The rows are `generate.py`'s (same seed, same values), so the workbook and the CSV hold the
same table: numbers become number cells, ISO dates and timestamps date cells, everything else
(categories, `true`/`false`, `NA`, free text) shared strings, as a spreadsheet saved by Excel
stores them. The sheet XML is streamed into the zip and the file stops growing at the first
whole row past `--mb` (MB = 10⁶ bytes of the compressed file), so memory stays bounded; only
the shared-string table is held, and it is small (the text columns repeat).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sys
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from generate import SEED, csv_chunks, size_arguments

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
EPOCH = dt.datetime(1899, 12, 30)
NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CT}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{CT}.styles+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
    '<sheet name="orders" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'<Relationships xmlns="{PKG}">'
    f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
# Style 1 shows a date (built-in format 14), style 2 a date and time (format 22).
STYLES = (
    f'<styleSheet xmlns="{MAIN}"><fonts count="1"><font/></fonts><fills count="1"><fill/>'
    '</fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
    '<cellXfs count="3"><xf/><xf numFmtId="14" applyNumberFormat="1"/>'
    '<xf numFmtId="22" applyNumberFormat="1"/></cellXfs></styleSheet>'
)


class SharedStrings:
    """The workbook's shared-string table: each distinct text once, cells refer by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def cell(self, text: str) -> str:
        k = self.index.setdefault(text, len(self.index))
        return f'<c t="s"><v>{k}</v></c>'

    def xml(self) -> str:
        items = "".join(
            f'<si><t xml:space="preserve">{escape(text)}</t></si>' for text in self.index
        )
        return f'<sst xmlns="{MAIN}" uniqueCount="{len(self.index)}">{items}</sst>'


def serial(moment: dt.datetime) -> str:
    """Excel's day number (days since 1899-12-30, the fraction is the time of day)."""
    return repr((moment - EPOCH) / dt.timedelta(days=1))


def cell(text: str, strings: SharedStrings) -> str:
    """One CSV field as the cell Excel would store for it; empty fields are left out."""
    if text == "":
        return "<c/>"
    if NUMBER.fullmatch(text):
        return f"<c><v>{text}</v></c>"
    if DATE.fullmatch(text):
        return f'<c s="1"><v>{serial(dt.datetime.fromisoformat(text))}</v></c>'
    if TIMESTAMP.fullmatch(text):
        return f'<c s="2"><v>{serial(dt.datetime.fromisoformat(text))}</v></c>'
    return strings.cell(text)


def csv_rows(seed: int):
    """The generator's rows, parsed back into fields (the CSV is never written to disk).

    Every chunk `csv_chunks` yields ends at the end of a row, so each parses on its own."""
    for data in csv_chunks(1 << 62, seed):
        yield from csv.reader(io.StringIO(data.decode(), newline=""))


def write_xlsx(out: Path, megabytes: float, seed: int = SEED) -> int:
    """Write the workbook (MB = 10⁶ bytes of the compressed file); returns its data rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    target = int(megabytes * 1_000_000)
    strings = SharedStrings()
    rows = 0
    with open(out, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in (
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", ROOT_RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/styles.xml", STYLES),
        ):
            z.writestr(name, xml)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
            for i, fields in enumerate(csv_rows(seed)):
                cells = (
                    (strings.cell(f) for f in fields)
                    if i == 0
                    else (cell(f, strings) for f in fields)
                )
                sheet.write(("<row>" + "".join(cells) + "</row>").encode())
                rows = i
                if i % 1000 == 0 and raw.tell() >= target:
                    break
            sheet.write(b"</sheetData></worksheet>")
        z.writestr("xl/sharedStrings.xml", strings.xml())
    return rows


def main() -> None:
    args = size_arguments("Write the messy table as an .xlsx.")
    started = time.perf_counter()
    rows = write_xlsx(args.out, args.mb, args.seed)
    seconds = time.perf_counter() - started
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out}: {size:.1f} MB, {rows:,} rows in {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
