"""REST endpoints for what the judge read of a run and every verdict it gave."""

from typing import Annotated

from fastapi import APIRouter, Query

from execlens.api.deps import ReadSession
from execlens.api.errors import error_responses
from execlens.auth.deps import AUTH_ERRORS, AdminPrincipal
from execlens.judge.deps import JudgeDep
from execlens.judge.schemas import DigestOut, Verdict
from execlens.judge.service import judge_service

router = APIRouter(prefix="/api/executions", tags=["judge"], responses=AUTH_ERRORS)


@router.get(
    "/{execution_id}/verdicts", response_model=list[Verdict], responses=error_responses(404)
)
async def list_verdicts(
    execution_id: str, session: ReadSession, _: AdminPrincipal
) -> list[Verdict]:
    """List every verdict of a run, newest first, with its provenance."""
    return list(await judge_service.history(session, execution_id))


@router.get("/{execution_id}/digest", response_model=DigestOut, responses=error_responses(404))
async def get_digest(
    execution_id: str,
    session: ReadSession,
    judge: JudgeDep,
    _: AdminPrincipal,
    model_name: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="The judge model; default: recommended."),
    ] = None,
) -> DigestOut:
    """Return the digest of a run exactly as the judge reads it, with what was cut."""
    return await judge_service.digest(session, judge, execution_id, model_name)
