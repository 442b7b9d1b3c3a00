"""What every remote advisor shares: cache, retries with backoff, call records, fact-check,
and the fallback to the offline advisor that keeps a step from ever being lost.

A subclass only says how to send one prompt (`_send`) and returns a `Reply` or raises a
`CallFailure`; everything else — including what the user is told — is decided here once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ai.factcheck import unverified_numbers
from ai.offline import OfflineAdvisor
from ai.prompts import Prompt
from ai.schemas import RecommendationsOut, StepInsightsOut
from ai.types import AnswerCache, CallRecord, OnCall, Outcome, Rows
from steps.insights import Facts, Finding, Step, StepInsights, finding_id
from steps.recommend import ActionItem, Recommendations, RecommendContext, with_item_reviews

ATTEMPTS = 3
"""Attempts in total (the first call and up to two retries) on 429, 408 and 5xx."""

M = TypeVar("M", bound=BaseModel)


def exponential_backoff(attempt: int, base_s: float = 1.0) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): 1 s, 2 s, 4 s, …"""
    return base_s * 2 ** (attempt - 1)


@dataclass(frozen=True)
class Reply:
    """What came back from one successful HTTP exchange, before validation."""

    text: str | None
    http_status: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class CallFailure(Exception):
    """One attempt that yielded no usable answer; `reason` completes "<Label> …"."""

    def __init__(
        self,
        outcome: Outcome,
        reason: str,
        *,
        http_status: int | None = None,
        retryable: bool = False,
        reply: Reply | None = None,
    ) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.http_status = http_status
        self.retryable = retryable
        self.reply = reply
        self.attempts = 1

    def notice(self, label: str, what: str) -> str:
        """The sentence the user sees above the offline advisor's answer."""
        tries = f" on all {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{label} {self.reason}{tries}; showing the offline advisor's {what} instead."


def failure_for_status(status: int) -> CallFailure:
    """How an HTTP error status reads, and whether it is worth another attempt."""
    if status == 429:
        return CallFailure(
            "rate_limited", "was rate-limited (HTTP 429)", http_status=status, retryable=True
        )
    if status == 408:
        return CallFailure("timeout", "timed out (HTTP 408)", http_status=status, retryable=True)
    if status >= 500:
        return CallFailure(
            "server_error", f"failed with HTTP {status}", http_status=status, retryable=True
        )
    return CallFailure("client_error", f"refused the request (HTTP {status})", http_status=status)


def _parse(reply: Reply, schema: type[M]) -> M:
    if reply.text is None or not reply.text.strip():
        raise CallFailure("empty", "returned an empty answer", reply=reply)
    try:
        return schema.model_validate_json(reply.text)
    except ValidationError as e:
        raise CallFailure(
            "malformed",
            "answered with something other than the expected JSON",
            reply=reply,
            http_status=reply.http_status,
        ) from e


def _unique_ids(step: str, titles: Iterable[str]) -> list[str]:
    """Ids from titles (stable across runs); a repeated title gets its ordinal appended."""
    seen: dict[str, int] = {}
    ids = []
    for title in titles:
        n = seen.get(title, 0)
        seen[title] = n + 1
        ids.append(finding_id(step, title if n == 0 else f"{title}#{n}"))
    return ids


def _finding_texts(findings: tuple[Finding, ...]) -> list[tuple[str, str]]:
    texts = []
    for i, f in enumerate(findings):
        texts += [(f"findings[{i}].title", f.title), (f"findings[{i}].detail", f.detail)]
        texts += [(f"findings[{i}].evidence[{j}]", e) for j, e in enumerate(f.evidence)]
    return texts


def _recommendation_texts(
    items: tuple[ActionItem, ...], insights: list[str], next_steps: list[str]
) -> list[tuple[str, str]]:
    texts = []
    for i, item in enumerate(items):
        texts += [(f"action_plan[{i}].title", item.title)]
        texts += [(f"action_plan[{i}].rationale", item.rationale)]
        texts += [(f"action_plan[{i}].evidence[{j}]", e) for j, e in enumerate(item.evidence)]
    texts += [(f"business_insights[{i}]", t) for i, t in enumerate(insights)]
    texts += [(f"next_steps[{i}]", t) for i, t in enumerate(next_steps)]
    return texts


class RemoteAdvisor:
    """An advisor that asks a model over HTTP and falls back to the offline rules.

    `backoff(attempt)` gives the seconds to wait after a retryable failure and `sleep`
    waits them; both are injectable so tests run without waiting.
    """

    name = "remote"
    label = "The model"

    def __init__(
        self,
        model: str,
        *,
        timeout_s: float,
        cache: AnswerCache | None = None,
        on_call: OnCall | None = None,
        attempts: int = ATTEMPTS,
        backoff: Callable[[int], float] = exponential_backoff,
        sleep: Callable[[float], None] = time.sleep,
        description: str = "",
    ) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self.description = description
        self._cache = cache
        self._on_call = on_call
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep
        self._offline = OfflineAdvisor()

    def _send(self, prompt: str, schema: type[BaseModel]) -> Reply:
        raise NotImplementedError

    def _record(
        self,
        task: str,
        prompt: Prompt,
        attempt: int,
        outcome: Outcome,
        started: float,
        reply: Reply | None = None,
        *,
        http_status: int | None = None,
        detail: str | None = None,
    ) -> None:
        if self._on_call is None:
            return
        self._on_call(
            CallRecord(
                advisor=self.name,
                model=self.model,
                task=task,
                prompt_sha256=prompt.sha256,
                attempt=attempt,
                outcome=outcome,
                latency_ms=round((time.perf_counter() - started) * 1000, 1),
                http_status=http_status
                if http_status is not None
                else (reply and reply.http_status),
                input_tokens=reply and reply.input_tokens,
                output_tokens=reply and reply.output_tokens,
                total_tokens=reply and reply.total_tokens,
                detail=detail,
            )
        )

    def _cached(self, task: str, prompt: Prompt, schema: type[M]) -> M | None:
        if self._cache is None:
            return None
        started = time.perf_counter()
        stored = self._cache.get(prompt.sha256, self.name, self.model)
        if stored is None:
            return None
        try:
            parsed = schema.model_validate(stored)
        except ValidationError:
            return None
        self._record(task, prompt, 0, "cached", started)
        return parsed

    def _attempt(self, prompt: Prompt, schema: type[M]) -> tuple[M, Reply]:
        try:
            reply = self._send(prompt.text, schema)
            return _parse(reply, schema), reply
        except CallFailure:
            raise
        except Exception as e:  # a failed call must never lose the step
            raise CallFailure("client_error", f"failed ({type(e).__name__})") from e

    def _generate(self, task: str, prompt: Prompt, schema: type[M]) -> M:
        """A validated answer from the cache or the model; raises the last `CallFailure`."""
        if (cached := self._cached(task, prompt, schema)) is not None:
            return cached
        for attempt in range(1, self._attempts + 1):
            started = time.perf_counter()
            try:
                parsed, reply = self._attempt(prompt, schema)
            except CallFailure as failure:
                self._record(
                    task,
                    prompt,
                    attempt,
                    failure.outcome,
                    started,
                    failure.reply,
                    http_status=failure.http_status,
                    detail=failure.reason,
                )
                failure.attempts = attempt
                if not failure.retryable or attempt == self._attempts:
                    raise
                self._sleep(self._backoff(attempt))
                continue
            self._record(task, prompt, attempt, "ok", started, reply)
            if self._cache is not None:
                self._cache.put(
                    prompt.sha256, self.name, self.model, parsed.model_dump(mode="json")
                )
            return parsed
        raise AssertionError("unreachable: the loop returns or raises")

    def advise(
        self, step: Step, facts: Facts, *, prompt: Prompt, rows: Rows | None = None
    ) -> StepInsights:
        try:
            answer = self._generate(step, prompt, StepInsightsOut)
        except CallFailure as failure:
            fallback = self._offline.advise(step, facts)
            return replace(
                fallback, notice=failure.notice(self.label, "findings"), prompt_sha256=prompt.sha256
            )
        ids = _unique_ids(step, (f.title for f in answer.findings))
        findings = tuple(
            Finding(i, f.title, f.detail, f.severity, tuple(f.evidence))
            for i, f in zip(ids, answer.findings, strict=True)
        )
        return StepInsights(
            step=step,
            advisor=self.name,
            model=self.model,
            findings=findings,
            unverified_numbers=unverified_numbers(_finding_texts(findings), facts, rows),
            prompt_sha256=prompt.sha256,
        )

    def recommend(
        self, context: RecommendContext, *, prompt: Prompt, rows: Rows | None = None
    ) -> Recommendations:
        try:
            answer = self._generate("recommendations", prompt, RecommendationsOut)
        except CallFailure as failure:
            fallback = self._offline.recommend(context)
            return replace(
                fallback,
                notice=failure.notice(self.label, "recommendations"),
                prompt_sha256=prompt.sha256,
            )
        rejected = context.rejected_finding_ids
        kept = [a for a in answer.action_plan if not rejected.intersection(a.finding_ids)]
        ids = _unique_ids("recommendations", (a.title for a in kept))
        items = tuple(
            ActionItem(
                id=i,
                title=a.title,
                rationale=a.rationale,
                evidence=tuple(a.evidence),
                priority=a.priority,
                impact=a.impact,
                effort=a.effort,
                finding_ids=tuple(a.finding_ids),
            )
            for i, a in zip(ids, kept, strict=True)
        )
        items = with_item_reviews(items, context.reviews)
        texts = _recommendation_texts(items, answer.business_insights, answer.next_steps)
        # A title the reviewer reworded at gate 4 is their text, not a number the model stated.
        reworded = {
            f"action_plan[{i}].title"
            for i, it in enumerate(items)
            if it.id in context.reviews.edits
        }
        texts = [(where, text) for where, text in texts if where not in reworded]
        return Recommendations(
            advisor=self.name,
            model=self.model,
            action_plan=items,
            business_insights=tuple(answer.business_insights),
            next_steps=tuple(answer.next_steps),
            version=context.version,
            feedback_used=context.feedback,
            unverified_numbers=unverified_numbers(texts, context.facts, rows),
            prompt_sha256=prompt.sha256,
        )
