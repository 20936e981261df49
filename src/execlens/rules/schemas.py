"""Wire shapes of judging rules and their health."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from execlens.jobs.schemas import Prompt

FinishedStatus = Literal["COMPLETED", "FAILED", "TERMINATED"]
ALL_FINISHED: list[FinishedStatus] = ["COMPLETED", "FAILED", "TERMINATED"]


class RuleCreate(BaseModel):
    """A judging rule: which new finished runs to judge, with which model and budget."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    graph_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="One agent; omit for every agent."
    )
    statuses: list[FinishedStatus] = Field(default_factory=lambda: list(ALL_FINISHED), min_length=1)
    sample_rate: float = Field(
        default=1.0, ge=0, le=1, description="Share of matching runs to judge, fixed per run id."
    )
    model_name: str | None = Field(
        default=None, max_length=200, description="Judge model; default: the recommended one."
    )
    system_prompt: Prompt | None = None
    user_prompt: Prompt | None = None
    daily_budget_usd: float | None = Field(
        default=None, gt=0, le=1_000_000, description="Pause until the next UTC day past this."
    )
    paused: bool = False


class RuleUpdate(BaseModel):
    """Fields of a rule to change; the others stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    statuses: list[FinishedStatus] | None = Field(default=None, min_length=1)
    sample_rate: float | None = Field(default=None, ge=0, le=1)
    model_name: str | None = Field(default=None, max_length=200)
    daily_budget_usd: float | None = Field(default=None, gt=0, le=1_000_000)
    paused: bool | None = None

    @field_validator("name", "statuses", "sample_rate", "paused")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        # Left out, a field keeps its value; null is no value a rule can have (a null
        # budget, by contrast, removes the budget).
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null; omit it to keep the rule's value")
        return value


class RuleHealth(BaseModel):
    """How a rule keeps up: today's spend, its backlog, and arrival-to-verdict lag."""

    spent_today_usd: float
    budget_exhausted: bool
    backlog: int = Field(description="Runs the rule picked that wait for a verdict.")
    judged_last_hour: int
    failed_last_hour: int
    lag_p50_seconds: float | None = Field(
        description="Arrival to verdict over the last hour, median."
    )
    lag_p95_seconds: float | None
    open_job_id: str | None


class RuleOut(BaseModel):
    id: str
    name: str
    graph_id: str | None
    statuses: list[str]
    sample_rate: float
    model: str
    custom_prompts: bool
    daily_budget_usd: float | None
    paused: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    health: RuleHealth


class RuleList(BaseModel):
    rules: list[RuleOut]
