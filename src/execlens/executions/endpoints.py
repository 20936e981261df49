"""REST endpoints for ingesting and reading graphs and executions."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from execlens.api.deps import DatabaseDep, ReadSession, WriteSession
from execlens.api.errors import error_responses
from execlens.auth.deps import AUTH_ERRORS, AdminPrincipal, IngestPrincipal
from execlens.errors import UserError
from execlens.executions.schemas import (
    NUL_MESSAGE,
    ExecutionBatch,
    ExecutionOut,
    GraphIn,
    GraphList,
    GraphOut,
    GraphUpsertResult,
    IngestResult,
    has_nul,
    json_problem,
)
from execlens.executions.service import execution_service


async def refuse_unstorable(request: Request, _: IngestPrincipal) -> None:
    """Answer 422 when the body holds what `execlens import` refuses, before anything is written.

    That is a NUL character, a lone surrogate or nesting beyond the JSON parser's limit.
    """
    # It takes the principal so that an anonymous caller gets 401, never this check.
    body = await request.body()
    if has_nul(body):
        raise UserError(f"the request body {NUL_MESSAGE}")
    if problem := json_problem(body):
        raise UserError(f"the request body is {problem}; fix or leave out that value")


router = APIRouter(prefix="/api", tags=["executions"], responses=AUTH_ERRORS)
NoNul = Depends(refuse_unstorable)


@router.put(
    "/graphs",
    response_model=GraphUpsertResult,
    dependencies=[NoNul],
    responses=error_responses(400, 413),
)
async def upsert_graph(
    graph: GraphIn, session: WriteSession, database: DatabaseDep, _: IngestPrincipal
) -> GraphUpsertResult:
    """Store one graph version, replacing a stored one with the same id and version."""
    await execution_service.upsert_graph(session, database.dialect, graph)
    return GraphUpsertResult(id=graph.id, version=graph.version)


@router.get("/graphs", response_model=GraphList)
async def list_graphs(session: ReadSession, _: AdminPrincipal) -> GraphList:
    """List the agents that have executions, with their counts and mean score."""
    return await execution_service.overview(session)


@router.get(
    "/graphs/{graph_id}/versions/{version}",
    response_model=GraphOut,
    responses=error_responses(404),
)
async def get_graph(
    graph_id: str,
    version: Annotated[int, Path(ge=0, le=2**31 - 1)],
    session: ReadSession,
    _: AdminPrincipal,
) -> GraphOut:
    """Return one graph version."""
    return await execution_service.get_graph(session, graph_id, version)


@router.post(
    "/executions",
    response_model=IngestResult,
    dependencies=[NoNul],
    responses=error_responses(400, 413),
)
async def ingest_executions(
    batch: ExecutionBatch, session: WriteSession, database: DatabaseDep, _: IngestPrincipal
) -> IngestResult:
    """Upsert up to 1,000 executions by id; the whole batch is written or none of it."""
    return await execution_service.ingest(session, database.dialect, executions=batch.executions)


@router.get(
    "/executions/{execution_id}", response_model=ExecutionOut, responses=error_responses(404)
)
async def get_execution(execution_id: str, session: ReadSession, _: AdminPrincipal) -> ExecutionOut:
    """Return one execution with its node executions."""
    return await execution_service.get(session, execution_id)
