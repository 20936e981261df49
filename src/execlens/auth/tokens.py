"""Verify bearer JWTs: HS256 with the shared secret, or public-key tokens with the JWKS."""

from typing import Any

import jwt

from execlens.auth.errors import AuthenticationError
from execlens.auth.jwks import ASYMMETRIC_ALGORITHMS, KeySet, build_key_set
from execlens.auth.service import Principal
from execlens.config import Settings
from execlens.jwt_secret import resolve_jwt_secret

HMAC_ALGORITHM = "HS256"
# Clocks of the identity provider and this server may disagree a little.
LEEWAY_SECONDS = 30

_CLAIM_ERRORS: list[tuple[type[jwt.InvalidTokenError], str]] = [
    (jwt.ExpiredSignatureError, "token has expired; sign in again"),
    (jwt.ImmatureSignatureError, "token is not valid yet (nbf or iat is in the future)"),
    (jwt.InvalidAudienceError, "token audience (aud) is not accepted by this server"),
    (jwt.InvalidIssuerError, "token issuer (iss) is not accepted by this server"),
]


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class TokenVerifier:
    """Turn a bearer token into a Principal, or raise AuthenticationError."""

    def __init__(self, settings: Settings, *, secret: str | None, key_set: KeySet | None) -> None:
        self.settings = settings
        self.secret = secret
        self.key_set = key_set

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenVerifier":
        """Build the verifier: the HS256 secret (configured or local) and any JWKS."""
        secret = resolve_jwt_secret(settings, create=True)
        return cls(settings, secret=secret, key_set=build_key_set(settings))

    async def verify(self, token: str) -> Principal:
        """Return the principal of a valid token."""
        key, algorithm = await self._key(token)
        settings = self.settings
        required = ["exp", "sub"]
        if settings.jwt_issuer is not None:
            required.append("iss")
        try:
            # `algorithms` holds exactly the key's own algorithm: the header never picks it.
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                options={"require": required, "verify_aud": settings.jwt_audience is not None},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"token lacks the required {exc.claim!r} claim") from None
        except jwt.InvalidTokenError as exc:
            for error, message in _CLAIM_ERRORS:
                if isinstance(exc, error):
                    raise AuthenticationError(message) from None
            raise AuthenticationError("token is not valid") from None
        if "purpose" in claims:
            # A sign-in link's token (auth.links) opens the dashboard once, nothing else.
            raise AuthenticationError("token is a sign-in link; open it in a browser instead")
        role = _claim(claims, settings.jwt_role_claim)
        roles = role if isinstance(role, list) else [role]
        return Principal(
            subject=str(claims["sub"]),
            method="jwt",
            is_admin=settings.jwt_admin_role in roles,
        )

    async def _key(self, token: str) -> tuple[Any, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthenticationError("token is not a valid JWT") from None
        # The header only says which key set to look in; the algorithm that verifies the
        # signature is always the one bound to the key found there.
        claimed = header.get("alg")
        if claimed == HMAC_ALGORITHM:
            if self.secret is None:
                raise AuthenticationError("HS256 tokens are not accepted by this server")
            return self.secret, HMAC_ALGORITHM
        if claimed not in ASYMMETRIC_ALGORITHMS:
            raise AuthenticationError(f"token algorithm {str(claimed)[:20]!r} is not accepted")
        if self.key_set is None:
            raise AuthenticationError("this server verifies HS256 tokens only (no JWKS configured)")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthenticationError("token key id (kid) must be a string")
        key = await self.key_set.key_for(kid)
        return key, key.algorithm_name
