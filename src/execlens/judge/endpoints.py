"""REST endpoints of the judge: the upstream-compatible analytics config."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from execlens.api.deps import SettingsDep
from execlens.auth.deps import AUTH_ERRORS, AdminPrincipal
from execlens.judge.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_PROMPT
from execlens.judge.providers import model_options, recommended_model, unavailable_model_options

router = APIRouter(prefix="/api/executions/admin", tags=["analytics"], responses=AUTH_ERRORS)


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


@router.get("/execution_analytics/config", response_model=ExecutionAnalyticsConfig)
async def get_execution_analytics_config(
    settings: SettingsDep, _: AdminPrincipal
) -> ExecutionAnalyticsConfig:
    """Return the models an admin can judge with, the default prompts and the recommended model."""
    recommended = recommended_model(settings) or ""
    options = model_options(settings, recommended)
    return ExecutionAnalyticsConfig(
        available_models=[ModelOption(**option) for option in options],
        default_system_prompt=DEFAULT_SYSTEM_PROMPT,
        default_user_prompt=DEFAULT_USER_PROMPT,
        recommended_model=recommended,
        unavailable_models=[UnavailableModel(**o) for o in unavailable_model_options(settings)],
    )
