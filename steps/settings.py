"""Run-time configuration read once from the environment.

Hosted mode (`SIGNOFF_HOSTED=1`) is the read-only team server: uploads and bundled samples
only (no server paths), DuckDB locked down after loading, no paths or tracebacks shown to
viewers. The size limit lives with the loader (`steps.load.max_bytes`), the DuckDB memory
limit with the engine (`steps.engine.connect`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    hosted: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(hosted=env.get("SIGNOFF_HOSTED", "").strip().lower() in _TRUE)
