"""REST endpoints for labels of runs and the judge-human agreement report."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from execlens.api.deps import DatabaseDep, ReadSession, WriteSession
from execlens.api.errors import error_responses
from execlens.auth.deps import AUTH_ERRORS, AdminPrincipal
from execlens.auth.service import actor_of
from execlens.executions.models import ExecutionStatus
from execlens.executions.schemas import ExecutionPage
from execlens.executions.service import MAX_CURSOR_CHARS, MAX_PAGE
from execlens.labels.schemas import AgreementReport, LabelIn, LabelOut
from execlens.labels.service import label_service
from execlens.timestamps import UTCTimestamp

router = APIRouter(prefix="/api", tags=["labels"], responses=AUTH_ERRORS)


# Here, not in executions/, because two of its filters read labels and verdicts, which
# live above the executions package.
@router.get("/executions", response_model=ExecutionPage, tags=["executions"])
async def list_executions(
    session: ReadSession,
    _: AdminPrincipal,
    graph_id: str | None = None,
    status: ExecutionStatus | None = None,
    user_id: str | None = None,
    created_after: UTCTimestamp | None = None,
    created_before: UTCTimestamp | None = None,
    score_min: Annotated[
        float | None, Query(ge=0, le=1, description="Latest score at least this.")
    ] = None,
    score_max: Annotated[
        float | None, Query(ge=0, le=1, description="Latest score at most this.")
    ] = None,
    labelled: Annotated[bool | None, Query(description="Labelled by someone, or not.")] = None,
    judged_by: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=300,
            description='Any verdict by "rules", a provider ("openai") or "provider/model".',
        ),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> ExecutionPage:
    """List executions newest first, with keyset pagination through ``next_cursor``."""
    return await label_service.list_runs(
        session,
        labelled=labelled,
        judged_by=judged_by,
        graph_id=graph_id,
        status=status,
        user_id=user_id,
        created_after=created_after,
        created_before=created_before,
        score_min=score_min,
        score_max=score_max,
        cursor=cursor,
        limit=limit,
    )


@router.put(
    "/executions/{execution_id}/label",
    response_model=LabelOut,
    responses=error_responses(400, 404, 413),
)
async def put_label(
    execution_id: str,
    label: LabelIn,
    session: WriteSession,
    database: DatabaseDep,
    principal: AdminPrincipal,
) -> LabelOut:
    """Set your label of a run: a score from 0 to 1 ("pass" or "fail") and a note."""
    return await label_service.set_label(
        session,
        database.dialect,
        execution_id=execution_id,
        label=label,
        labeler=actor_of(principal),
        acting_as=principal.acting_as,
    )


@router.delete("/executions/{execution_id}/label", status_code=204, responses=error_responses(404))
async def delete_label(
    execution_id: str, session: WriteSession, principal: AdminPrincipal
) -> Response:
    """Remove your label of a run."""
    await label_service.delete_label(
        session,
        execution_id=execution_id,
        labeler=actor_of(principal),
        acting_as=principal.acting_as,
    )
    return Response(status_code=204)


@router.get("/executions/{execution_id}/labels", response_model=list[LabelOut])
async def list_labels(execution_id: str, session: ReadSession, _: AdminPrincipal) -> list[LabelOut]:
    """List everyone's labels of a run, newest first."""
    return await label_service.list_labels(session, execution_id)


@router.get("/judges/agreement", response_model=AgreementReport)
async def judge_agreement(
    session: ReadSession,
    _: AdminPrincipal,
    threshold: Annotated[float, Query(gt=0, le=1)] = 0.5,
) -> AgreementReport:
    """Report how each judge configuration's scores agree with the labels of the same runs."""
    return await label_service.agreement(session, threshold=threshold)
