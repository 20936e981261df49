"""Wire format of audit events."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEventOut(BaseModel):
    id: str
    at: datetime
    actor: str
    acting_as: str | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None
