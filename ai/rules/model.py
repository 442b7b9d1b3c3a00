"""Rules on the approved baseline model (Step 4's context only): which candidate won, and
the warnings a reviewer must resolve before relying on it."""

from __future__ import annotations

from ai.rules.base import Action, Observation, evidence, observe
from steps.insights import Facts
from steps.text import number_text


def model_observations(facts: Facts) -> list[Observation]:
    card = facts.model
    if card is None:
        return []
    metrics = ", ".join(
        f"{name} {number_text(summary.mean)}" for name, summary in sorted(card.metrics.items())
    )
    insight = f"The best baseline for {card.target} is {card.selected}" + (
        f" ({metrics})." if metrics else "."
    )
    out = [
        observe(
            "model",
            "selected",
            f"Baseline model for {card.target}: {card.selected}",
            insight,
            "info",
            (evidence("model.selected", card.selected), evidence("model.task", card.task)),
            insight=insight,
        )
    ]
    for warning in card.warnings:
        out.append(
            observe(
                "model",
                f"warning:{warning.kind}:{warning.column}",
                "Model warning",
                warning.sentence,
                "warning",
                (evidence("model.warnings", warning.kind),),
                Action(
                    f"Resolve before approving the model: {warning.sentence}",
                    warning.sentence,
                    4,
                    2,
                ),
            )
        )
    return out
