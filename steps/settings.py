"""Run-time configuration, read once from the environment at start-up and passed down.

Why once: `marimo run` serves every viewer from one process, and a module that read
`os.environ` for itself would make its behaviour depend on when it looked. Here every
variable is parsed in one place, a bad value is one sentence at start-up (not a failure
halfway through someone's analysis), and tests build a `Settings` directly instead of
patching the environment.

Hosted mode (`SIGNOFF_HOSTED=1`) is the read-only team server: uploads only (no server
paths), DuckDB locked down after loading, no paths or tracebacks shown to viewers, and
AI prompts in strict privacy mode unless `SIGNOFF_AI_PRIVACY` says otherwise.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from steps.errors import SettingsError
from steps.load.report import DEFAULT_LIMITS, DEFAULT_MAX_MB, MIB, LoadLimits

DEFAULT_AI_TIMEOUT_S = 30.0
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
DEFAULT_OLLAMA_MODEL = "llama3.2"
DEFAULT_SQL_TIMEOUT_S = 20.0
DEFAULT_SQL_MEMORY_MB = 512
_TRUE = frozenset({"1", "true", "yes", "on"})
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
class Settings:
    """Everything configurable, with the defaults a laptop run uses.

    `db` is the review database: a SQLite file, or a `postgresql://` URL (text, not a path:
    a path would fold the URL's `//`). The audit key is never shown (`repr` leaves it out).
    """

    hosted: bool = False
    max_bytes: int = DEFAULT_MAX_MB * MIB
    duckdb_memory: str | None = None
    db: str = "signoff.db"
    workspace: Path = Path("workspace")
    audit_key: str | None = field(default=None, repr=False)
    audit_key_file: Path | None = None
    sql_timeout_s: float = DEFAULT_SQL_TIMEOUT_S
    sql_memory_bytes: int = DEFAULT_SQL_MEMORY_MB * MIB
    load_limits: LoadLimits = DEFAULT_LIMITS
    ai: AISettings = AISettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Parse every `SIGNOFF_*` (and AI) variable; raises `SettingsError` on a bad one."""

        def text(name: str) -> str | None:  # a variable's value, blank as unset
            return env.get(name, "").strip() or None

        hosted = (text("SIGNOFF_HOSTED") or "").lower() in _TRUE
        return cls(
            hosted=hosted,
            max_bytes=int(_positive("SIGNOFF_MAX_MB", text, DEFAULT_MAX_MB, "megabytes") * MIB),
            duckdb_memory=text("SIGNOFF_DUCKDB_MEMORY"),
            db=text("SIGNOFF_DB") or "signoff.db",
            workspace=Path(text("SIGNOFF_WORKSPACE") or "workspace"),
            audit_key=text("SIGNOFF_AUDIT_KEY"),
            sql_timeout_s=_positive("SIGNOFF_SQL_TIMEOUT", text, DEFAULT_SQL_TIMEOUT_S, "seconds"),
            sql_memory_bytes=int(
                _positive("SIGNOFF_SQL_MEMORY_MB", text, DEFAULT_SQL_MEMORY_MB, "megabytes") * MIB
            ),
            audit_key_file=Path(key_file) if (key_file := text("SIGNOFF_AUDIT_KEY_FILE")) else None,
            load_limits=_load_limits(text),
            ai=_ai_settings(text, HOSTED_PRIVACY if hosted else DEFAULT_PRIVACY),
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


def _load_limits(text: Text) -> LoadLimits:
    """The loader's bounds on a file's shape (`steps.load.LoadLimits` says why each)."""
    columns = _positive("SIGNOFF_MAX_COLUMNS", text, DEFAULT_LIMITS.max_columns, "columns")
    if columns != int(columns):
        raise SettingsError(f"SIGNOFF_MAX_COLUMNS must be a whole number, not {columns!r}.")
    line_mb = DEFAULT_LIMITS.max_line_bytes / MIB
    workbook_mb = DEFAULT_LIMITS.max_workbook_bytes / MIB
    return LoadLimits(
        max_columns=int(columns),
        max_line_bytes=int(_positive("SIGNOFF_MAX_LINE_MB", text, line_mb, "megabytes") * MIB),
        max_workbook_bytes=int(
            _positive("SIGNOFF_MAX_WORKBOOK_MB", text, workbook_mb, "megabytes") * MIB
        ),
    )


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
