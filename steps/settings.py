"""Run-time configuration, read once from the environment at start-up and passed down.

Why once: `marimo run` serves every viewer from one process, and a module that read
`os.environ` for itself would make its behaviour depend on when it looked. Here every
variable is parsed in one place, a bad value is one sentence at start-up (not a failure
halfway through someone's analysis), and tests build a `Settings` directly instead of
patching the environment.

Hosted mode (`SIGNOFF_HOSTED=1`) is the read-only team server: uploads only (no server
paths), DuckDB locked down after loading, no paths or tracebacks shown to viewers, and
AI prompts in strict privacy mode unless `SIGNOFF_AI_PRIVACY` says otherwise.
Who a reviewer is (`IdentitySettings`) and what the streaming upload route allows
(`UploadSettings`) are parsed here too; `review.identity` and `python -m server` apply them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from steps.alerts.types import Thresholds
from steps.errors import SettingsError
from steps.load.report import DEFAULT_LIMITS, DEFAULT_MAX_MB, MIB, LoadLimits

DEFAULT_AI_TIMEOUT_S = 30.0
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
DEFAULT_OLLAMA_MODEL = "llama3.2"
DEFAULT_SQL_TIMEOUT_S = 20.0
DEFAULT_STEP_TIMEOUT_S = 120.0
# The loader's bounds as the app and `python -m steps` apply them: parsing within the steps'
# time budget too (the library's own default leaves it unbounded).
SERVED_LIMITS = LoadLimits(max_seconds=DEFAULT_STEP_TIMEOUT_S)
DEFAULT_SQL_MEMORY_MB = 512
DEFAULT_UPLOAD_TIMEOUT_S = 15.0
DEFAULT_UPLOAD_MIN_KBPS = 8.0
DEFAULT_UPLOAD_QUOTA_MB = 2048
DEFAULT_UPLOAD_QUOTA_FILES = 50
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")
IdentitySource = Literal["header", "token"]
Text = Callable[[str], str | None]

Privacy = Literal["strict", "aggregates"]
"""What AI prompts may carry. `aggregates`: names, counts and summary figures, the minimum,
quartiles and maximum of numeric columns among them (each a cell value), rows on opt-in.
`strict`: no value taken from the data: no order statistic, top value or row; means and
standard deviations rounded to 2 significant digits (`ai.prompts` says exactly what)."""
PRIVACY_MODES: tuple[Privacy, ...] = get_args(Privacy)
DEFAULT_PRIVACY: Privacy = "aggregates"
HOSTED_PRIVACY: Privacy = "strict"


@dataclass(frozen=True)
class AISettings:
    """Which advisor answers, how long a call may take, and what its prompts may carry
    (`privacy`: strict by default on a hosted server, where the data is someone else's).

    The key is kept here only to hand to the client; it is never logged, recorded or shown
    (`__repr__` leaves it out).
    """

    gemini_key: str | None = field(default=None, repr=False)
    gemini_key_variable: str | None = None
    gemini_model: str = DEFAULT_GEMINI_MODEL
    gemini_base_url: str | None = None
    ollama_url: str | None = None
    ollama_model: str = DEFAULT_OLLAMA_MODEL
    timeout_s: float = DEFAULT_AI_TIMEOUT_S
    privacy: Privacy = DEFAULT_PRIVACY


@dataclass(frozen=True)
class IdentitySettings:
    """Where a reviewer's name comes from, and whether the maker may also be the checker.

    With neither `user_header` nor `users_file` the reviewer types a name (a laptop run, or a
    team sharing one token: nothing on the server can tell its people apart). With one of
    them the server knows who is asking: a trusted proxy's header, or a person's own token
    from the users file; the name is then taken from the request, and by default the person
    who opened an analysis cannot authorise its export (`maker_checker`).
    """

    user_header: str | None = None
    users_file: Path | None = None
    maker_checker: bool = False

    @property
    def source(self) -> IdentitySource | None:
        """Which mechanism names the reviewer (None: the typed name stands)."""
        if self.user_header is not None:
            return "header"
        return "token" if self.users_file is not None else None


@dataclass(frozen=True)
class UploadSettings:
    """What the streaming upload route (`POST /upload` of `python -m server`) allows.

    Why a read timeout and a minimum rate: a client that sends the headers and then nothing,
    or one byte now and then, would otherwise hold a connection (and a staging file) for
    ever; twenty of them are a denial of service. Why a quota: one person must not fill the
    disk for everyone. Why retention: kept sources are people's data, not an archive
    (`retention_days` None keeps them until removed by hand).
    """

    read_timeout_s: float = DEFAULT_UPLOAD_TIMEOUT_S
    min_bytes_per_s: float = DEFAULT_UPLOAD_MIN_KBPS * 1024
    quota_bytes: int = DEFAULT_UPLOAD_QUOTA_MB * MIB
    quota_files: int = DEFAULT_UPLOAD_QUOTA_FILES
    retention_days: float | None = None


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults a laptop run uses.

    `db` is the review database: a SQLite file, or a `postgresql://` URL (text, not a path:
    a path would fold the URL's `//`). The audit key is never shown (`repr` leaves it out).
    """

    hosted: bool = False
    max_bytes: int = DEFAULT_MAX_MB * MIB
    duckdb_memory: str | None = None
    duckdb_threads: int | None = None
    db: str = "signoff.db"
    workspace: Path = Path("workspace")
    audit_key: str | None = field(default=None, repr=False)
    audit_key_file: Path | None = None
    sql_timeout_s: float = DEFAULT_SQL_TIMEOUT_S
    step_timeout_s: float = DEFAULT_STEP_TIMEOUT_S
    sql_memory_bytes: int = DEFAULT_SQL_MEMORY_MB * MIB
    load_limits: LoadLimits = SERVED_LIMITS
    ai: AISettings = AISettings()
    identity: IdentitySettings = IdentitySettings()
    upload: UploadSettings = UploadSettings()
    alerts: Thresholds = field(default_factory=Thresholds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Parse every `SIGNOFF_*` (and AI) variable; raises `SettingsError` on a bad one."""

        def text(name: str) -> str | None:  # a variable's value, blank as unset
            return env.get(name, "").strip() or None

        hosted = (text("SIGNOFF_HOSTED") or "").lower() in _TRUE
        step_timeout_s = _positive("SIGNOFF_STEP_TIMEOUT", text, DEFAULT_STEP_TIMEOUT_S, "seconds")
        return cls(
            hosted=hosted,
            max_bytes=int(_positive("SIGNOFF_MAX_MB", text, DEFAULT_MAX_MB, "megabytes") * MIB),
            duckdb_memory=text("SIGNOFF_DUCKDB_MEMORY"),
            duckdb_threads=_whole_or_unset("SIGNOFF_DUCKDB_THREADS", text, "threads"),
            db=text("SIGNOFF_DB") or "signoff.db",
            workspace=Path(text("SIGNOFF_WORKSPACE") or "workspace"),
            audit_key=text("SIGNOFF_AUDIT_KEY"),
            sql_timeout_s=_positive("SIGNOFF_SQL_TIMEOUT", text, DEFAULT_SQL_TIMEOUT_S, "seconds"),
            step_timeout_s=step_timeout_s,
            sql_memory_bytes=int(
                _positive("SIGNOFF_SQL_MEMORY_MB", text, DEFAULT_SQL_MEMORY_MB, "megabytes") * MIB
            ),
            audit_key_file=Path(key_file) if (key_file := text("SIGNOFF_AUDIT_KEY_FILE")) else None,
            load_limits=_load_limits(text, step_timeout_s),
            ai=_ai_settings(text, HOSTED_PRIVACY if hosted else DEFAULT_PRIVACY),
            identity=_identity_settings(text),
            upload=_upload_settings(text),
            alerts=_alert_thresholds(text, env),
        )

    @property
    def key_file(self) -> Path:
        """Where the audit key lives when `SIGNOFF_AUDIT_KEY` does not give it: the workspace
        unless `SIGNOFF_AUDIT_KEY_FILE` says otherwise (created, mode 0600, on first start)."""
        return self.audit_key_file or self.workspace / "audit.key"


def _positive(name: str, text: Text, default: float, unit: str) -> float:
    """A positive, finite number from the variable `name` (the default when unset)."""
    raw = text(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise SettingsError(f"{name} must be a positive number of {unit}, not {raw!r}.")
    return value


def _privacy(text: Text, default: Privacy) -> Privacy:
    """`SIGNOFF_AI_PRIVACY`, case-insensitive; the default when unset."""
    raw = text("SIGNOFF_AI_PRIVACY")
    if raw is None:
        return default
    for mode in PRIVACY_MODES:
        if raw.lower() == mode:
            return mode
    raise SettingsError(f"SIGNOFF_AI_PRIVACY must be strict or aggregates, not {raw!r}.")


def _load_limits(text: Text, seconds: float) -> LoadLimits:
    """The loader's bounds on a file's shape (`steps.load.LoadLimits` says why each), and
    the steps' time budget for its parsing."""
    columns = _whole("SIGNOFF_MAX_COLUMNS", text, DEFAULT_LIMITS.max_columns, "columns")
    line_mb = DEFAULT_LIMITS.max_line_bytes / MIB
    workbook_mb = DEFAULT_LIMITS.max_workbook_bytes / MIB
    return LoadLimits(
        max_columns=columns,
        max_line_bytes=int(_positive("SIGNOFF_MAX_LINE_MB", text, line_mb, "megabytes") * MIB),
        max_workbook_bytes=int(
            _positive("SIGNOFF_MAX_WORKBOOK_MB", text, workbook_mb, "megabytes") * MIB
        ),
        max_seconds=seconds,
    )


def _whole(name: str, text: Text, default: int, unit: str) -> int:
    """A positive whole number from the variable `name` (the default when unset)."""
    found = _whole_or_unset(name, text, unit)
    return default if found is None else found


def _whole_or_unset(name: str, text: Text, unit: str) -> int | None:
    """A positive whole number from the variable `name`, None when unset."""
    raw = text(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) == 0:
        raise SettingsError(f"{name} must be a positive whole number of {unit}, not {raw!r}.")
    return int(raw)


def _switch(name: str, text: Text) -> bool | None:
    """On or off from the variable `name`; None when unset."""
    raw = text(name)
    if raw is None:
        return None
    if raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    raise SettingsError(f"{name} must be on or off (1, true, yes / 0, false, no), not {raw!r}.")


def _identity_settings(text: Text) -> IdentitySettings:
    header = text("SIGNOFF_USER_HEADER")
    users_file = text("SIGNOFF_USERS_FILE")
    if header is not None and not _HEADER_NAME.fullmatch(header):
        raise SettingsError(
            f"SIGNOFF_USER_HEADER must be an HTTP header name such as X-Forwarded-User, "
            f"not {header!r}."
        )
    if header is not None and users_file is not None:
        raise SettingsError(
            "SIGNOFF_USER_HEADER and SIGNOFF_USERS_FILE both name the reviewer: set only one."
        )
    known = header is not None or users_file is not None
    maker_checker = _switch("SIGNOFF_MAKER_CHECKER", text)
    if maker_checker and not known:
        raise SettingsError(
            "SIGNOFF_MAKER_CHECKER is on but nothing on the server says who a reviewer is: "
            "set SIGNOFF_USER_HEADER or SIGNOFF_USERS_FILE (a typed name proves nothing)."
        )
    return IdentitySettings(
        user_header=header,
        users_file=Path(users_file) if users_file is not None else None,
        maker_checker=known if maker_checker is None else maker_checker,
    )


def _upload_settings(text: Text) -> UploadSettings:
    retention = text("SIGNOFF_RETENTION_DAYS")
    return UploadSettings(
        read_timeout_s=_positive(
            "SIGNOFF_UPLOAD_TIMEOUT", text, DEFAULT_UPLOAD_TIMEOUT_S, "seconds"
        ),
        min_bytes_per_s=_positive(
            "SIGNOFF_UPLOAD_MIN_KBPS", text, DEFAULT_UPLOAD_MIN_KBPS, "KiB per second"
        )
        * 1024,
        quota_bytes=int(
            _positive("SIGNOFF_UPLOAD_QUOTA_MB", text, DEFAULT_UPLOAD_QUOTA_MB, "megabytes") * MIB
        ),
        quota_files=_whole("SIGNOFF_UPLOAD_QUOTA_FILES", text, DEFAULT_UPLOAD_QUOTA_FILES, "files"),
        retention_days=(
            None if retention is None else _positive("SIGNOFF_RETENTION_DAYS", text, 1.0, "days")
        ),
    )


def _alert_thresholds(text: Text, env: Mapping[str, str]) -> Thresholds:
    """`SIGNOFF_ALERT_<TYPE>` (e.g. `SIGNOFF_ALERT_ZEROS=0.2`): each alert type's threshold,
    a non-negative finite number (`docs/alerts.md` lists the defaults). A variable naming no
    alert type is refused too: a misspelt one would otherwise change nothing, silently."""
    known = {f"SIGNOFF_ALERT_{name.upper()}" for name in Thresholds.names()}
    unknown = sorted(k for k in env if k.startswith("SIGNOFF_ALERT_") and k not in known)
    if unknown:
        raise SettingsError(
            f"{unknown[0]} names no alert type; docs/alerts.md lists the SIGNOFF_ALERT_ variables."
        )
    chosen: dict[str, float] = {}
    for name in Thresholds.names():
        variable = f"SIGNOFF_ALERT_{name.upper()}"
        raw = text(variable)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not (value >= 0 and math.isfinite(value)):
            raise SettingsError(f"{variable} must be a number of 0 or more, not {raw!r}.")
        chosen[name] = value
    return Thresholds(**chosen)


def _ai_settings(text: Text, privacy: Privacy) -> AISettings:
    key_variable = next((v for v in ("GEMINI_API_KEY", "GOOGLE_API_KEY") if text(v)), None)
    return AISettings(
        gemini_key=text(key_variable) if key_variable else None,
        gemini_key_variable=key_variable,
        gemini_model=text("SIGNOFF_GEMINI_MODEL") or DEFAULT_GEMINI_MODEL,
        gemini_base_url=text("GOOGLE_GEMINI_BASE_URL"),
        ollama_url=text("SIGNOFF_OLLAMA_URL"),
        ollama_model=text("SIGNOFF_OLLAMA_MODEL") or DEFAULT_OLLAMA_MODEL,
        timeout_s=_positive("SIGNOFF_AI_TIMEOUT", text, DEFAULT_AI_TIMEOUT_S, "seconds"),
        privacy=_privacy(text, privacy),
    )
