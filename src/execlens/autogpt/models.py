"""Storage of the sync: how far each source has been read."""

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime


class SyncCursor(Base):
    """How far one source was read, and which process may sync it now.

    ``position`` is the newest change time read, committed with the runs it covers. The
    lease lets one of several `serve`/`worker` processes sync at a time; a holder that
    dies without releasing it is replaced once ``lease_until`` has passed.
    """

    __tablename__ = "sync_cursors"

    source: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncedRun(Base):
    """A run synced from AutoGPT, with the time it last changed there when it was read.

    A pass re-reads its lookback window; runs whose change time matches are not written
    again. It also tells which runs came from AutoGPT (their ids are AutoGPT's).

    Write-back keeps here the summary and score of the verdict it last handled for the
    run: written into AutoGPT's ``stats``, or not, when ``kept_theirs`` says AutoGPT held
    a summary or score of its own. A run is due again when its verdict differs.
    """

    __tablename__ = "autogpt_runs"

    execution_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    written_summary: Mapped[str | None] = mapped_column(Text)
    written_score: Mapped[float | None] = mapped_column(Float)
    kept_theirs: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
