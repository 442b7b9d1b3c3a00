"""Run-time configuration read once from the environment.

Hosted mode (`SIGNOFF_HOSTED=1`) is the read-only team server: uploads only, DuckDB locked
down after loading, no paths or tracebacks shown to viewers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    hosted: bool
    max_mb: float
    duckdb_memory: str | None

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            hosted=env.get("SIGNOFF_HOSTED", "").strip().lower() in _TRUE,
            max_mb=_positive_float(env.get("SIGNOFF_MAX_MB"), default=200.0, name="SIGNOFF_MAX_MB"),
            duckdb_memory=env.get("SIGNOFF_DUCKDB_MEMORY") or None,
        )


def _positive_float(raw: str | None, *, default: float, name: str) -> float:
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of megabytes, not {raw!r}.") from None
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero, not {raw!r}.")
    return value
