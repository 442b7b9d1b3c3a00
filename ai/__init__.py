"""Advisors: findings and recommendations from the computed figures.

`ai.factory.choose_advisor(settings.ai)` picks Gemini, a local Ollama model or the offline
rules; every remote advisor falls back to the offline one with a notice. The modules build
on one another in one direction: `numbers`, `types` → `rules` → `offline` → `prompts`;
`numbers` → `figures` → `factcheck`; `prompts`, `factcheck` → `remote` → `gemini`/`ollama`
→ `factory`.
"""
