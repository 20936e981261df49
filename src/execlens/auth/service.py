"""Principals, local admin tokens, and API keys."""

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.audit.service import audit_service
from execlens.auth import repository
from execlens.auth.errors import AuthenticationError
from execlens.auth.models import ApiKey, ApiKeyScope
from execlens.config import Settings
from execlens.errors import NotFoundError, UserError

API_KEY_PREFIX = "exl_"
LOCAL_ADMIN = "local-admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling, and what they may do."""

    subject: str
    method: Literal["jwt", "api_key"]
    is_admin: bool
    scopes: frozenset[str] = frozenset()
    key_id: str | None = None
    acting_as: str | None = None

    @property
    def rate_key(self) -> str:
        """Return what rate limits count against: the API key's id, else the subject."""
        return f"apikey:{self.key_id}" if self.key_id else f"{self.method}:{self.subject}"

    @property
    def can_ingest(self) -> bool:
        return self.is_admin or ApiKeyScope.INGEST in self.scopes


def actor_of(principal: Principal) -> str:
    """Name an API caller for the audit log: the API key's id, else the token's subject."""
    if principal.key_id:
        return f"api_key:{principal.key_id}"
    return f"{principal.method}:{principal.subject}"


def issue_token(
    secret: str,
    *,
    subject: str = LOCAL_ADMIN,
    role: str | None = "admin",
    role_claim: str = "role",
    audience: str | None = None,
    ttl: timedelta = timedelta(days=1),
    extra: dict[str, Any] | None = None,
) -> str:
    """Return a signed HS256 token for ``subject``, with ``extra`` claims."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + ttl, **(extra or {})}
    if role is not None:
        # A dotted claim path ("app_metadata.role") becomes nested objects.
        *parents, leaf = role_claim.split(".")
        target = claims
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = role
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def local_admin_token(
    settings: Settings, secret: str, ttl: timedelta, extra: dict[str, Any] | None = None
) -> str:
    """Return a token for the local admin, shaped as the configured claims expect."""
    return issue_token(
        secret,
        subject=LOCAL_ADMIN,
        role=settings.jwt_admin_role,
        role_claim=settings.jwt_role_claim,
        audience=settings.jwt_audience,
        ttl=ttl,
        extra=extra,
    )


def hash_api_key(key: str) -> str:
    """Return the stored form of an API key. Keys are random, so a fast hash is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyService:
    """Create, list, revoke and verify API keys."""

    async def create(
        self, session: AsyncSession, *, name: str, scope: ApiKeyScope, actor: str
    ) -> tuple[ApiKey, str]:
        """Store a new key and return it with its plaintext, which is never stored."""
        plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=str(uuid.uuid4()),
            name=name,
            scope=scope,
            key_hash=hash_api_key(plaintext),
            key_prefix=plaintext[: len(API_KEY_PREFIX) + 6],
            created_at=datetime.now(UTC),
        )
        session.add(key)
        audit_service.record(
            session,
            actor=actor,
            action="api_key.created",
            target_type="api_key",
            target_id=key.id,
            details={"name": name, "scope": scope.value},
        )
        await session.flush()
        return key, plaintext

    async def list(self, session: AsyncSession) -> Sequence[ApiKey]:
        """Return every key, newest first."""
        return await repository.list_api_keys(session)

    async def revoke(self, session: AsyncSession, key_id: str, *, actor: str) -> ApiKey:
        """Revoke the key whose id is or starts with ``key_id``; it no longer authenticates."""
        matches = await repository.find_api_keys(session, key_id) if key_id else []
        if not matches:
            raise NotFoundError(f"API key {key_id!r} does not exist; see `execlens apikey list`")
        if len(matches) > 1:
            raise UserError(f"API key id {key_id!r} is ambiguous; give more of it")
        (key,) = matches
        if key.revoked_at is None:
            key.revoked_at = datetime.now(UTC)
            audit_service.record(
                session,
                actor=actor,
                action="api_key.revoked",
                target_type="api_key",
                target_id=key.id,
                details={"name": key.name},
            )
        return key

    async def verify(self, session: AsyncSession, plaintext: str) -> Principal:
        """Return the principal of a valid, unrevoked key, or raise AuthenticationError."""
        key = await repository.get_api_key_by_hash(session, hash_api_key(plaintext))
        if key is None or key.revoked_at is not None:
            raise AuthenticationError("API key is not valid")
        return Principal(
            subject=f"apikey:{key.name}",
            method="api_key",
            is_admin=key.scope == ApiKeyScope.ADMIN,
            scopes=frozenset({key.scope.value}),
            key_id=key.id,
        )


api_key_service = ApiKeyService()
