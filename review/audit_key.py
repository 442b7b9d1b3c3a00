"""The server's audit key: read from the settings' text, or from a private key file.

Why a file created on first start: a key nobody has to configure still turns a rewrite of
the whole chain into something that needs the server's secret, not only write access to
the database. The file is created atomically with mode 0600 (two servers starting at once
end up with the same key), and a key file that others can read is refused rather than
trusted. Settings decide where it lives and whether `SIGNOFF_AUDIT_KEY` overrides it; this
module only reads and creates, given a path.

Several servers sharing one database must share one key (the same `SIGNOFF_AUDIT_KEY`, or
the same key file on a shared volume): an append checks the head's seal with its own key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from review.audit import MIN_KEY_BYTES
from steps.errors import AuditKeyError
from steps.settings import Settings

NEW_KEY_BYTES = 32


def key_for(settings: Settings) -> bytes:
    """The server's key: `SIGNOFF_AUDIT_KEY` when set, else the key file (created on first
    start)."""
    if settings.audit_key is not None:
        return key_from_text(settings.audit_key, source="SIGNOFF_AUDIT_KEY")
    return load_or_create_key(settings.key_file)


def key_from_text(text: str, *, source: str) -> bytes:
    """The key a text stands for (its UTF-8 bytes, surrounding whitespace dropped)."""
    key = text.strip().encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"The audit key from {source} is shorter than {MIN_KEY_BYTES} bytes.")
    return key


def read_key_file(path: Path) -> bytes:
    """The key in an existing key file; refused if anyone but its owner may read it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AuditKeyError(f"The audit key file {path} cannot be read ({error}).") from None
    if mode & 0o077:
        raise AuditKeyError(
            f"The audit key file {path} can be read by others (mode {mode:04o}): "
            "make it private with chmod 600."
        )
    return key_from_text(text, source=str(path))


def load_or_create_key(path: Path | str) -> bytes:
    """The key in `path`, creating the file with a new random key (mode 0600) if absent."""
    path = Path(path)
    if path.exists():
        return read_key_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(NEW_KEY_BYTES) + "\n")
        # A hard link never replaces an existing file: of two servers starting together,
        # one key file wins and both read it.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return read_key_file(path)
