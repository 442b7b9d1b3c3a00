"""Source files kept by SHA-256, so a reviewer in another session sees exactly the same bytes.

Layout: `<workspace>/sources/<sha256>/<safe file name>`. The directory name is the content
hash, so the same bytes are stored once whatever they are called; the file inside keeps a
sanitised form of the first name it arrived with (the loader reads the extension). A copy
appears atomically: it is written (whole, or streamed in pieces) into a private temporary
directory and renamed into place; if another session got there first, its copy is kept and
ours discarded.

A kept source's folder time is the last time anyone handed over or reopened those bytes:
`review.retention` removes sources nobody has touched for `SIGNOFF_RETENTION_DAYS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePath

from steps.errors import SourceTooLarge, WorkspaceError
from steps.text import safe_filename

CHUNK_BYTES = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


def kept_name(name: str) -> str:
    """The file name a source is kept under: safe anywhere, its extension (which the loader
    reads) kept whole however long the name."""
    path = PurePath(re.split(r"[\\/]", str(name or ""))[-1])
    return safe_filename(path.stem, path.suffix, default="source")


def _sources_dir(root: Path) -> Path:
    return root / "sources"


def _checked_sha256(sha256: str) -> str:
    sha = str(sha256 or "").lower()
    if not _SHA256.fullmatch(sha):
        raise WorkspaceError("A kept source is named by its SHA-256 (64 hexadecimal characters).")
    return sha


def touch(kept: Path) -> None:
    """Mark a kept source as used now (its folder's time), so retention counts from here."""
    with contextlib.suppress(OSError):
        os.utime(kept.parent)


def source_path(sha256: str, *, root: Path) -> Path | None:
    """The kept file with that SHA-256, or None if this workspace does not hold it."""
    folder = _sources_dir(root) / _checked_sha256(sha256)
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file())
    return files[0] if files else None


class IncomingSource:
    """A source arriving in pieces (a streamed upload, a file read in chunks), kept only whole.

    The bytes go to a private staging directory while their SHA-256 is computed, so nothing
    is held in memory and a file is never read twice. `keep()` renames the directory into
    place under the hash; an error, the limit crossed or `discard()` leaves nothing behind,
    so a half-arrived upload can never be mistaken for a source.
    """

    def __init__(self, name: str, *, limit: int | None = None, root: Path) -> None:
        self.name = kept_name(name)
        self.limit = limit
        self.size = 0
        self._root = root
        self._sources = _sources_dir(root)
        self._sources.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self._sources))
        self._out = (self._staging / self.name).open("wb")
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        """Append a piece; past the limit, everything received so far is deleted."""
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            self.discard()
            raise SourceTooLarge(
                f"{self.name} is over the limit of {self.limit / (1024 * 1024):,.1f} MB "
                f"({self.limit:,} bytes), so nothing was kept."
            )
        self._digest.update(chunk)
        self._out.write(chunk)

    def staged(self) -> Path:
        """Everything received so far, flushed to the staging file, which can be read (and
        loaded) in place before `keep()` moves it: the bytes are written once."""
        self._out.flush()
        return self._staging / self.name

    def keep(self) -> Path:
        """Store the bytes received under their SHA-256 and return the kept file's path."""
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        sha = self._digest.hexdigest()
        final = self._sources / sha
        if not final.is_dir():
            # Renaming a directory onto an existing non-empty one fails atomically: the
            # session that lost the race keeps the winner's copy.
            with contextlib.suppress(OSError):
                os.rename(self._staging, final)
        self.discard()
        kept = source_path(sha, root=self._root)
        if kept is None:
            raise WorkspaceError("The source file could not be kept in the workspace folder.")
        touch(kept)
        return kept

    def discard(self) -> None:
        """Forget whatever arrived; harmless after `keep()` or a second time."""
        self._out.close()
        shutil.rmtree(self._staging, ignore_errors=True)

    def __enter__(self) -> IncomingSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def _already_kept(path: Path, root: Path) -> bool:
    """True for a file inside `sources/<sha256>/`: it is kept already, under its hash."""
    resolved = path.resolve()
    return resolved.parent.parent == _sources_dir(root).resolve() and bool(
        _SHA256.fullmatch(resolved.parent.name)
    )


def keep_source(data: bytes | Path, name: str, *, root: Path) -> Path:
    """Store the source once under its SHA-256 and return the kept file's path.

    A path that is already a kept source (a streamed upload, a reopened analysis) is returned
    as it is, so loading one does not copy hundreds of megabytes onto themselves.
    """
    if not isinstance(data, (bytes, bytearray, memoryview, Path)):
        raise WorkspaceError("A source to keep must be bytes or a path to a file.")
    if isinstance(data, Path) and not data.is_file():
        raise WorkspaceError(f"There is no file to keep at {kept_name(data.name)}.")
    if isinstance(data, Path) and _already_kept(data, root):
        touch(data)
        return data
    with IncomingSource(name, root=root) as incoming:
        if isinstance(data, Path):
            with data.open("rb") as source:
                while chunk := source.read(CHUNK_BYTES):
                    incoming.write(chunk)
        else:
            incoming.write(bytes(data))
        return incoming.keep()


def streamed_source(sha256: str | None, *, root: Path) -> Path | None:
    """The kept upload a page address names (`?upload=<sha256>`), or None.

    Anything that is not a kept source's hash gives None: the address is typed by a person.
    """
    try:
        return source_path(sha256 or "", root=root)
    except WorkspaceError:
        return None
