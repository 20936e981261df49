"""Record and list audit events."""

import getpass
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.audit.models import AuditEvent
from execlens.audit.schemas import AuditEventOut


def cli_actor() -> str:
    """Name the person running a CLI command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


class AuditService:
    """The audit log: events are added in the caller's transaction, never changed."""

    def record(
        self,
        session: AsyncSession,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        details: dict[str, Any] | None = None,
        acting_as: str | None = None,
    ) -> None:
        """Add an event; it commits (or not) with the change it describes."""
        session.add(
            AuditEvent(
                id=str(uuid.uuid4()),
                at=datetime.now(UTC),
                actor=actor,
                acting_as=acting_as,
                action=action,
                target_type=target_type,
                target_id=target_id,
                details=details,
            )
        )

    async def list_events(
        self,
        session: AsyncSession,
        *,
        action: str | None = None,
        actor: str | None = None,
        target_id: str | None = None,
        before: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEventOut]:
        """Return events newest first."""
        stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        if action is not None:
            stmt = stmt.where(AuditEvent.action == action)
        if actor is not None:
            stmt = stmt.where(AuditEvent.actor == actor)
        if target_id is not None:
            stmt = stmt.where(AuditEvent.target_id == target_id)
        if before is not None:
            stmt = stmt.where(AuditEvent.at < before)
        events = (await session.scalars(stmt.limit(limit))).all()
        return [AuditEventOut.model_validate(e, from_attributes=True) for e in events]


audit_service = AuditService()
