"""Typed records built the way both producers build them: the real loader, the real steps,
the offline advisor, through `flow.stages` (imported as `from records import ...`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai.offline import OfflineAdvisor
from flow.gates import Settled, notes_feedback, settle
from flow.report import audit_summary, report
from flow.source import Opened, Source, open_source
from flow.stages import Options, analyse, clean, compute, recommend, start, train
from review.audit import AuditTrail
from review.gates import GateState, undecided_states
from steps.load import Loaded, ReadOptions, load
from steps.record import Record
from steps.report import Report
from steps.settings import Settings

ADVISOR = OfflineAdvisor()


def loaded_csv(tmp_path: Path, text: str, name: str = "data.csv") -> Loaded:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load(path)


def computed(loaded: Loaded, options: Options | None = None) -> Record:
    """Every stage, as the headless run computes it."""
    return compute(loaded, options or Options(), ADVISOR)


def decided(record: Record, **statuses: str) -> list[GateState]:
    """Gate states as if decided: every gate `approved` (open), unless named otherwise."""
    out = []
    for state in undecided_states(record):
        status = statuses.get(
            state.gate, "not_applicable" if state.status == "not_applicable" else "approved"
        )
        out.append(
            GateState(
                state.gate,
                status,  # type: ignore[arg-type]
                state.subject_sha256,
                None,
                status == "stale",
                None,
                status in ("approved", "modified", "not_applicable"),
                f"{state.gate} is {status}",
            )
        )
    return out


Answer = Mapping[str, Any] | Callable[[Record], Mapping[str, Any]] | None


def answer(verdict: str, reviewer: str = "Ada", notes: str = "", **fields: Any) -> dict:
    return {"verdict": verdict, "reviewer": reviewer, "notes": notes, **fields}


@dataclass(frozen=True)
class Walk:
    """A walk through every gate the way the notebook does it, cell by cell."""

    opened: Opened
    settled: dict[str, Settled]
    report: Report

    @property
    def states(self) -> list[GateState]:
        return [s.state for s in self.settled.values()]


def walk(
    settings: Settings,
    source: Source,
    answers: Mapping[str, Answer],
    options: Options | None = None,
    read_options: ReadOptions | None = None,
) -> Walk:
    """Open the source, then settle each gate with its answer (a mapping, or a function of
    the record when it depends on what was computed, e.g. gate 4's item verdicts)."""
    options = options or Options()
    trail = AuditTrail(settings.db)
    opened = open_source(source, settings, trail, read_options)
    loaded, analysis_id = opened.loaded, opened.analysis_id
    settled: dict[str, Settled] = {}

    def gate(gate_id: str, record: Record) -> Settled:
        given = answers.get(gate_id)
        reply = given(record) if callable(given) else given
        upstream = list(settled.values())[-1].state if settled else None
        settled[gate_id] = settle(
            trail,
            analysis_id=analysis_id,
            gate=gate_id,
            record=record,
            answer=reply,
            upstream=upstream,
        )
        return settled[gate_id]

    record, _ = start(loaded, ADVISOR, None)
    record = gate("data_quality", record).record
    record, _ = clean(record, loaded, record.plan, ADVISOR, None)
    record, _ = analyse(record, loaded.con, options.parameters, ADVISOR, None)
    record = gate("analysis_validation", record).record
    record = train(record, loaded.con, options.target, options.exclude)
    record = gate("model_approval", record).record
    notes = notes_feedback([s.state for s in settled.values()])
    record, _ = recommend(record, ADVISOR, None, feedback=notes)
    record = gate("result_verification", record).record
    record = gate("export_authorization", record).record
    states = [s.state for s in settled.values()]
    return Walk(opened, settled, report(record, states, audit=audit_summary(trail, analysis_id)))
