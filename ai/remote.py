"""What every remote advisor shares: one deadline per call, retries with backoff, cache,
call records, fact-check, and the fallback to the offline advisor that keeps a step from
ever being lost.

A subclass only says how to send one prompt (`_send`, a coroutine) and returns a `Reply` or
raises a `CallFailure`; everything else — including what the user is told — is decided here
once.

The deadline (`timeout_s`) is for the whole call: every attempt, every backoff and every
`Retry-After` wait fit inside it. An HTTP client's own timeout is per read, so a server
that drips one byte a second never trips it; here each attempt is awaited under
`asyncio.timeout(remaining)`, which cancels the request wherever it is (connecting, sending,
waiting for headers, reading a dripping body) and closes its connection. The coroutine runs
on an event loop of its own in a short-lived thread, because the caller may already be
inside one (a marimo cell) and must not block it with `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ai.factcheck import unverified_numbers
from ai.offline import OfflineAdvisor
from ai.prompts import Prompt
from ai.schemas import RecommendationsOut, StepInsightsOut
from ai.types import AnswerCache, CallRecord, OnCall, Outcome, Rows
from steps.insights import Facts, Finding, Step, StepInsights, finding_id
from steps.recommend import ActionItem, Recommendations, RecommendContext, with_item_reviews
from steps.settings import DEFAULT_PRIVACY, Privacy

ATTEMPTS = 3
"""Attempts in total (the first call and up to two retries) on 429, 408 and 5xx."""

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


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
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.http_status = http_status
        self.retryable = retryable
        self.reply = reply
        self.retry_after_s = retry_after_s
        self.attempts = 1
        self.exhausted = False
        """Whether every attempt the advisor allows was made."""
        self.out_of_time_s: float | None = None
        """The call's deadline, when a retry was due but its wait would not fit in it."""

    def notice(self, label: str, what: str) -> str:
        """The sentence the user sees above the offline advisor's answer."""
        if self.out_of_time_s is not None:
            n = self.attempts
            tries = (
                f" on {n} attempt{'s' if n > 1 else ''} and could not retry within "
                f"the {self.out_of_time_s:g} s limit"
            )
        elif self.attempts == 1:
            tries = ""
        elif self.exhausted:
            tries = f" on all {self.attempts} attempts"
        else:
            tries = f" on attempt {self.attempts}"
        return f"{label} {self.reason}{tries}; showing the offline advisor's {what} instead."


def retry_after(value: str | None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or None."""
    if not value or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def failure_for_status(status: int, *, retry_after_s: float | None = None) -> CallFailure:
    """How an HTTP error status reads, and whether it is worth another attempt (after at
    least `retry_after_s`, when the server said so)."""
    if status == 429:
        reason = "was rate-limited (HTTP 429)"
        return CallFailure(
            "rate_limited", reason, http_status=status, retryable=True, retry_after_s=retry_after_s
        )
    if status == 408:
        return CallFailure("timeout", "timed out (HTTP 408)", http_status=status, retryable=True)
    if status >= 500:
        return CallFailure(
            "server_error",
            f"failed with HTTP {status}",
            http_status=status,
            retryable=True,
            retry_after_s=retry_after_s,
        )
    return CallFailure("client_error", f"refused the request (HTTP {status})", http_status=status)


def within(seconds: float, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The result of awaiting `call()`, cancelled after `seconds` (raises `TimeoutError`).

    It runs on a new event loop in a thread of its own, so it works whether or not the
    caller is inside a running loop. The loop is closed without waiting for its default
    executor: a DNS lookup stuck in it cannot hold the caller past the deadline.
    """
    outcome: list[T] = []
    error: list[BaseException] = []

    async def bounded() -> T:
        async with asyncio.timeout(seconds):
            return await call()

    def run() -> None:
        loop = asyncio.new_event_loop()
        try:
            outcome.append(loop.run_until_complete(bounded()))
        except BaseException as e:  # handed to the caller's thread below
            error.append(e)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="signoff-ai-call", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return outcome[0]


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

    `timeout_s` is the deadline of one whole call, retries and waits included.
    `backoff(attempt)` gives the seconds to wait after a retryable failure (at least the
    server's `Retry-After`) and `sleep` waits them; both are injectable so tests run without
    waiting. A wait that would end past the deadline is not started: the call gives up at
    once, with the offline advisor's answer.
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
        privacy: Privacy = DEFAULT_PRIVACY,
    ) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self.description = description
        self.privacy = privacy
        self._cache = cache
        self._on_call = on_call
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep
        self._offline = OfflineAdvisor()

    async def _send(self, prompt: str, schema: type[BaseModel], timeout_s: float) -> Reply:
        """One HTTP exchange; `timeout_s` is what is left of the call's deadline (for the
        client's own timeouts and any server-side deadline header)."""
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
                if http_status is not None or reply is None
                else reply.http_status,
                input_tokens=reply.input_tokens if reply is not None else None,
                output_tokens=reply.output_tokens if reply is not None else None,
                total_tokens=reply.total_tokens if reply is not None else None,
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

    def _attempt(self, prompt: Prompt, schema: type[M], deadline: float) -> tuple[M, Reply]:
        remaining = deadline - time.monotonic()
        late = CallFailure("timeout", f"did not answer within {self.timeout_s:g} s")
        if remaining <= 0:
            raise late
        try:
            reply = within(remaining, lambda: self._send(prompt.text, schema, remaining))
            return _parse(reply, schema), reply
        except CallFailure:
            raise
        except TimeoutError as e:
            raise late from e
        except Exception as e:  # a failed call must never lose the step
            raise CallFailure("client_error", f"failed ({type(e).__name__})") from e

    def _wait_before_retry(self, attempt: int, failure: CallFailure, deadline: float) -> None:
        """Wait out the backoff (at least the server's `Retry-After`), or raise `failure`
        at once when that wait would not end before the deadline."""
        wait = max(self._backoff(attempt), failure.retry_after_s or 0.0)
        if time.monotonic() + wait >= deadline:
            failure.out_of_time_s = self.timeout_s
            raise failure
        self._sleep(wait)

    def _generate(self, task: str, prompt: Prompt, schema: type[M]) -> M:
        """A validated answer from the cache or the model; raises the last `CallFailure`."""
        if (cached := self._cached(task, prompt, schema)) is not None:
            return cached
        deadline = time.monotonic() + self.timeout_s
        for attempt in range(1, self._attempts + 1):
            started = time.perf_counter()
            try:
                parsed, reply = self._attempt(prompt, schema, deadline)
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
                failure.exhausted = attempt == self._attempts
                if not failure.retryable or failure.exhausted:
                    raise
                self._wait_before_retry(attempt, failure, deadline)
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
            unverified_numbers=unverified_numbers(
                _finding_texts(findings), facts, rows, privacy=prompt.privacy
            ),
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
            unverified_numbers=unverified_numbers(
                texts, context.facts, rows, privacy=prompt.privacy
            ),
            prompt_sha256=prompt.sha256,
        )
