"""A local model over Ollama's HTTP API (`/api/chat` with `format` = the JSON schema).

Same prompts, schemas, deadline, retries, cache and fallback as Gemini (`ai.remote`); the
HTTP client is httpx2, the fork google-genai itself depends on, opened per attempt inside
the event loop that awaits it (its connections belong to that loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2
from pydantic import BaseModel

from ai.remote import CallFailure, RemoteAdvisor, Reply, failure_for_status, retry_after
from ai.types import AnswerCache, OnCall
from steps.settings import DEFAULT_OLLAMA_MODEL, AISettings


def _tokens(value: Any) -> int | None:
    """A token count from Ollama's answer, if it gave a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class OllamaAdvisor(RemoteAdvisor):
    """A local Ollama model answers; on any failure the offline advisor does."""

    name = "ollama"
    label = "Ollama"

    def __init__(self, url: str, *, model: str = DEFAULT_OLLAMA_MODEL, **options: Any) -> None:
        super().__init__(model, **options)
        self.url = url.rstrip("/")

    @classmethod
    def from_settings(
        cls, settings: AISettings, *, cache: AnswerCache | None, on_call: OnCall | None
    ) -> OllamaAdvisor:
        assert settings.ollama_url is not None
        return cls(
            settings.ollama_url,
            model=settings.ollama_model,
            timeout_s=settings.timeout_s,
            privacy=settings.privacy,
            cache=cache,
            on_call=on_call,
            description=(
                f"The local model {settings.ollama_model} answers through Ollama because "
                "SIGNOFF_OLLAMA_URL is set; the offline advisor answers if a call fails."
            ),
        )

    async def _send(self, prompt: str, schema: type[BaseModel], timeout_s: float) -> Reply:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": False,
            "format": schema.model_json_schema(),
            "options": {"temperature": 0.2},
        }
        try:
            async with httpx2.AsyncClient(timeout=timeout_s) as http:
                response = await http.post(f"{self.url}/api/chat", json=body)
        except httpx2.TimeoutException as e:
            raise CallFailure("timeout", f"did not answer within {self.timeout_s:g} s") from e
        except httpx2.TransportError as e:
            raise CallFailure("unreachable", "could not be reached") from e
        if response.status_code >= 400:
            wait = retry_after(response.headers.get("retry-after"))
            raise failure_for_status(response.status_code, retry_after_s=wait)
        try:
            data = response.json()
        except ValueError as e:
            raise CallFailure(
                "malformed", "answered with something other than JSON", http_status=200
            ) from e
        message = data.get("message") if isinstance(data, Mapping) else None
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(data, Mapping) or not isinstance(content, str | None):
            raise CallFailure(
                "malformed",
                "answered with something other than the expected JSON",
                http_status=response.status_code,
            )
        prompt_tokens, output_tokens = (
            _tokens(data.get("prompt_eval_count")),
            _tokens(data.get("eval_count")),
        )
        return Reply(
            text=content,
            http_status=response.status_code,
            input_tokens=prompt_tokens,
            output_tokens=output_tokens,
            total_tokens=(prompt_tokens or 0) + (output_tokens or 0)
            if prompt_tokens is not None or output_tokens is not None
            else None,
        )
