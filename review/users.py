"""The users file: each person's name and the SHA-256 of a token of their own.

Why a file of hashes: the file says who may sign in, so it must be readable by the server
and is easy to leak (a backup, a config repository, a support bundle). It holds no token:
`name = "sha256:<64 hex>"`, the SHA-256 of the token, and a token is checked by hashing it
and comparing. Reading the file gives no way in.

Why SHA-256 and not a password hash (argon2, scrypt, bcrypt): those are slow on purpose,
to protect low-entropy passwords people choose, whose hashes can otherwise be guessed
offline. The tokens here are made by `new_token` — 32 random bytes, 2^256 possibilities — so
no guessing finishes however fast the hash is, and a slow hash would only cost tens of
milliseconds on every request that carries a token. The rule that follows: never put a
password someone chose in this file; make every token with `python -m review new-token`.

Format: TOML (`[users]` then `ada = "sha256:…"`), or JSON (`{"users": {"ada": "sha256:…"}}`)
for a file whose name ends in `.json`. The server reads it again when it changes, so adding
a person, or revoking one by deleting their line, needs no restart; a file that stops
making sense lets nobody in until it is fixed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.gates import MAX_REVIEWER_CHARS
from steps.errors import IdentityError

TOKEN_BYTES = 32
PREFIX = "sha256:"
_ENTRY = re.compile(r"sha256:[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a token, as the users file stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe (what makes SHA-256 enough, see above)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def users_file_line(name: str, token: str) -> str:
    """The line that lets `name` sign in with `token` (TOML)."""
    key = json.dumps(checked_person(name), ensure_ascii=False)
    return f'{key} = "{PREFIX}{token_sha256(token)}"'


def checked_person(name: object) -> str:
    """A person's name as the trail records it: trimmed, printable, not too long."""
    text = str(name or "").strip()
    if not text:
        raise IdentityError("A person needs a name.")
    if len(text) > MAX_REVIEWER_CHARS or _CONTROL.search(text):
        raise IdentityError(
            f"A person's name must be printable and at most {MAX_REVIEWER_CHARS} characters."
        )
    return text


@dataclass(frozen=True)
class Users:
    """Who may sign in: name → hex SHA-256 of their token."""

    token_sha256_by_name: Mapping[str, str]

    def who(self, token: str) -> str | None:
        """The person whose token this is, or None. Every entry is compared, in constant time,
        so how long it takes says nothing about which entry (or how much of one) matched."""
        if not token:
            return None
        digest = token_sha256(token)
        found = None
        for name, expected in self.token_sha256_by_name.items():
            if hmac.compare_digest(digest, expected):
                found = name
        return found


def parse_users(text: str, *, json_format: bool, where: str) -> Users:
    """The users a file's text names; one `IdentityError` sentence when it cannot be used."""
    try:
        document: Any = json.loads(text) if json_format else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        kind = "JSON" if json_format else "TOML"
        raise IdentityError(f"The users file {where} is not valid {kind} ({error}).") from None
    table = document.get("users") if isinstance(document, dict) else None
    if not isinstance(table, dict) or not table:
        raise IdentityError(f"The users file {where} names nobody: add a [users] table.")
    by_name: dict[str, str] = {}
    owner_of: dict[str, str] = {}
    for raw_name, entry in table.items():
        try:
            name = checked_person(raw_name)
        except IdentityError as error:
            raise IdentityError(f"The users file {where}: {error}") from None
        value = str(entry).strip().lower() if isinstance(entry, str) else ""
        if not _ENTRY.fullmatch(value):
            raise IdentityError(
                f'The users file {where} gives {name!r} no "sha256:<64 hex>" token hash '
                "(make one with python -m review new-token)."
            )
        digest = value.removeprefix(PREFIX)
        if digest in owner_of:
            raise IdentityError(
                f"The users file {where} gives {owner_of[digest]!r} and {name!r} the same "
                "token, so they could not be told apart."
            )
        owner_of[digest] = name
        by_name[name] = digest
    return Users(by_name)


def read_users(path: Path) -> Users:
    """The users in the file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IdentityError(f"The users file {path} cannot be read ({error}).") from None
    return parse_users(text, json_format=path.suffix.lower() == ".json", where=str(path))


class UsersFile:
    """The users file as it is now: read again whenever its size, time or inode change.

    One per server (not a module global): the server asks it on every request that carries
    a token or a session, so revoking a person takes effect without a restart. A file that
    becomes unusable raises on every question until it is fixed, and the server lets nobody
    in meanwhile (an auth file with a typo must not fail open).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._stamp_now()
        self._users = read_users(path)

    def _stamp_now(self) -> tuple[int, int, int]:
        try:
            info = self.path.stat()
        except OSError as error:
            raise IdentityError(f"The users file {self.path} cannot be read ({error}).") from None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def current(self) -> Users:
        """The users, read again if the file changed since the last question."""
        stamp = self._stamp_now()
        if stamp != self._stamp:
            # Stamped before reading: a change made while it is read is seen next time.
            self._users = read_users(self.path)
            self._stamp = stamp
        return self._users
