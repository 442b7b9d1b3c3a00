"""The offline advisor's rules, one module per step, each reading typed results.

`RULES` maps a step to its rule; `observations(facts)` runs every rule whose step has a
result (Step 4 builds on all of them).
"""

from __future__ import annotations

from collections.abc import Callable

from ai.rules.base import Action, Observation
from ai.rules.model import model_observations
from ai.rules.overview import overview_observations
from ai.rules.quality import quality_observations
from ai.rules.statistics import statistics_observations
from steps.insights import Facts

Rule = Callable[[Facts], list[Observation]]

RULES: dict[str, Rule] = {
    "overview": overview_observations,
    "quality": quality_observations,
    "statistics": statistics_observations,
    "model": model_observations,
}


def observations(facts: Facts) -> list[Observation]:
    """Every observation the rules draw from the facts, in flow order."""
    return [o for rule in RULES.values() for o in rule(facts)]


__all__ = ["RULES", "Action", "Observation", "Rule", "observations"]
