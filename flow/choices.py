"""What the analyst chose, kept with the analysis so reopening it shows exactly what was seen.

Decisions live in the trail; everything else a result depends on — how the file was read,
Step 3's threshold and methods, the model's target and the features left out — is kept in
the analyses registry (`review.analyses`, a `parameter` event for each real change).
Opening an analysis again (a reload, the review queue, another session, another server)
starts from these, so every result, and with it every gate's subject, comes out the same
and nothing new is recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from review.analyses import get_analysis, update_parameters
from review.answers import exclusions_in_force
from review.audit import AuditTrail
from review.gates import latest_decision
from review.triage import remembered_triage
from steps.cleaning import CleaningPlan
from steps.load import ReadOptions
from steps.record import Parameters, Record

_PARAMETER_NAMES = tuple(f.name for f in fields(Parameters))


@dataclass(frozen=True)
class Choices:
    """The choices in force for one analysis (the defaults until someone makes one).

    `exclude` is what the model form left out; `rerun_exclude` what gate 3's *modify* asked
    to leave out of a re-run, for the target it was asked for. The model trains without
    both (`left_out`).
    """

    parameters: Parameters = field(default_factory=Parameters)
    read_options: ReadOptions = field(default_factory=ReadOptions)
    target: str | None = None
    exclude: tuple[str, ...] = ()
    rerun_exclude: tuple[str, ...] = ()

    @property
    def left_out(self) -> tuple[str, ...]:
        return tuple(sorted({*self.exclude, *self.rerun_exclude}))


def choices_of(trail: AuditTrail, analysis_id: str) -> Choices:
    """The choices kept for the analysis."""
    analysis = get_analysis(trail, analysis_id)
    kept: dict[str, Any] = analysis.parameters if analysis is not None else {}
    defaults = Parameters()
    parameters = Parameters(
        **{name: kept.get(name, getattr(defaults, name)) for name in _PARAMETER_NAMES}
    )
    target = kept.get("target")
    rerun = kept.get("rerun") or {}
    rerun_exclude = tuple(rerun.get("exclude") or ()) if rerun.get("target") == target else ()
    return Choices(
        parameters,
        ReadOptions(**(kept.get("read_options") or {})),
        target,
        tuple(kept.get("exclude") or ()),
        rerun_exclude,
    )


def keep_read_options(trail: AuditTrail, analysis_id: str, options: ReadOptions) -> None:
    """Keep how the person chose to read the file, so the analysis reopens read that way."""
    update_parameters(trail, analysis_id, {"read_options": options.to_dict()})


def keep_parameters(
    trail: AuditTrail, analysis_id: str, parameters: Parameters, plan: CleaningPlan
) -> None:
    """Keep Step 3's choices (and the plan they were made on); a change is a `parameter`
    event, the same values again are nothing."""
    update_parameters(trail, analysis_id, {"cleaning_plan": plan.to_dict(), **parameters.to_dict()})


def keep_model(
    trail: AuditTrail, analysis_id: str, target: str | None, exclude: Sequence[str]
) -> None:
    """Keep the model form's target and the features it leaves out."""
    update_parameters(trail, analysis_id, {"target": target, "exclude": sorted(set(exclude))})


def keep_rerun(
    trail: AuditTrail, choices: Choices, analysis_id: str, left_out: Sequence[str]
) -> bool:
    """Keep the features a gate-3 *modify* asked to leave out of a re-run (on top of those
    asked before, for the same target); True when that changes what the model trains on."""
    wanted = sorted({*choices.rerun_exclude, *left_out})
    if set(wanted) <= set(choices.left_out):
        return False
    update_parameters(trail, analysis_id, {"rerun": {"target": choices.target, "exclude": wanted}})
    return True


def rerun_without(trail: AuditTrail, analysis_id: str, choices: Choices) -> str | None:
    """What gate 3's own last *modify* re-ran, if the model shown is that re-run: the
    features it left out (see `review.gates.gate_state`)."""
    latest = latest_decision(trail, analysis_id=analysis_id, gate="model_approval")
    left_out = exclusions_in_force(latest)
    if latest is None or latest.verdict != "modify" or not left_out:
        return None
    if not set(left_out) <= set(choices.rerun_exclude):
        return None
    return f"re-run without {', '.join(left_out)}"


def with_remembered_triage(trail: AuditTrail, record: Record, person: str | None) -> Record:
    """The record with the triage gate 1 recorded on these bytes before (or on a file with
    the same columns, as a suggestion), to pre-fill the gate-1 form."""
    remembered = remembered_triage(
        trail,
        sha256=record.source.sha256,
        columns=[c.name for c in record.original.overview.columns],
        alerts=record.original.alerts,
        person=person,
    )
    return dataclasses.replace(record, remembered=remembered)
