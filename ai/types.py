"""What every advisor promises, and the record of each call it makes.

An advisor reads typed step results (`steps.insights.Facts`), never the data itself, so the
same figures feed the offline rules, the prompts and the fact-check. The result types it
fills (`StepInsights`, `Recommendations`) live in `steps/`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from steps.insights import Facts, Step, StepInsights
from steps.recommend import Recommendations, RecommendContext
from steps.results import ToDict
from steps.settings import Privacy

if TYPE_CHECKING:  # prompts build on the rules, which build on these types
    from ai.prompts import Prompt

Outcome = Literal[
    "ok",
    "cached",
    "timeout",
    "rate_limited",
    "server_error",
    "client_error",
    "unreachable",
    "malformed",
    "blocked",
    "empty",
]
Rows = list[Mapping[str, Any]]
MAX_ROWS = 20


@dataclass(frozen=True)
class CallRecord(ToDict):
    """One attempt to reach a remote model, for the audit trail.

    It holds no key, no prompt text and no response text: only what identifies the
    call (prompt hash), how it went, and what it cost.
    """

    advisor: str
    model: str
    task: str
    prompt_sha256: str
    attempt: int
    outcome: Outcome
    latency_ms: float
    http_status: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    detail: str | None = None


OnCall = Callable[[CallRecord], object]


class AnswerCache(Protocol):
    """Where validated model answers are kept by prompt hash (`review.ai_cache.AICache`,
    in the review database): a re-run with the same figures costs no call."""

    def get(self, prompt_sha256: str, advisor: str, model: str) -> dict[str, Any] | None: ...

    def put(
        self, prompt_sha256: str, advisor: str, model: str, response: dict[str, Any]
    ) -> None: ...


class Advisor(Protocol):
    """Turns computed figures into findings (Steps 1–3) and an action plan (Step 4).

    `description` is one sentence saying which advisor answers and why, for the app.
    `privacy` is what its prompts may carry (`SIGNOFF_AI_PRIVACY`): the caller builds the
    prompt once with it (`ai.prompts`) and also shows it; `rows` is the user's opt-in
    sample (at most `MAX_ROWS` rows, none in strict mode). Advisors that send nothing
    anywhere ignore both.
    """

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    @property
    def description(self) -> str: ...

    @property
    def privacy(self) -> Privacy: ...

    def advise(
        self, step: Step, facts: Facts, *, prompt: Prompt, rows: Rows | None = None
    ) -> StepInsights: ...

    def recommend(
        self, context: RecommendContext, *, prompt: Prompt, rows: Rows | None = None
    ) -> Recommendations: ...
