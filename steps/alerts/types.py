"""The alert types: one alert, the thresholds they are judged by, and what a check reads.

Why typed: the report, the exports, the advisor and the gate-1 triage all read the same
alert (type, columns, severity, the figures it rests on and the threshold used), so an
alert says the same thing everywhere, and a reviewer's triage names exactly one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from steps.load import LoadReport
from steps.overview import Overview
from steps.quality import OutlierCounts, Quality
from steps.results import ToDict
from steps.statistics import Statistics

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")  # most severe first
Figure = int | float | str | bool | None


@dataclass(frozen=True)
class Alert(ToDict):
    """One thing about the data a reviewer should know, with the figures it rests on.

    `threshold` is the value the figure was compared with (None for an alert that fires on
    the shape of the data alone, such as `ambiguous_dates`); `message` is one sentence.
    """

    type: str
    columns: tuple[str, ...]
    severity: Severity
    figures: dict[str, Figure]
    threshold: float | None
    message: str

    @property
    def key(self) -> str:
        """The alert's identity across loads and views: its type and its columns."""
        return alert_key(self.type, self.columns)


def alert_key(type_: str, columns: tuple[str, ...] | list[str]) -> str:
    return f"{type_}:{'|'.join(columns)}"


@dataclass(frozen=True)
class Thresholds:
    """The value each alert type compares its figure with.

    Defaults are ydata-profiling 4.x's where it has one (`docs/alerts.md` lists each):
    `zeros` share 0.1, `imbalance` 0.5, `high_cardinality` 50 distinct values, `skewed`
    |skewness| 20, `high_correlation` 0.9, `constant` 1 distinct value; `missing` and
    `duplicates` fire on any (share above 0), `unique` when every value differs (share 1).
    The others are signoff's own: `integer_dates` and `leading_zeros` shares of the values,
    `numbers_as_text` / `dates_as_text` the share of text values that read so (Step 2's
    `MOSTLY`), `identifier` the share of distinct values in a column of id kind;
    `ambiguous_dates` the day no value exceeds when the order cannot be told (12).
    """

    constant: float = 1
    zeros: float = 0.1
    imbalance: float = 0.5
    high_cardinality: float = 50
    unique: float = 1.0
    infinite: float = 0
    missing: float = 0
    duplicates: float = 0
    skewed: float = 20
    high_correlation: float = 0.9
    numbers_as_text: float = 0.5
    dates_as_text: float = 0.5
    integer_dates: float = 0.99
    leading_zeros: float = 0.5
    ambiguous_dates: float = 12
    zero_inflated: float = 0.1
    identifier: float = 1.0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def of(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(frozen=True)
class Inputs:
    """What the checks read: Steps 1–2 (and the load) for gate 1, Step 3 once it ran.

    `nonzero_outliers`: IQR outliers of zero-inflated columns counted on their non-zero
    values (`steps.alerts.figures`), so the zeros are not mistaken for a defect. `alerts`:
    those raised already (Step 3's checks read gate 1's, e.g. which columns are dates).
    """

    overview: Overview
    quality: Quality
    load: LoadReport | None = None
    statistics: Statistics | None = None
    nonzero_outliers: dict[str, OutlierCounts] = field(default_factory=dict)
    alerts: tuple[Alert, ...] = ()


def time_columns(overview: Overview, alerts: tuple[Alert, ...]) -> frozenset[str]:
    """Columns that hold time: of a date type, or integers an `integer_dates` alert reads as
    dates. The one definition the checks, the advisor's rules and the model's leakage
    check share: a measure that grows over time correlates with time, which is no leak."""
    dated = {c.name for c in overview.columns if c.kind == "datetime"}
    return frozenset(dated | {a.columns[0] for a in alerts if a.type == "integer_dates"})


def share(part: float, whole: float) -> float:
    """`part / whole`, 0 for an empty whole."""
    return part / whole if whole > 0 else 0.0


def figures(**values: Any) -> dict[str, Figure]:
    """An alert's figures, rounded to what a person reads without losing the exact counts."""
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}
