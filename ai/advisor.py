"""What every advisor promises, the shapes of its answers, and which advisor answers.

Advisors read the JSON-safe `to_dict()` of step results, never the data itself, so the
same figures feed the offline rules, the prompts and the fact-check.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from steps.recommend import Recommendations, RecommendContext, UnverifiedNumber
from steps.results import ToDict

Step = Literal["overview", "quality", "statistics"]
STEPS: tuple[Step, ...] = ("overview", "quality", "statistics")
Severity = Literal["info", "warning", "critical"]
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

DEFAULT_TIMEOUT_S = 30.0
MAX_ROWS = 20


def finding_id(step: str, key: str) -> str:
    """A short id that stays the same for the same step and subject across runs.

    Reviewers reject findings by id at a gate; the id must survive a re-run on the same
    data, so it hashes what the finding is about, not its figures.
    """
    return hashlib.sha256(f"{step}\x1f{key}".encode()).hexdigest()[:12]


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


OnCall = Callable[[CallRecord], None]


class Advisor(Protocol):
    """Turns computed figures into findings (Steps 1–3) and an action plan (Step 4).

    `description` is one sentence saying which advisor answers and why, for the app.
    `rows` is the user's opt-in sample (at most 20 rows); advisors that send nothing
    anywhere ignore it.
    """

    name: str
    model: str | None
    description: str

    def advise(
        self,
        step: Step,
        context: Mapping[str, Any],
        *,
        rows: list[Mapping[str, Any]] | None = None,
    ) -> StepInsights: ...

    def recommend(
        self,
        context: RecommendContext,
        *,
        rows: list[Mapping[str, Any]] | None = None,
    ) -> Recommendations: ...


def step_parts(step: str, context: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Normalise an advise() context to `{step name: result dict}`.

    Callers may pass the step's own `to_dict()`, or a mapping of step names to results
    when earlier steps should inform this one (e.g. the overview's column kinds for the
    quality step's cleaning advice).
    """
    if step in context and isinstance(context[step], Mapping):
        return {k: v for k, v in context.items() if k in (*STEPS, "model") and v is not None}
    return {step: context}


def timeout_from(env: Mapping[str, str]) -> float:
    """`SIGNOFF_AI_TIMEOUT` in seconds, or the default when unset or not a positive number."""
    raw = env.get("SIGNOFF_AI_TIMEOUT", "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def choose_advisor(
    env: Mapping[str, str] = os.environ,
    *,
    cache_path: str | Path | None = None,
    on_call: OnCall | None = None,
) -> Advisor:
    """Gemini when a key is set, else Ollama when `SIGNOFF_OLLAMA_URL` is set, else offline.

    `cache_path` is the SQLite file holding the `ai_cache` table (the audit trail's file);
    `on_call` receives a `CallRecord` for every remote attempt, to write to the trail.
    """
    # Imported here: the implementations import this module's types.
    # Imported here, each only when chosen: the implementations import this module's types,
    # and google-genai costs a second of start-up that the offline path does not need.
    from ai.cache import AICache
    from ai.offline import OfflineAdvisor

    cache = AICache(cache_path) if cache_path is not None else None
    timeout_s = timeout_from(env)
    for variable in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        if env.get(variable, "").strip():
            from ai.gemini import GeminiAdvisor

            return GeminiAdvisor.from_env(
                env, key_variable=variable, timeout_s=timeout_s, cache=cache, on_call=on_call
            )
    if env.get("SIGNOFF_OLLAMA_URL", "").strip():
        from ai.ollama import OllamaAdvisor

        return OllamaAdvisor.from_env(env, timeout_s=timeout_s, cache=cache, on_call=on_call)
    return OfflineAdvisor(
        description=(
            "The offline rule-based advisor answers because neither GEMINI_API_KEY, "
            "GOOGLE_API_KEY nor SIGNOFF_OLLAMA_URL is set; nothing leaves this machine."
        )
    )
