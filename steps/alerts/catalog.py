"""The catalog: every alert type a check registered, run in the order registered.

Why a registry: a new alert type is one function decorated with `@check("name")` in
`steps.alerts.checks` (and its threshold in `Thresholds`); the report, the exports, the
triage and the docs read the catalog, so nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable

from steps.alerts.types import Alert, Inputs, Thresholds

Check = Callable[[Inputs, float], list[Alert]]
_CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    """Register `function` as the check of alert type `name` (one function per type)."""
    if name not in Thresholds.names():
        raise ValueError(f"alert type {name!r} has no threshold in Thresholds")

    def register(function: Check) -> Check:
        _CHECKS[name] = function
        return function

    return register


def alert_types() -> tuple[str, ...]:
    """Every registered alert type, in catalog order."""
    return tuple(_CHECKS)


def run_checks(
    inputs: Inputs, thresholds: Thresholds, only: tuple[str, ...] | None = None
) -> tuple[Alert, ...]:
    """The alerts of every check (or of the `only` ones), each at its threshold."""
    return tuple(
        alert
        for name, function in _CHECKS.items()
        if only is None or name in only
        for alert in function(inputs, thresholds.of(name))
    )
