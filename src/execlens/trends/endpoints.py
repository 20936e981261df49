"""REST endpoints: accuracy trends, the agents' overview and the monitor's alerts."""

from typing import Annotated

from fastapi import APIRouter, Query

from execlens.api.deps import DatabaseDep, ReadSession, SettingsDep
from execlens.auth.deps import AUTH_ERRORS, AdminPrincipal
from execlens.trends.health import health_service
from execlens.trends.models import AlertState, HealthAlertKind
from execlens.trends.schemas import (
    AccuracyTrendsResponse,
    AgentTrendList,
    AlertPage,
    HealthAlertPage,
    TrendQuery,
)
from execlens.trends.service import trend_service

router = APIRouter(prefix="/api", tags=["trends"], responses=AUTH_ERRORS)


@router.get("/trends", response_model=AccuracyTrendsResponse)
async def get_trend(
    query: Annotated[TrendQuery, Query()],
    session: ReadSession,
    database: DatabaseDep,
    _: AdminPrincipal,
) -> AccuracyTrendsResponse:
    """Return a graph's daily accuracy with 3-, 7- and 14-day averages, and a drop alert."""
    return await trend_service.trends(session, database.dialect, query)


@router.get("/trends/agents", response_model=AgentTrendList)
async def list_agent_trends(
    session: ReadSession, database: DatabaseDep, settings: SettingsDep, _: AdminPrincipal
) -> AgentTrendList:
    """List every agent with its latest 3- and 7-day averages, direction and drop alert."""
    return await trend_service.agent_overview(session, database.dialect, settings)


@router.get("/alerts", response_model=AlertPage)
async def list_alerts(
    session: ReadSession,
    settings: SettingsDep,
    _: AdminPrincipal,
    state: AlertState | None = None,
    graph_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertPage:
    """List the monitor's accuracy alerts newest first, optionally only open or resolved ones."""
    return await trend_service.list_alerts(
        session, settings, state=state, graph_id=graph_id, limit=limit
    )


@router.get("/health-alerts", response_model=HealthAlertPage)
async def list_health_alerts(
    session: ReadSession,
    settings: SettingsDep,
    _: AdminPrincipal,
    state: AlertState | None = None,
    kind: HealthAlertKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HealthAlertPage:
    """List the monitor's evaluator-health alerts newest first, optionally one state or kind."""
    return await health_service.list_alerts(session, settings, state=state, kind=kind, limit=limit)
