"""Bounds on a workbook, checked on its zip before any spreadsheet reader unpacks it.

A reader inflates a whole sheet into memory, so three small files can take a server down:
a zip bomb (sheet XML of gigabytes of repeated bytes), a sheet whose cells name far-apart
corners (`A1` and `XFD1048576`: the reader allocates every cell in between, and aborts the
process when it cannot), and a 7 KB file whose one 1 MB shared string is referred to by
1 500 cells (the reader copies it into each). Each part is streamed once through `zipfile`
(which stops at the declared size and checks the CRC), so a directory that understates a
part is refused too, in bounded memory; the sheets and the shared strings are scanned on the
way with byte patterns, never parsed into elements.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from xml.etree import ElementTree

from steps.errors import LoadError
from steps.load.encoding import CHUNK_BYTES
from steps.load.report import Source, megabytes

# What a reader holds per cell of a sheet's used range (calamine: a 32-byte value).
CELL_BYTES = 32
_CELL_REF = re.compile(rb'\sr="([A-Z]{1,3})(\d{1,7})"')
_SHARED_REF = re.compile(rb'<c\b[^>]*?\bt="s"[^>]*>\s*<v>(\d+)</v>')
_CELL = re.compile(rb"<c[\s>/]")
_SST = "xl/sharedStrings.xml"


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


class _SheetScan:
    """A worksheet's used range and its shared-string references, from streamed XML."""

    def __init__(self) -> None:
        self.max_row = 0
        self.max_column = 0
        self.rows = 0
        self.widest_row = 0  # for cells without an `r` attribute: their count in a row
        self.shared: Counter[int] = Counter()
        self._carry = b""

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk
        cut = data.rfind(b"<c")
        cut = len(data) if cut < 0 else cut
        self._carry, piece = data[cut:], data[:cut]
        self._scan(piece)

    def close(self) -> None:
        self._scan(self._carry)
        self._carry = b""

    def _scan(self, piece: bytes) -> None:
        refs = _CELL_REF.findall(piece)
        if refs:
            columns = {letters for letters, _ in refs}
            self.max_column = max(self.max_column, *map(_column_number, columns))
            self.max_row = max(self.max_row, *(int(row) for row in {row for _, row in refs}))
        self.rows += piece.count(b"<row")
        if len(_CELL.findall(piece)) > len(refs):  # some cells have no `r`: count per row
            self.widest_row = max(
                self.widest_row, *(len(_CELL.findall(row)) for row in piece.split(b"<row"))
            )
        self.shared.update(int(k) for k in _SHARED_REF.findall(piece))

    def cells(self) -> int:
        return max(self.max_row, self.rows) * max(self.max_column, self.widest_row)


def _shared_lengths(z: zipfile.ZipFile) -> list[int]:
    """The UTF-8 length of each shared string, streamed (the table itself may be large)."""
    if _SST not in z.namelist():
        return []
    lengths = []
    with z.open(_SST) as part:
        for _, element in ElementTree.iterparse(part):
            if element.tag.endswith("}si") or element.tag == "si":
                lengths.append(len("".join(element.itertext()).encode()))
                element.clear()
    return lengths


def _expanded_bytes(z: zipfile.ZipFile, scans: list[_SheetScan]) -> int:
    """What the sheets take once read: every cell of each used range, plus the text of a
    shared string each time a cell refers to it."""
    lengths = _shared_lengths(z)
    text = sum(lengths[k] * n for scan in scans for k, n in scan.shared.items() if k < len(lengths))
    return sum(scan.cells() for scan in scans) * CELL_BYTES + text


def check_workbook(job: Source) -> None:
    """Refuse a zip-based workbook that unpacks past the size limit or expands past
    `max_workbook_bytes`, before any reader unpacks it; a broken zip is damaged."""
    if not zipfile.is_zipfile(job.path):
        return
    try:
        with zipfile.ZipFile(job.path) as z:
            unpacked = sum(info.file_size for info in z.infolist())
            if unpacked > job.limit:
                raise LoadError(
                    f"{job.shown} unpacks to {megabytes(unpacked)}, over the limit of "
                    f"{megabytes(job.limit)}; it cannot be loaded."
                )
            scans = []
            for info in z.infolist():
                sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(
                    ".xml"
                )
                scan = _SheetScan() if sheet else None
                with z.open(info) as part:
                    for chunk in iter(lambda part=part: part.read(CHUNK_BYTES), b""):
                        if scan is not None:
                            scan.feed(chunk)
                if scan is not None:
                    scan.close()
                    scans.append(scan)
            expanded = _expanded_bytes(z, scans)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise LoadError(f"{job.shown} is damaged: its zip archive cannot be read.") from None
    except ElementTree.ParseError as exc:
        raise LoadError(
            f"{job.shown} is damaged: its shared strings are not well-formed XML ({exc})."
        ) from None
    bound = job.limits.max_workbook_bytes
    if expanded > bound:
        raise LoadError(
            f"{job.shown} would take {megabytes(expanded)} in memory once its cells are "
            f"read, over the limit of {megabytes(bound)}; it cannot be loaded."
        )
