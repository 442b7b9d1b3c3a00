"""Bounds on a workbook, checked on its zip before any spreadsheet reader unpacks it.

A reader inflates a whole sheet into memory, so three small files can take a server down:
a zip bomb (sheet XML of gigabytes of repeated bytes), a sheet whose cells name far-apart
corners (`A1` and `XFD1048576`: the reader allocates every cell in between, and aborts the
process when it cannot), and a 7 KB file whose one 1 MB shared string is referred to by
1 500 cells (the reader copies it into each). Each part is streamed once through `zipfile`
(which stops at the declared size and checks the CRC), so a directory that understates a
part is refused too, in bounded memory; the sheets and the shared strings are scanned on the
way with byte patterns, never parsed into elements (an upper bound, which is what a bound
needs).
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from operator import methodcaller
from typing import IO

from steps.errors import LoadError
from steps.load.encoding import CHUNK_BYTES
from steps.load.report import Source, megabytes

# What a reader holds per cell of a sheet's used range (calamine: a 32-byte value).
CELL_BYTES = 32
# Both start with the literal `r="`, so the scan runs at C speed whatever white space comes
# before the attribute; other attributes whose name ends in `r` and whose value looks like a
# cell reference would only raise the bound.
_COLUMNS = re.compile(rb'r="([A-Z]{1,3})\d')
_ROWS = re.compile(rb'r="[A-Z]{1,3}(\d{1,7})"')
_SHARED_REF = re.compile(rb't="s"[^>]*>\s*<v>(\d+)</v>')
_SI_END = re.compile(rb"</si>")
_SST = "xl/sharedStrings.xml"


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _is_sheet(name: str) -> bool:
    return name.startswith("xl/worksheets/") and name.endswith(".xml")


def _pieces(part: IO[bytes]) -> Iterator[bytes]:
    """A part's bytes in chunks, each cut before its last `<c` so no cell is split."""
    carry = b""
    for chunk in iter(lambda: part.read(CHUNK_BYTES), b""):
        data = carry + chunk
        cut = data.rfind(b"<c")
        cut = len(data) if cut < 0 else cut
        carry = data[cut:]
        yield data[:cut]
    yield carry


class _SheetScan:
    """A worksheet's used range, and how many cells refer to a shared string."""

    def __init__(self) -> None:
        self.max_row = 0
        self.max_column = 0
        self.rows = 0
        self.widest_row = 0  # for cells without an `r` attribute: their count in a row
        self.shared_refs = 0

    def scan(self, piece: bytes) -> None:
        columns = _COLUMNS.findall(piece)
        if columns:
            self.max_column = max(self.max_column, *map(_column_number, set(columns)))
            self.max_row = max(self.max_row, *map(int, set(_ROWS.findall(piece))))
        self.rows += piece.count(b"<row")
        # `<c` also starts a few other tags (`<col>`): counting them only raises the bound.
        if piece.count(b"<c") > len(columns):  # cells without `r`: as wide as their row
            self.widest_row = max(
                self.widest_row, *map(methodcaller("count", b"<c"), piece.split(b"<row"))
            )
        self.shared_refs += piece.count(b't="s"')

    def cells(self) -> int:
        return max(self.max_row, self.rows) * max(self.max_column, self.widest_row)


def _shared_lengths(z: zipfile.ZipFile) -> list[int]:
    """An upper bound on the UTF-8 length of each shared string: the bytes of its `<si>`
    element (markup and escapes only make it longer), streamed."""
    if _SST not in z.namelist():
        return []
    lengths: list[int] = []
    with z.open(_SST) as part:
        carry = b""
        for chunk in iter(lambda: part.read(CHUNK_BYTES), b""):
            pieces = _SI_END.split(carry + chunk)
            carry = pieces.pop()
            lengths += [len(piece) - max(piece.rfind(b"<si"), 0) for piece in pieces]
    return lengths


def _shared_text(z: zipfile.ZipFile, lengths: list[int]) -> int:
    """The text the sheets' shared-string cells stand for, each reference counted (a second
    pass, made only when the quick bound of references x longest string is too high)."""
    total = 0
    for info in z.infolist():
        if _is_sheet(info.filename):
            with z.open(info) as part:
                for piece in _pieces(part):
                    for k, n in Counter(_SHARED_REF.findall(piece)).items():
                        total += lengths[int(k)] * n if int(k) < len(lengths) else 0
    return total


def _expanded_bytes(z: zipfile.ZipFile, scans: list[_SheetScan], bound: int) -> int:
    """What the sheets take once read: every cell of each used range, plus the text of a
    shared string each time a cell refers to it (exactly when the quick bound says it might
    pass `bound`)."""
    cells = sum(scan.cells() for scan in scans) * CELL_BYTES
    lengths = _shared_lengths(z)
    quick = sum(scan.shared_refs for scan in scans) * max(lengths, default=0)
    if cells + quick <= bound:
        return cells + quick
    return cells + _shared_text(z, lengths)


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
                with z.open(info) as part:
                    if not _is_sheet(info.filename):
                        while part.read(CHUNK_BYTES):
                            pass
                        continue
                    scan = _SheetScan()
                    for piece in _pieces(part):
                        scan.scan(piece)
                    scans.append(scan)
            bound = job.limits.max_workbook_bytes
            expanded = _expanded_bytes(z, scans, bound)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise LoadError(f"{job.shown} is damaged: its zip archive cannot be read.") from None
    if expanded > bound:
        raise LoadError(
            f"{job.shown} would take {megabytes(expanded)} in memory once its cells are "
            f"read, over the limit of {megabytes(bound)}; it cannot be loaded."
        )
