"""Response schemas the models must answer in (structured output), as pydantic models.

Kept to what Gemini's and Ollama's schema subsets both accept: objects, strings,
integers with bounds, string enums, arrays. No maps, no unions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FindingOut(BaseModel):
    title: str
    detail: str
    severity: Literal["info", "warning", "critical"]
    evidence: list[str]


class StepInsightsOut(BaseModel):
    findings: list[FindingOut]


class ActionItemOut(BaseModel):
    title: str
    rationale: str
    evidence: list[str]
    priority: Literal["high", "medium", "low"]
    impact: int = Field(ge=1, le=5)
    effort: int = Field(ge=1, le=5)
    finding_ids: list[str]


class RecommendationsOut(BaseModel):
    action_plan: list[ActionItemOut]
    business_insights: list[str]
    next_steps: list[str]
