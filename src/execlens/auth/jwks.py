"""Public keys of an identity provider (JWKS): inline, from a file, or fetched from a URL."""

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import jwt
from jwt import PyJWK

from execlens.auth.errors import AuthenticationError, KeysUnavailableError
from execlens.config import Settings
from execlens.errors import UserError

log = logging.getLogger("execlens.auth")

# Only public-key algorithms: a JWKS never supplies the HS256 secret, so a token cannot be
# verified with a public key used as an HMAC secret (algorithm confusion).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# An unknown kid refetches the set at most this often, so random kids cannot flood the IdP.
REFRESH_COOLDOWN_SECONDS = 30.0
# After a failed refetch the old keys are kept and the fetch retried this much later.
RETRY_AFTER_FAILURE_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 5.0


def parse_jwks(data: Any) -> dict[str | None, PyJWK]:
    """Return the usable signing keys of a JWKS by kid; raise ValueError when there are none."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError('a JWKS must be a JSON object {"keys": [...]}')
    keys: dict[str | None, PyJWK] = {}
    for entry in data["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            # The algorithm comes from the key (its alg, else its kty and curve) and stays
            # bound to it: PyJWT refuses a token whose header names another algorithm.
            key = PyJWK(entry)
        except jwt.PyJWTError as exc:
            log.warning("skipping JWKS key %r: %s", entry.get("kid"), exc)
            continue
        if key.algorithm_name not in ASYMMETRIC_ALGORITHMS:
            log.warning("skipping JWKS key %r: %s is not allowed", key.key_id, key.algorithm_name)
            continue
        keys[key.key_id] = key
    if not keys:
        raise ValueError("the JWKS has no usable signing keys (RS*, PS*, ES* or EdDSA)")
    return keys


def _match(keys: dict[str | None, PyJWK], kid: str | None) -> PyJWK | None:
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    return keys.get(kid)


def _unknown_kid(kid: str | None) -> AuthenticationError:
    if kid is None:
        return AuthenticationError("token has no key id (kid) and the JWKS has several keys")
    return AuthenticationError("token's key id (kid) is not in the identity provider's JWKS")


class KeySet(Protocol):
    async def key_for(self, kid: str | None) -> PyJWK:
        """Return the key a token's ``kid`` names, or raise AuthenticationError."""
        ...


class StaticKeySet:
    """Keys given in the settings, inline or as a file; read once."""

    def __init__(self, keys: dict[str | None, PyJWK]) -> None:
        self._keys = keys

    async def key_for(self, kid: str | None) -> PyJWK:
        """Return the key a token's ``kid`` names, or raise AuthenticationError."""
        key = _match(self._keys, kid)
        if key is None:
            raise _unknown_kid(kid)
        return key


class RemoteKeySet:
    """Keys fetched from a JWKS URL in a worker thread, cached, refreshed when they age."""

    def __init__(
        self, url: str, *, max_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = url
        self._max_age = max_age
        # Seconds on a monotonic clock; tests pass one they move by hand.
        self._clock = clock
        # PyJWKClient does the HTTP fetch: http(s) only, no redirects, a timeout.
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=FETCH_TIMEOUT_SECONDS)
        self._lock = threading.Lock()
        self._keys: dict[str | None, PyJWK] | None = None
        self._fetched_at = 0.0

    async def key_for(self, kid: str | None) -> PyJWK:
        """Return the key a token's ``kid`` names, fetching the set off the event loop."""
        keys = self._keys
        if keys is not None and self._clock() - self._fetched_at < self._max_age:
            key = _match(keys, kid)
            if key is not None:
                return key
        return await asyncio.to_thread(self._key_for, kid)

    def _key_for(self, kid: str | None) -> PyJWK:
        # One lock: concurrent requests with the same unknown kid cause one refetch, not many.
        with self._lock:
            if self._keys is None or self._clock() - self._fetched_at >= self._max_age:
                self._load()
            assert self._keys is not None
            key = _match(self._keys, kid)
            if key is None and self._clock() - self._fetched_at >= REFRESH_COOLDOWN_SECONDS:
                self._load()
                key = _match(self._keys, kid)
        if key is None:
            raise _unknown_kid(kid)
        return key

    def _load(self) -> None:
        try:
            keys = parse_jwks(self._client.fetch_data())
        except (jwt.PyJWTError, ValueError) as exc:
            if self._keys is None:
                log.error("could not fetch the JWKS from %s: %s", self.url, exc)
                raise KeysUnavailableError(
                    "could not fetch the identity provider's keys (EXECLENS_JWT_JWKS_URL); "
                    "try again shortly"
                ) from None
            # Keep accepting tokens signed with the keys we have; an IdP blip must not
            # lock every admin out.
            log.warning("could not refresh the JWKS from %s, keeping old keys: %s", self.url, exc)
            self._fetched_at = self._clock() - self._max_age + RETRY_AFTER_FAILURE_SECONDS
            return
        self._keys = keys
        self._fetched_at = self._clock()


def build_key_set(settings: Settings) -> KeySet | None:
    """Return the configured JWKS, or None; a bad inline or file JWKS is a UserError."""
    if settings.jwt_jwks_url:
        return RemoteKeySet(settings.jwt_jwks_url, max_age=settings.jwt_jwks_cache_seconds)
    if settings.jwt_jwks:
        return StaticKeySet(_parse_setting("EXECLENS_JWT_JWKS", settings.jwt_jwks))
    if settings.jwt_jwks_file:
        path: Path = settings.jwt_jwks_file
        try:
            text = path.read_text()
        except OSError as exc:
            raise UserError(f"EXECLENS_JWT_JWKS_FILE: cannot read {path}: {exc.strerror}") from None
        return StaticKeySet(_parse_setting("EXECLENS_JWT_JWKS_FILE", text))
    return None


def _parse_setting(name: str, text: str) -> dict[str | None, PyJWK]:
    try:
        return parse_jwks(json.loads(text))
    except json.JSONDecodeError as exc:
        raise UserError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:
        raise UserError(f"{name}: {exc}") from None
