"""Storage models for API keys (only a hash of each is stored) and used sign-in links."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from execlens.db.base import Base, UTCDateTime


class ApiKeyScope(StrEnum):
    INGEST = "ingest"
    ADMIN = "admin"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[ApiKeyScope] = mapped_column(
        Enum(
            ApiKeyScope,
            name="api_key_scope",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsedSignInLink(Base):
    """A one-click sign-in link that was opened; a link works once."""

    __tablename__ = "used_sign_in_links"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Kept until then: an expired link is refused by its own expiry.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
