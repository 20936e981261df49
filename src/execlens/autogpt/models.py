"""Storage of the sync: how far each source has been read."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime


class SyncCursor(Base):
    """The newest change time read from one source, committed with the runs it covers."""

    __tablename__ = "sync_cursors"

    source: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[datetime] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
