"""Real records for the review tests: Palmer penguins walked through the stages once.

Gates read a typed `steps.record.Record`, so the review tests build real ones with the
same stage functions the app and the headless run call (`flow.stages`), on a small bundled
sample and the offline advisor. The walk is computed once per test session (training the
baselines is the slow part) and shared; every record is frozen, so no test can change what
another sees. Imported as `from review_walk import ...`, like `helpers`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from ai.offline import OfflineAdvisor
from flow import stages
from samples import sample_path
from steps.cleaning import CleaningPlan
from steps.load import Loaded, load
from steps.record import Parameters, Record

TARGET = "body_mass_g"


@dataclass(frozen=True)
class Walk:
    """One analysis as each gate sees it: `started` at gate 1 (Steps 1–2), `analysed` at
    gate 2 (the view with Step 3), `trained` at gate 3, `complete` at gates 4 and 5."""

    loaded: Loaded
    started: Record
    analysed: Record
    trained: Record
    complete: Record


@functools.cache
def walk() -> Walk:
    """Penguins with the default parameters, the data as loaded, a model for body mass."""
    loaded = load(sample_path("penguins"))
    advisor = OfflineAdvisor()
    started, _ = stages.start(loaded, advisor, None)
    cleaned, _ = stages.clean(started, loaded, CleaningPlan(), advisor, None)
    analysed, _ = stages.analyse(cleaned, loaded.con, Parameters(), advisor, None)
    trained = stages.train(analysed, loaded.con, TARGET)
    complete, _ = stages.recommend(trained, advisor, None)
    return Walk(loaded, started, analysed, trained, complete)


@functools.cache
def at_threshold(threshold: float) -> Record:
    """The complete record with Step 3 re-run at another threshold (and Step 4 after it).

    The model is the one trained already: training reads the view and the target, nothing
    of Step 3, so re-training would give the same card (and cost seconds).
    """
    base = walk()
    advisor = OfflineAdvisor()
    again, _ = stages.analyse(
        base.analysed, base.loaded.con, Parameters(threshold=threshold), advisor, None
    )
    again = dataclasses.replace(again, model=base.trained.model)
    complete, _ = stages.recommend(again, advisor, None)
    return complete


@functools.cache
def without_model() -> Record:
    """The complete record of a run with no target: gate 3 does not apply."""
    base = walk()
    complete, _ = stages.recommend(base.analysed, OfflineAdvisor(), None)
    return complete
