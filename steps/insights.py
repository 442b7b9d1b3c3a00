"""What advisors say about Steps 1–3, and the typed figures they say it from.

The result types live in `steps/` (as Step 4's do in `steps.recommend`) so the report and
the exports can hold them without importing `ai/`; the advisors in `ai/` fill them. An
advisor reads `Facts` — the typed step results — never a dict it has to guess the shape of,
so renaming a field fails loudly instead of making a rule silently see nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from steps.alerts.types import Alert, alert_key
from steps.model import ModelCard
from steps.overview import Overview
from steps.quality import Quality
from steps.results import ToDict
from steps.statistics import Statistics
from steps.text import number_text

Step = Literal["overview", "quality", "statistics"]
STEPS: tuple[Step, ...] = ("overview", "quality", "statistics")
Severity = Literal["info", "warning", "critical"]


def finding_id(step: str, key: str) -> str:
    """A short id that stays the same for the same step and subject across runs.

    Reviewers reject findings by id at a gate; the id must survive a re-run on the same
    data, so it hashes what the finding is about, not its figures.
    """
    return hashlib.sha256(f"{step}\x1f{key}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Facts:
    """The computed figures an advisor may read: a step's result and those before it.

    `overview` is always there; later steps fill the rest as the flow reaches them.
    `model` is the card as approved at gate 3 (the reviewer's candidate selected).
    `alerts` are the data's alerts (`steps.alerts`); `dismissed` the keys of those the gate-1
    reviewer dismissed, which the rules then leave out.
    """

    overview: Overview
    quality: Quality | None = None
    statistics: Statistics | None = None
    model: ModelCard | None = None
    alerts: tuple[Alert, ...] = ()
    dismissed: frozenset[str] = frozenset()

    def standing(self, type_: str) -> dict[str, Alert]:
        """The alerts of one type the reviewer did not dismiss, by their first column."""
        return {
            (a.columns[0] if a.columns else ""): a
            for a in self.alerts
            if a.type == type_ and a.key not in self.dismissed
        }

    def is_dismissed(self, type_: str, *columns: str) -> bool:
        return alert_key(type_, columns) in self.dismissed


Check = Literal["unverified", "misattributed"]


@dataclass(frozen=True)
class UnverifiedNumber(ToDict):
    """A number the AI stated that the computed figures do not support.

    `where` names the field it came from (e.g. `findings[2].detail`), `sentence` the
    sentence around it, so a reviewer can see it in place. `kind` says what is wrong:
    `unverified`, it matches no computed figure; `misattributed`, it is some other figure
    (`matched` names one), not the one its sentence (or evidence path) is about. `figure`
    names that one and `expected` is its value, in the unit the number was written in (a
    percentage when `text` is one); both are None when the sentence names no figure.
    """

    value: float
    text: str
    sentence: str
    where: str
    kind: Check = "unverified"
    expected: float | None = None
    figure: str | None = None
    matched: str | None = None

    def verdict(self) -> str:
        """What is wrong with the number, completing "<text> in “<sentence>” …"."""
        if self.kind == "misattributed":
            said = f"is attributed wrongly: {self._true()}"
            return said + (f" ({self.text} is {self.matched})" if self.matched else "")
        if self.figure is None:
            return "matches no computed figure"
        return f"matches no computed figure; {self._true()}"

    def _true(self) -> str:
        percent = "%" if self.text.endswith(("%", "percent")) else ""
        return f"{self.figure} is {number_text(self.expected)}{percent}"


@dataclass(frozen=True)
class Finding(ToDict):
    """One observation about a step's figures; `evidence` names the figures it rests on
    (e.g. `quality.duplicate_rows=12`)."""

    id: str
    title: str
    detail: str
    severity: Severity
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class StepInsights(ToDict):
    """An advisor's findings for one step.

    `advisor`/`model` name who actually answered; when a remote advisor failed, the
    offline advisor's findings are here and `notice` says what happened.
    `prompt_sha256` identifies the prompt that was (or would have been) sent.
    """

    step: Step
    advisor: str
    model: str | None
    findings: tuple[Finding, ...]
    notice: str | None = None
    unverified_numbers: tuple[UnverifiedNumber, ...] = ()
    prompt_sha256: str | None = None
