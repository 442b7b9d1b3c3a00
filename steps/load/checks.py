"""Checks made before any parsing: size, and the file's type by extension *and* content.

A file that fails here is refused in one sentence without DuckDB or a spreadsheet reader
ever seeing it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from steps.errors import LoadError
from steps.load.encoding import CHUNK_BYTES
from steps.load.report import megabytes, shown_name

TEXT_TYPES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "txt"}
EXCEL_TYPES = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".xlsb": "xlsb",
    ".ods": "ods",
}
WORKBOOK_TYPES = frozenset(EXCEL_TYPES.values())
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
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


def _zip_workbook(path: Path, name: str) -> str | None:
    """The kind of workbook a zip holds (by its parts), or None for any other zip."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            mimetype = z.read("mimetype")[:80] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        if Path(name).suffix.lower() in EXCEL_TYPES:
            raise LoadError(
                f"{shown_name(name)} is damaged: its zip archive is cut short or corrupt."
            ) from None
        return None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "ods"
    return None


def _encrypted(path: Path) -> bool:
    """An Office file saved with a password: an OLE2 container holding `EncryptedPackage`."""
    tail = b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            if _ENCRYPTED_PACKAGE in tail + chunk:
                return True
            tail = chunk[-len(_ENCRYPTED_PACKAGE) :]
    return False


def _workbook_kind(path: Path, name: str, head: bytes) -> str | None:
    """What kind of workbook the content is, whatever the name says; None if it is none."""
    if head.startswith(_ZIP_MAGIC):
        return _zip_workbook(path, name)
    if head.startswith(_OLE2_MAGIC):
        if _encrypted(path):
            raise LoadError(f"{shown_name(name)} is password-protected; save it without one.")
        return "xls"
    return None


def file_type_of(path: Path, name: str, head: bytes) -> str:
    """The type to load as: extension and content must agree, else a refusal."""
    suffix = Path(name).suffix.lower()
    shown = shown_name(name)
    if suffix in EXCEL_TYPES:
        kind = _workbook_kind(path, name, head)
        if kind is None:
            raise LoadError(f"{shown} is named {suffix} but is not a workbook.")
        return kind
    if suffix and suffix not in TEXT_TYPES:
        raise LoadError(
            f"{shown} is a {suffix} file; only .csv, .tsv, .txt, .xlsx, .xlsm, .xls, .xlsb "
            "and .ods files can be loaded."
        )
    binary = _binary_kind(head)
    if binary is None:
        return TEXT_TYPES.get(suffix, "txt")
    kind = None if suffix else _workbook_kind(path, name, head)
    if kind is not None:
        return kind
    described = f"a {suffix} file" if suffix else "a text file"
    raise LoadError(f"{shown} is {binary}, not {described}; it cannot be loaded as a table.")
