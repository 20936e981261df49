"""Upstream's wire formats: read as leniently as AutoGPT reads them, shaped as it answers."""

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from execlens.jobs.schemas import AnalyticsSelection
from execlens.trends.models import TrendWindow
from execlens.trends.schemas import MinExecutions, TrendParameters


def _blank_is_none(value: object) -> object:
    # Upstream filters by user only when the id is non-empty (`if user_id:`).
    return None if value == "" else value


UserFilter = Annotated[
    Annotated[str, Field(max_length=200)] | None, BeforeValidator(_blank_is_none)
]


class ExecutionAnalyticsRequest(AnalyticsSelection):
    """AutoGPT's request: unknown fields are ignored, as upstream's model ignores them."""

    model_config = ConfigDict(extra="ignore")

    user_id: UserFilter = None


class UpstreamTrendQuery(TrendParameters):
    """AutoGPT's trends parameters; unknown ones, such as a cache-buster, are ignored."""

    model_config = ConfigDict(extra="ignore")

    user_id: UserFilter = None
    # None: the setting decides, which TrendQuery cannot express.
    window: TrendWindow | None = Field(
        default=None,
        description="rows: the last 3 days with data, upstream's numbers; calendar: days "
        "D-2..D. Default: EXECLENS_UPSTREAM_TRENDS_WINDOW (rows).",
    )
    min_executions: MinExecutions = 1


class ModelOption(BaseModel):
    value: str
    label: str
    provider: str


class UnavailableModel(ModelOption):
    reason: str = Field(description="What to configure to use this model.")


class ExecutionAnalyticsConfig(BaseModel):
    available_models: list[ModelOption]
    default_system_prompt: str
    default_user_prompt: str
    recommended_model: str
    # Additive: catalog models whose provider is not configured, shown disabled.
    unavailable_models: list[UnavailableModel] = []
