"""REST endpoint for the audit log.

The app includes this router behind the admin dependency: audit is a leaf that auth
records into, so it must not import auth back.
"""

from typing import Annotated

from fastapi import APIRouter, Query

from execlens.api.deps import ReadSession
from execlens.audit.schemas import AuditPage
from execlens.audit.service import audit_service
from execlens.timestamps import UTCTimestamp

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
async def list_audit_events(
    session: ReadSession,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=300)] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[UTCTimestamp | None, Query(description="`next_cursor` of a page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """List who started, cancelled or changed what, newest first."""
    events = await audit_service.list_events(
        session, action=action, actor=actor, target_id=target_id, before=before, limit=limit
    )
    cursor = events[-1].at.isoformat() if len(events) == limit else None
    return AuditPage(items=events, next_cursor=cursor)
