"""The typed record of one analysis: every step's result, in flow order.

Why one record: the app (cell by cell, as gates open) and the headless run (all at once)
build the same `Record` with the same stage functions (`flow/`), and the report, the
figures and every gate's subject are functions of it alone. So the two producers cannot
drift apart, and a new step is a new field here rather than a new argument in ten places.

A record grows: it starts with the load and Steps 1–2, and each later stage returns a copy
with its part filled (`dataclasses.replace`). What reviewers decided that changes the
content (the cleaning plan, findings rejected at gate 2, the model chosen at gate 3, the
verdicts on Step 4's items) is part of it too, because the report shows it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from steps.alerts import Alert
from steps.alerts.triage import AlertTriage
from steps.cleaning import CleaningPlan
from steps.insights import StepInsights
from steps.load import LoadReport
from steps.model import ModelCard
from steps.outliers import OutlierReport
from steps.overview import Overview
from steps.quality import Quality
from steps.recommend import ItemReviews, Recommendations
from steps.results import ToDict
from steps.statistics import ScatterSample, Statistics

CorrelationMethod = Literal["pearson", "spearman"]
OutlierMethod = Literal["iqr", "zscore", "isolation_forest"]


@dataclass(frozen=True)
class Described(ToDict):
    """Steps 1–2 of one table (the file as loaded, or the cleaned view), what the advisor
    said of them, and the alerts their figures raise (`steps.alerts`)."""

    table: str
    overview: Overview
    quality: Quality
    overview_insights: StepInsights
    quality_insights: StepInsights
    alerts: tuple[Alert, ...] = ()


@dataclass(frozen=True)
class Parameters(ToDict):
    """Step 3's choices; part of the gate-2 subject and the report's `parameters`."""

    threshold: float = 0.7
    correlation: CorrelationMethod = "pearson"
    outlier_method: OutlierMethod = "iqr"
    iqr_multiplier: float = 1.5
    z_threshold: float = 3.0

    def outlier_options(self) -> dict[str, float | str]:
        """The keyword arguments `steps.outliers.outliers` takes for these choices."""
        return {
            "method": self.outlier_method,
            "iqr_multiplier": self.iqr_multiplier,
            "z_threshold": self.z_threshold,
        }


@dataclass(frozen=True)
class Analysed(ToDict):
    """Step 3: statistics at the threshold, outliers by the chosen method, the scatter
    samples the charts draw, the advisor's findings, and the alerts only Step 3's figures
    raise (skewness, correlations)."""

    parameters: Parameters
    statistics: Statistics
    outliers: OutlierReport
    scatters: tuple[ScatterSample, ...]
    insights: StepInsights
    alerts: tuple[Alert, ...] = ()


@dataclass(frozen=True)
class RejectedFinding(ToDict):
    """A Step 3 finding the gate-2 reviewer overruled, and why."""

    id: str
    title: str
    reason: str


@dataclass(frozen=True)
class Figure(ToDict):
    """One figure before and after the cleaning plan."""

    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    def to_dict(self) -> dict[str, float | None]:
        return {"before": self.before, "after": self.after, "change": self.change}


@dataclass(frozen=True)
class CleaningDelta(ToDict):
    """What the cleaning plan changed: Steps 1–2 of the file as loaded beside the cleaned
    view's, so the reviewer who set the plan sees its effect, and the report keeps it."""

    rows: Figure
    columns: Figure
    missing_cells: Figure
    duplicate_rows: Figure
    quality_score: Figure
    alerts: Figure
    alerts_closed: tuple[Alert, ...]
    alerts_opened: tuple[Alert, ...]

    @classmethod
    def between(cls, before: Described, after: Described) -> CleaningDelta:
        def figure(read) -> Figure:
            return Figure(read(before), read(after))

        was, still = {a.key for a in before.alerts}, {a.key for a in after.alerts}
        return cls(
            rows=figure(lambda d: d.overview.n_rows),
            columns=figure(lambda d: d.overview.n_columns),
            missing_cells=figure(lambda d: d.quality.missing_cells),
            duplicate_rows=figure(lambda d: d.quality.duplicate_rows),
            quality_score=figure(lambda d: d.quality.quality_score),
            alerts=figure(lambda d: len(d.alerts)),
            alerts_closed=tuple(a for a in before.alerts if a.key not in still),
            alerts_opened=tuple(a for a in after.alerts if a.key not in was),
        )

    def to_dict(self) -> dict[str, Any]:
        """The figures; the closed alerts by key (the report's `alerts` holds them), the
        opened ones whole (no other part of the report has them)."""
        found = super().to_dict()
        found["alerts_closed"] = [a.key for a in self.alerts_closed]
        found["alerts_opened"] = [{**a.to_dict(), "key": a.key} for a in self.alerts_opened]
        return found

    def labelled(self) -> tuple[tuple[str, Figure], ...]:
        """The figures as (label, figure), in the order every view shows them."""
        return (
            ("Rows", self.rows),
            ("Columns", self.columns),
            ("Missing cells", self.missing_cells),
            ("Duplicate rows", self.duplicate_rows),
            ("Quality score", self.quality_score),
            ("Alerts", self.alerts),
        )


@dataclass(frozen=True)
class Record:
    """Everything computed for one analysis so far.

    `original` is Steps 1–2 of the file as loaded; `view` is what Steps 3–4 and the report
    use — the cleaned view once gate 1 set a plan, else `original` — and is None until
    gate 1 opens. `model` is the card as trained; `model_choice` the candidate the gate-3
    reviewer chose instead of its own pick (see `approved_model`). `triage` is gate 1's
    triage of the alerts in force; `remembered` a triage recorded earlier on the same bytes
    (`decided`) or on a file with the same columns (`suggested`), which only pre-fills the
    gate-1 form: it is in no subject, score or report until a decision records it.
    """

    source: LoadReport
    original: Described
    plan: CleaningPlan = field(default_factory=CleaningPlan)
    view: Described | None = None
    analysed: Analysed | None = None
    model: ModelCard | None = None
    model_choice: str | None = None
    recommendations: Recommendations | None = None
    rejected: tuple[RejectedFinding, ...] = ()
    reviews: ItemReviews = field(default_factory=ItemReviews)
    triage: AlertTriage = field(default_factory=AlertTriage)
    remembered: AlertTriage = field(default_factory=AlertTriage)

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The alerts gate 1 triages (those of the file as loaded), then Step 3's."""
        step3 = self.analysed.alerts if self.analysed is not None else ()
        return (*self.original.alerts, *step3)

    @property
    def shown(self) -> Described:
        """Steps 1–2 as the report describes them: the view once there is one."""
        return self.view or self.original

    @property
    def cleaning_delta(self) -> CleaningDelta | None:
        """Before and after the plan; None when the data is analysed as loaded."""
        if self.view is None or self.view is self.original:
            return None
        return CleaningDelta.between(self.original, self.view)

    @property
    def approved_model(self) -> ModelCard | None:
        """The card Step 4 and the report receive: the reviewer's candidate selected, with
        its metrics."""
        card, chosen = self.model, self.model_choice
        if card is None or chosen is None or chosen == card.selected:
            return card
        candidate = next(c for c in card.candidates if c.name == chosen)
        return dataclasses.replace(card, selected=chosen, metrics=candidate.metrics)
