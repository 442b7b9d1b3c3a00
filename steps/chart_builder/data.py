"""The chart builder's values: the chart asked for (`ChartSpec`), the bounded data drawn
(`ChartData` and its series), or the sentence saying why it cannot be drawn (`ChartProblem`)."""

from __future__ import annotations

from dataclasses import dataclass

from steps.results import ToDict


@dataclass(frozen=True)
class ChartSpec(ToDict):
    kind: str
    x: str | None = None
    y: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class ChartProblem(ToDict):
    """Why this combination cannot be drawn, in one sentence (escape it where rendered)."""

    spec: ChartSpec
    message: str


@dataclass(frozen=True)
class XYSeries(ToDict):
    """Points, a line or bars for one colour group (`name` None when not grouped)."""

    name: str | None
    x: tuple
    y: tuple


@dataclass(frozen=True)
class BinnedSeries(ToDict):
    name: str | None
    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class BoxSeries(ToDict):
    """One box: quartiles, whiskers at the most extreme values within 1.5 IQR, outlier counts."""

    name: str | None
    n: int
    q1: float
    median: float
    q3: float
    lower_fence: float
    upper_fence: float
    mean: float
    outliers_low: int
    outliers_high: int


@dataclass(frozen=True)
class ChartData(ToDict):
    """What a chart needs, already bounded; `note` says how it was aggregated or sampled."""

    spec: ChartSpec
    x_label: str
    y_label: str
    series: tuple[XYSeries | BinnedSeries | BoxSeries, ...]
    n_rows: int
    n_used: int
    sampled: bool
    note: str
