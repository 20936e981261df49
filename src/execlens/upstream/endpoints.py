"""AutoGPT's admin analytics routes: upstream's operation ids, tags, leniency and shapes.

AutoGPT's admin page works when these three paths are routed to execlens. Its client
hooks are generated from the operation ids, so those are upstream's, verbatim.
"""

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from execlens.api.deps import DatabaseDep, ReadSession, SettingsDep
from execlens.api.errors import answer_422_as_field_errors, error_responses
from execlens.auth.deps import AdminPrincipal
from execlens.auth.service import actor_of
from execlens.jobs.schemas import ExecutionAnalyticsResponse
from execlens.judge.deps import JudgeDep
from execlens.trends.schemas import AccuracyTrendsResponse
from execlens.upstream.schemas import (
    ExecutionAnalyticsConfig,
    ExecutionAnalyticsRequest,
    UpstreamTrendQuery,
)
from execlens.upstream.service import upstream_service

# Upstream's tags, duplicate included: its router and its app both add "admin".
TAGS: list[str | Enum] = ["v2", "admin", "admin", "execution_analytics"]

# 422 is left to FastAPI's own HTTPValidationError, the shape upstream documents, and
# every 422 here is answered in that shape.
router = APIRouter(
    prefix="/api/executions/admin",
    tags=TAGS,
    responses=error_responses(401, 403, 429, 503),
    dependencies=[Depends(answer_422_as_field_errors)],
)


@router.get(
    "/execution_analytics/config",
    response_model=ExecutionAnalyticsConfig,
    summary="Get Execution Analytics Configuration",
    operation_id="getV2Get execution analytics configuration",
)
async def get_execution_analytics_config(
    settings: SettingsDep, _: AdminPrincipal
) -> ExecutionAnalyticsConfig:
    """Return the models an admin can judge with, the default prompts and the recommended model."""
    return upstream_service.config(settings)


@router.post(
    "/execution_analytics",
    response_model=ExecutionAnalyticsResponse,
    summary="Generate Execution Analytics",
    operation_id="postV2Generate execution analytics",
    responses=error_responses(400, 413, 502),
)
async def generate_execution_analytics(
    body: ExecutionAnalyticsRequest,
    database: DatabaseDep,
    settings: SettingsDep,
    judge: JudgeDep,
    principal: AdminPrincipal,
) -> ExecutionAnalyticsResponse:
    """Judge an agent's finished executions and return the report when all are done."""
    return await upstream_service.report(
        database,
        settings,
        judge,
        body,
        created_by=actor_of(principal),
        acting_as=principal.acting_as,
    )


@router.get(
    "/execution_accuracy_trends",
    response_model=AccuracyTrendsResponse,
    summary="Get Execution Accuracy Trends and Alerts",
    operation_id="getV2Get execution accuracy trends and alerts",
)
async def get_execution_accuracy_trends(
    query: Annotated[UpstreamTrendQuery, Query()],
    session: ReadSession,
    database: DatabaseDep,
    settings: SettingsDep,
    _: AdminPrincipal,
) -> AccuracyTrendsResponse:
    """Return a graph's daily accuracy with 3-, 7- and 14-day averages, and a drop alert."""
    return await upstream_service.trends(session, database.dialect, settings, query)
