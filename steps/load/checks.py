"""Checks made before any parsing: size, and the file's type by extension *and* content.

A file that fails here is refused in one sentence without DuckDB or a spreadsheet reader
ever seeing it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from steps.errors import LoadError
from steps.load.report import megabytes, shown_name

TEXT_TYPES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "txt"}
EXCEL_TYPES = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls"}
HEAD_BYTES = 1 << 20
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
# Content that is certainly not a table of text, whatever the file is called. Short or
# text-like signatures (MZ, PAR1, BZh) are left to the control-character check, since a
# header such as "PAR1,PAR2" is fine.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (_ZIP_MAGIC, "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (_OLE2_MAGIC, "an old-style Office document (such as .xls)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program"),
)


def known_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix in TEXT_TYPES or suffix in EXCEL_TYPES else ""


def check_size(size: int, limit: int, name: str) -> None:
    if size > limit:
        raise LoadError(
            f"{shown_name(name)} is {megabytes(size)}, over the limit of {megabytes(limit)}."
        )


def header_width(path: Path) -> int:
    """A cheap upper guess of the column count (the most frequent delimiter in the first
    line, plus one), made before parsing so the memory limit can allow for a wide file."""
    first = read_head(path).split(b"\n", 1)[0]
    return 1 + max(first.count(d) for d in (b",", b";", b"\t", b"|"))


def read_head(path: Path, n: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _binary_kind(head: bytes) -> str | None:
    """What a file's first bytes say it is, when that is something other than text."""
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _is_workbook_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "xl/workbook.xml" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def file_type_of(path: Path, name: str, head: bytes) -> str:
    """The type to load as: extension and content must agree, else a refusal."""
    suffix = Path(name).suffix.lower()
    shown = shown_name(name)
    if suffix in EXCEL_TYPES:
        if head.startswith(_ZIP_MAGIC) and _is_workbook_zip(path):
            return "xlsx"
        if suffix == ".xls" and head.startswith(_OLE2_MAGIC):
            return "xls"
        raise LoadError(f"{shown} is named {suffix} but is not an Excel workbook.")
    if suffix and suffix not in TEXT_TYPES:
        raise LoadError(
            f"{shown} is a {suffix} file; only .csv, .tsv, .txt, .xlsx and .xls files "
            "can be loaded."
        )
    kind = _binary_kind(head)
    if kind is None:
        return TEXT_TYPES.get(suffix, "txt")
    if not suffix and head.startswith(_ZIP_MAGIC) and _is_workbook_zip(path):
        return "xlsx"
    if not suffix and head.startswith(_OLE2_MAGIC):
        return "xls"
    described = f"a {suffix} file" if suffix else "a text file"
    raise LoadError(f"{shown} is {kind}, not {described}; it cannot be loaded as a table.")
