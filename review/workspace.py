"""Source files kept by SHA-256, so a reviewer in another session sees exactly the same bytes.

Layout: `<workspace>/sources/<sha256>/<safe file name>`. The directory name is the content
hash, so the same bytes are stored once whatever they are called; the file inside keeps a
sanitised form of the first name it arrived with (the loader reads the extension). A copy
appears atomically: it is written into a private temporary directory and renamed into place;
if another session got there first, its copy is kept and ours discarded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

CHUNK_BYTES = 1 << 20
MAX_NAME_CHARS = 120
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com\d|lpt\d)(\..*)?", re.IGNORECASE)


class WorkspaceError(ValueError):
    """A workspace operation refused, with one sentence saying why."""


def workspace_dir() -> Path:
    """`SIGNOFF_WORKSPACE` if set, else `workspace` in the working directory."""
    return Path(os.environ.get("SIGNOFF_WORKSPACE") or "workspace")


def safe_file_name(name: str, *, default: str = "source") -> str:
    """A file name safe on any file system: no directories, no control or odd characters.

    Keeps letters, digits, `.`, `_` and `-` (accents folded to ASCII where possible); a name
    that ends up empty, hidden or reserved on Windows falls back to `default`.
    """
    base = re.split(r"[\\/]", str(name or ""))[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", ascii_name).strip("._ ")
    stem, dot, suffix = cleaned.rpartition(".")
    if dot and len(cleaned) > MAX_NAME_CHARS:
        suffix = suffix[:16]
        cleaned = stem[: MAX_NAME_CHARS - len(suffix) - 1] + "." + suffix
    cleaned = cleaned[:MAX_NAME_CHARS]
    if not cleaned or _WINDOWS_RESERVED.fullmatch(cleaned):
        return default
    return cleaned


def _sources_dir(root: Path | None) -> Path:
    return (root or workspace_dir()) / "sources"


def _checked_sha256(sha256: str) -> str:
    sha = str(sha256 or "").lower()
    if not _SHA256.fullmatch(sha):
        raise WorkspaceError("A kept source is named by its SHA-256 (64 hexadecimal characters).")
    return sha


def source_path(sha256: str, *, root: Path | None = None) -> Path | None:
    """The kept file with that SHA-256, or None if this workspace does not hold it."""
    folder = _sources_dir(root) / _checked_sha256(sha256)
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file())
    return files[0] if files else None


def _copy_and_hash(data: bytes | Path, target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        if isinstance(data, (bytes, bytearray, memoryview)):
            digest.update(data)
            out.write(data)
        else:
            with Path(data).open("rb") as source:
                while chunk := source.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def keep_source(data: bytes | Path, name: str, *, root: Path | None = None) -> Path:
    """Store the source once under its SHA-256 and return the kept file's path."""
    if not isinstance(data, (bytes, bytearray, memoryview, Path)):
        raise WorkspaceError("A source to keep must be bytes or a path to a file.")
    if isinstance(data, Path) and not data.is_file():
        raise WorkspaceError(f"There is no file to keep at {safe_file_name(data.name)}.")
    sources = _sources_dir(root)
    sources.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=sources))
    try:
        sha = _copy_and_hash(data, staging / safe_file_name(name))
        final = sources / sha
        if not final.is_dir():
            # Renaming a directory onto an existing non-empty one fails atomically: the
            # session that lost the race keeps the winner's copy.
            with contextlib.suppress(OSError):
                os.rename(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    kept = source_path(sha, root=root)
    if kept is None:
        raise WorkspaceError("The source file could not be kept in the workspace folder.")
    return kept
