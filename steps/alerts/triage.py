"""The reviewer's triage of the alerts: accepted, dismissed (with a reason) or deferred.

Why here, typed: the gate-1 form, a saved triage file (`python -m steps --triage`) and a
triage remembered from an earlier load of the same file all become one `AlertTriage`,
checked against the alerts of this analysis before anything is recorded; the report, the
quality score and the Step 4 plan read it. An alert nobody triaged is `open`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from steps.alerts.catalog import alert_types
from steps.alerts.types import Alert, alert_key
from steps.errors import TriageError
from steps.results import ToDict

Status = Literal["open", "accepted", "dismissed", "deferred"]
STATUSES: tuple[Status, ...] = get_args(Status)
Origin = Literal["decided", "suggested"]


@dataclass(frozen=True)
class Triage(ToDict):
    """One alert's triage. `origin` says where a pre-filled triage came from: `decided` on
    these very bytes before, or `suggested` by a file with the same columns."""

    status: Status = "open"
    reviewer: str | None = None
    note: str = ""
    decided_at: str | None = None
    origin: Origin | None = None


OPEN = Triage()


@dataclass(frozen=True)
class AlertTriage:
    """The triage of each alert by key (`Alert.key`); an alert not listed is open."""

    entries: tuple[tuple[str, Triage], ...] = ()

    def of(self, alert: Alert) -> Triage:
        return dict(self.entries).get(alert.key, OPEN)

    def dismissed(self) -> frozenset[str]:
        return frozenset(k for k, t in self.entries if t.status == "dismissed")

    def is_empty(self) -> bool:
        return not any(t.status != "open" for _, t in self.entries)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The decided entries, by key: what gate 1's subject and the trail record."""
        return {
            k: {"status": t.status, "note": t.note} for k, t in self.entries if t.status != "open"
        }


_SHAPE = "Each triage entry must name an alert's type, columns and status."


def _entry(
    raw: Any, alerts: Mapping[str, Alert], columns: frozenset[str]
) -> tuple[str, Triage] | None:
    """One entry checked: a known type, known columns, a status (a dismissal with its
    reason); None for an open entry of an alert this analysis does not raise (a saved
    report lists Step 3's alerts too, open until they exist)."""
    if not isinstance(raw, Mapping):
        raise TriageError(_SHAPE)
    type_, cols = raw.get("type"), raw.get("columns", [])
    if isinstance(cols, str):
        cols = [c for c in cols.split("|") if c]
    if not isinstance(type_, str) or not isinstance(cols, list | tuple):
        raise TriageError(_SHAPE)
    if type_ not in alert_types():
        raise TriageError(f"The triage names an alert type signoff does not know: {type_!r}.")
    unknown = [str(c) for c in cols if c not in columns]
    if unknown:
        raise TriageError(f"The triage names a column the data does not have: {unknown[0]!r}.")
    status = str(raw.get("status", "open"))
    if status not in STATUSES:
        raise TriageError(
            f"A triage status is open, accepted, dismissed or deferred, not {status!r}."
        )
    key = alert_key(type_, [str(c) for c in cols])
    if key not in alerts:
        if status == "open":
            return None
        raise TriageError(f"The triage names an alert this analysis does not have: {key!r}.")
    note = str(raw.get("note") or "").strip()
    if status == "dismissed" and not note:
        raise TriageError(f"Dismissing the alert {key!r} needs a reason in its note.")
    return key, Triage(status, note=note)


def read_triage(
    entries: Iterable[Any], alerts: Iterable[Alert], columns: Iterable[str]
) -> AlertTriage:
    """A triage from entries shaped like the report's `alerts` (`type`, `columns`, `status`,
    `note`; a report's `triage` object is read too), checked against this analysis: an
    unknown alert type, column or status is one `TriageError` sentence."""
    known = {a.key: a for a in alerts}
    names = frozenset(columns)
    found: dict[str, Triage] = {}
    for raw in entries:
        if isinstance(raw, Mapping) and isinstance(raw.get("triage"), Mapping):
            raw = {**raw, **raw["triage"]}
        entry = _entry(raw, known, names)
        if entry is not None:
            found[entry[0]] = entry[1]
    return AlertTriage(tuple(sorted(found.items())))


def recorded_triage(details: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The triage a recorded gate-1 decision holds in its details (empty when none)."""
    value = details.get("alert_triage") if details else None
    return dict(value) if isinstance(value, Mapping) else {}


def triage_from_record(
    recorded: Mapping[str, Mapping[str, Any]],
    alerts: Iterable[Alert],
    *,
    reviewer: str,
    decided_at: str,
    origin: Origin | None = None,
) -> AlertTriage:
    """A recorded triage (`AlertTriage.to_dict()` form) on these alerts: entries for alerts
    this analysis no longer has are left out, not refused (they were valid when recorded)."""
    keys = {a.key for a in alerts}
    return AlertTriage(
        tuple(
            (k, Triage(v.get("status", "open"), reviewer, v.get("note", ""), decided_at, origin))
            for k, v in sorted(recorded.items())
            if k in keys and v.get("status") in STATUSES
        )
    )
