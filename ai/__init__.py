"""Advisors: findings and recommendations from the computed figures.

`choose_advisor()` picks Gemini, a local Ollama model or the offline rules from the
environment; every remote advisor falls back to the offline one with a notice.
"""

from ai.advisor import (
    Advisor,
    CallRecord,
    Finding,
    StepInsights,
    choose_advisor,
    finding_id,
)
from ai.prompts import Prompt, TooManyRowsError, prompt_for

__all__ = [
    "Advisor",
    "CallRecord",
    "Finding",
    "Prompt",
    "StepInsights",
    "TooManyRowsError",
    "choose_advisor",
    "finding_id",
    "prompt_for",
]
