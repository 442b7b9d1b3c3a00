"""JSON-safe conversion shared by every result type.

Reports must be plain JSON: no NaN/inf (they become null), no numpy scalars, no tuples.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np


def json_safe(value: Any) -> Any:
    """Recursively turn a result (dataclasses, numpy, dates, NaN) into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if to_dict is not None:
            return to_dict()
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating, decimal.Decimal)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return None if _pandas_missing(value) else value.isoformat()
    if isinstance(value, dt.timedelta):
        return None if _pandas_missing(value) else value.total_seconds()
    if value is None or _pandas_missing(value):
        return None
    if isinstance(value, str):
        return value
    return str(value)


def _pandas_missing(value: Any) -> bool:
    """pandas' NA or NaT. Read from `sys.modules`, not imported: a value can only be one
    when pandas is loaded already, and most runs never load it (~0.4 s, ~70 MB)."""
    pd = sys.modules.get("pandas")
    return pd is not None and (value is pd.NA or value is pd.NaT)


NOT_REPORTED = "not_reported"


class ToDict:
    """Mixin for frozen result dataclasses: `to_dict()` is their JSON-safe form."""

    # Only dataclasses mix this in, and `@dataclass` sets this on each of them; declared
    # (not assigned) so that mypy knows a ToDict is a dataclass instance.
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def to_dict(self) -> dict[str, Any]:
        """Every field but those marked `metadata={NOT_REPORTED: True}` (kept for a later
        step, not for a person)."""
        return {
            f.name: json_safe(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if not f.metadata.get(NOT_REPORTED)
        }
