"""Which advisor answers: Gemini when a key is configured, else a local Ollama model when
its URL is, else the offline rules — and the app says which, and why."""

from __future__ import annotations

from ai.types import Advisor, AnswerCache, OnCall
from steps.settings import AISettings

OFFLINE_REASON = (
    "The offline rule-based advisor answers because neither GEMINI_API_KEY, "
    "GOOGLE_API_KEY nor SIGNOFF_OLLAMA_URL is set; nothing leaves this machine."
)


def choose_advisor(
    settings: AISettings,
    *,
    cache: AnswerCache | None = None,
    on_call: OnCall | None = None,
) -> Advisor:
    """The advisor the settings ask for.

    `cache` keeps validated answers by prompt hash (`review.ai_cache.AICache`);
    `on_call` receives a `CallRecord` for every remote attempt, to write to the trail.
    """
    # Imported when chosen: google-genai costs a second of start-up the offline path does
    # not need.
    from ai.offline import OfflineAdvisor

    if settings.gemini_key:
        from ai.gemini import GeminiAdvisor

        return GeminiAdvisor.from_settings(settings, cache=cache, on_call=on_call)
    if settings.ollama_url:
        from ai.ollama import OllamaAdvisor

        return OllamaAdvisor.from_settings(settings, cache=cache, on_call=on_call)
    return OfflineAdvisor(description=OFFLINE_REASON, privacy=settings.privacy)
