"""Gemini through the official `google-genai` client, with structured output.

Each attempt builds its client inside the event loop that awaits it (`ai.remote.within`)
and closes it there: an async HTTP client's connections belong to one loop, and every
attempt runs on a fresh one so that its deadline can cancel it (≈ 60 ms to build, next to
seconds of model time). The reference is held for the whole attempt: in google-genai 3.x a
`Client` closes itself when garbage-collected. Its own retries are left off (no
`retry_options`) so that attempts, backoff and call records are counted in one place
(`ai.remote`). A base URL from `GOOGLE_GEMINI_BASE_URL` (in `Settings.ai`) points it at
another endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx2
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from ai.remote import CallFailure, RemoteAdvisor, Reply, failure_for_status, retry_after
from ai.types import AnswerCache, OnCall
from steps.settings import DEFAULT_GEMINI_MODEL, AISettings

_BLOCKING_FINISH = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _reply_from(response: types.GenerateContentResponse) -> Reply:
    """The answer's text and token counts, or a `CallFailure` when it was blocked or empty."""
    usage = response.usage_metadata
    reply = Reply(
        text=None,
        http_status=200,
        input_tokens=usage.prompt_token_count if usage else None,
        output_tokens=usage.candidates_token_count if usage else None,
        total_tokens=usage.total_token_count if usage else None,
    )
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = _enum_name(feedback.block_reason)
        raise CallFailure("blocked", f"blocked the request ({reason})", reply=reply)
    if not response.candidates:
        raise CallFailure("empty", "returned no answer", reply=reply)
    finish = response.candidates[0].finish_reason
    if finish is not None and _enum_name(finish) in _BLOCKING_FINISH:
        raise CallFailure("blocked", f"blocked the answer ({_enum_name(finish)})", reply=reply)
    return Reply(
        text=response.text,
        http_status=200,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        total_tokens=reply.total_tokens,
    )


class GeminiAdvisor(RemoteAdvisor):
    """Gemini answers; on any failure the offline advisor does, with a notice."""

    name = "gemini"
    label = "Gemini"

    def __init__(
        self,
        api_key: str,
        *,
        model: str = DEFAULT_GEMINI_MODEL,
        base_url: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, **options)
        self._api_key = api_key
        self._base_url = base_url

    @classmethod
    def from_settings(
        cls, settings: AISettings, *, cache: AnswerCache | None, on_call: OnCall | None
    ) -> GeminiAdvisor:
        assert settings.gemini_key is not None
        return cls(
            settings.gemini_key,
            model=settings.gemini_model,
            base_url=settings.gemini_base_url,
            timeout_s=settings.timeout_s,
            privacy=settings.privacy,
            cache=cache,
            on_call=on_call,
            description=(
                f"Gemini ({settings.gemini_model}) answers because "
                f"{settings.gemini_key_variable} is set; it is sent aggregates only, and the "
                "offline advisor answers if a call fails."
            ),
        )

    async def _send(self, prompt: str, schema: type[BaseModel], timeout_s: float) -> Reply:
        config = types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=schema, temperature=0.2
        )
        # The client's own timeout (milliseconds, at least 1: 0 means none) also becomes
        # the X-Server-Timeout header, telling the server how long the answer may take.
        options = types.HttpOptions(base_url=self._base_url, timeout=max(1, int(timeout_s * 1000)))
        client = genai.Client(api_key=self._api_key, http_options=options)
        try:
            async with client.aio as aio:
                response = await aio.models.generate_content(
                    model=self.model, contents=prompt, config=config
                )
        except errors.APIError as e:
            raise failure_for_status(e.code, retry_after_s=_retry_after(e)) from e
        except httpx2.TimeoutException as e:
            raise CallFailure("timeout", f"did not answer within {self.timeout_s:g} s") from e
        except httpx2.TransportError as e:
            raise CallFailure("unreachable", "could not be reached") from e
        except json.JSONDecodeError as e:  # a body that is not JSON at all (e.g. a proxy's page)
            raise CallFailure(
                "malformed", "answered with something other than JSON", http_status=200
            ) from e
        finally:
            client.close()
        return _reply_from(response)


def _retry_after(error: errors.APIError) -> float | None:
    """The wait the server asked for: its `Retry-After` header, else the `retryDelay` of the
    `google.rpc.RetryInfo` detail Gemini puts in a 429's body (e.g. "36s")."""
    headers = getattr(error.response, "headers", None)
    if headers is not None and (seconds := retry_after(headers.get("retry-after"))) is not None:
        return seconds
    body = error.details.get("error", {}) if isinstance(error.details, Mapping) else {}
    for detail in body.get("details", []) if isinstance(body, Mapping) else []:
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        if isinstance(delay, str) and delay.endswith("s"):
            return retry_after(delay[:-1])
    return None
