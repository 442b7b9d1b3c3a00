"""Reading figures out of step result dicts, tolerant of the shapes other steps may grow.

The offline rules, the prompts and the fact-check all read the same dicts; these helpers
are the one place that knows how a count or a share is spelled there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

NUMERIC_KINDS = frozenset({"numeric"})


def number(value: Any) -> float | None:
    """A finite float, or None for missing, NaN, booleans and anything not numeric."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def count(value: Any) -> int:
    """A count that may be given bare (`12`) or wrapped (`{"count": 12}`); 0 when absent."""
    if isinstance(value, Mapping):
        for key in ("count", "n", "n_missing", "total"):
            if key in value:
                return count(value[key])
        return 0
    n = number(value)
    return int(n) if n is not None else 0


def share(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


def columns_of(overview: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    cols = overview.get("columns") or []
    return [c for c in cols if isinstance(c, Mapping) and isinstance(c.get("name"), str)]


def kinds_by_name(overview: Mapping[str, Any] | None) -> dict[str, str]:
    if not overview:
        return {}
    return {c["name"]: str(c.get("kind", "")) for c in columns_of(overview)}


def walk_numbers(value: Any) -> Iterator[float]:
    """Every finite number inside a nested result dict (booleans are not figures)."""
    if isinstance(value, Mapping):
        for v in value.values():
            yield from walk_numbers(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from walk_numbers(v)
    elif (n := number(value)) is not None:
        yield n


def walk_strings(value: Any) -> Iterator[str]:
    """Every string value (not key) inside a nested result dict."""
    if isinstance(value, Mapping):
        for v in value.values():
            yield from walk_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from walk_strings(v)
    elif isinstance(value, str):
        yield value


def names_in(parts: Mapping[str, Any]) -> set[str]:
    """Column names mentioned anywhere in the step results (as keys or as `name`/`a`/`b`)."""
    names: set[str] = set()
    overview = parts.get("overview") or {}
    names.update(c["name"] for c in columns_of(overview))
    quality = parts.get("quality") or {}
    for key in ("missing_by_column", "outliers"):
        if isinstance(quality.get(key), Mapping):
            names.update(str(k) for k in quality[key])
    names.update(str(t.get("column")) for t in quality.get("type_issues") or [] if t)
    statistics = parts.get("statistics") or {}
    if isinstance(statistics.get("distributions"), Mapping):
        names.update(str(k) for k in statistics["distributions"])
    corr = statistics.get("correlation") or {}
    names.update(str(c) for c in corr.get("columns") or [])
    for pair in statistics.get("strong_correlations") or []:
        names.update(str(pair.get(k)) for k in ("a", "b") if pair.get(k) is not None)
    model = parts.get("model") or {}
    if isinstance(model.get("target"), str):
        names.add(model["target"])
    if isinstance(model.get("importances"), Mapping):
        names.update(str(k) for k in model["importances"])
    names.discard("None")
    return names


def fmt(value: float | int) -> str:
    """A figure as prose shows it: thousands separators, 2 decimals, 3 below 1 (so r = 0.9998
    reads 1.000, not 1), scientific notation below 0.001."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    v = float(value)
    if abs(v) >= 100:
        return f"{v:,.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    if abs(v) >= 0.001:
        return f"{v:.3f}"
    return f"{v:.3g}"


def pct(fraction: float) -> str:
    return f"{fraction:.1%}"


def evidence(path: str, value: Any) -> str:
    """`path=value` naming the figure a finding rests on, with the value as computed."""
    n = number(value)
    if n is None:
        return f"{path}={value}"
    return f"{path}={int(n)}" if n.is_integer() else f"{path}={n:.6g}"
