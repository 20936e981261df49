"""Tokens of a production identity provider: RS256/ES256 keys from a JWKS, Supabase claims."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from execlens.app import create_app
from execlens.auth import jwks as jwks_module
from execlens.auth.jwks import RemoteKeySet, parse_jwks
from execlens.config import Settings
from execlens.errors import UserError
from tests.auth.idp import JwksServer, SigningKey, claims, jwks
from tests.conftest import JWT_SECRET


@pytest.fixture
def dialect() -> str:
    """Token checks never touch the database beyond opening it, so SQLite is enough here."""
    return "sqlite"


ISSUER = "https://project-ref.supabase.co/auth/v1"


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.rsa()


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.ec()


@pytest.fixture
def idp(rsa_key: SigningKey, ec_key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer(jwks(rsa_key, ec_key)).start()
    yield server
    server.stop()


@pytest.fixture
def connect(settings: Settings, database):
    """Return a function that opens a client on an app built with extra settings."""

    def open_client(**updates: Any) -> httpx2.AsyncClient:
        app = create_app(settings.model_copy(update=updates), database=database, migrate=False)
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t")

    return open_client


async def _status(client: httpx2.AsyncClient, token: str) -> int:
    response = await client.get("/api/executions", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


@pytest.fixture
async def idp_client(connect, idp: JwksServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with connect(jwt_jwks_url=idp.url, jwt_audience="authenticated", jwt_issuer=ISSUER) as c:
        yield c


def _valid(**overrides: Any) -> dict[str, Any]:
    return claims(**({"aud": "authenticated", "iss": ISSUER} | overrides))


async def test_rs256_and_es256_tokens_from_a_jwks_url_are_accepted(
    idp_client, idp, rsa_key, ec_key
):
    assert await _status(idp_client, rsa_key.sign(_valid())) == 200
    assert await _status(idp_client, ec_key.sign(_valid())) == 200
    non_admin = ec_key.sign(_valid(role="authenticated"))
    assert await _status(idp_client, non_admin) == 403
    assert idp.hits == 1  # fetched once, then served from the cache


async def test_jwks_given_inline_or_as_a_file(connect, tmp_path, rsa_key, ec_key):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(rsa_key)))
    async with connect(jwt_jwks=json.dumps(jwks(ec_key))) as inline:
        assert await _status(inline, ec_key.sign(claims())) == 200
        assert await _status(inline, rsa_key.sign(claims())) == 401
    async with connect(jwt_jwks_file=path) as from_file:
        assert await _status(from_file, rsa_key.sign(claims())) == 200
        # One key in the set: a token without a kid is checked against it.
        no_kid = jwt.encode(claims(), rsa_key.private, algorithm="RS256")
        assert await _status(from_file, no_kid) == 200


def _forged_tokens(rsa_key: SigningKey, ec_key: SigningKey) -> dict[str, str]:
    public_pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT refuses to HMAC-sign with a PEM key, so build the confused token by hand.
    hs_with_public_key = jwt.api_jws.PyJWS(algorithms=["HS256"])
    hs_with_public_key._algorithms["HS256"].prepare_key = lambda key: key  # type: ignore[method-assign]
    confused = hs_with_public_key.encode(
        json.dumps(_valid()).encode(), public_pem, algorithm="HS256", headers={"kid": rsa_key.kid}
    )
    other_rsa = SigningKey.rsa(kid=rsa_key.kid)
    return {
        "hs256-signed-with-the-rsa-public-key": confused,
        "alg-none": jwt.encode(_valid(), None, algorithm="none", headers={"kid": rsa_key.kid}),
        "rs256-header-on-the-ec-kid": jwt.encode(
            _valid(), rsa_key.private, algorithm="RS256", headers={"kid": ec_key.kid}
        ),
        "other-key-same-kid": other_rsa.sign(_valid()),
        "wrong-audience": rsa_key.sign(_valid(aud="someone-else")),
        "no-audience": rsa_key.sign(claims(iss=ISSUER)),
        "wrong-issuer": rsa_key.sign(_valid(iss="https://evil.example/auth/v1")),
        "no-issuer": rsa_key.sign(claims(aud="authenticated")),
        "future-nbf": rsa_key.sign(_valid(nbf=_valid()["iat"] + 600)),
        "future-iat": rsa_key.sign(_valid(iat=_valid()["iat"] + 600)),
        "expired": rsa_key.sign(_valid(exp=_valid()["iat"] - 600)),
        "no-exp": rsa_key.sign({k: v for k, v in _valid().items() if k != "exp"}),
        "no-sub": rsa_key.sign({k: v for k, v in _valid().items() if k != "sub"}),
        "unknown-kid": SigningKey.rsa(kid="rotated-away").sign(_valid()),
        "hs256-with-another-secret": jwt.encode(_valid(), "x" * 40, algorithm="HS256"),
    }


async def test_forged_or_invalid_tokens_get_401(idp_client, rsa_key, ec_key):
    for name, token in _forged_tokens(rsa_key, ec_key).items():
        response = await idp_client.get(
            "/api/executions", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, (name, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_messages_say_what_is_wrong(idp_client, rsa_key):
    async def detail(token: str) -> str:
        headers = {"Authorization": f"Bearer {token}"}
        return (await idp_client.get("/api/executions", headers=headers)).json()["detail"]

    assert "expired" in await detail(rsa_key.sign(_valid(exp=_valid()["iat"] - 600)))
    assert "not valid yet" in await detail(rsa_key.sign(_valid(nbf=_valid()["iat"] + 600)))
    assert "audience" in await detail(rsa_key.sign(_valid(aud="x")))
    assert "issuer" in await detail(rsa_key.sign(_valid(iss="x")))
    assert "kid" in await detail(SigningKey.rsa(kid="nope").sign(_valid()))


async def test_supabase_tokens_with_the_role_in_app_metadata(connect, idp, ec_key):
    async with connect(
        jwt_jwks_url=idp.url,
        jwt_audience="authenticated",
        jwt_issuer=ISSUER,
        jwt_role_claim="app_metadata.role",
    ) as client:
        supabase = _valid(role="authenticated", app_metadata={"provider": "email", "role": "admin"})
        assert await _status(client, ec_key.sign(supabase)) == 200
        user = _valid(role="authenticated", app_metadata={"provider": "email"})
        assert await _status(client, ec_key.sign(user)) == 403
        # Legacy Supabase projects sign HS256 with the project secret, with a kid; such
        # tokens are checked against EXECLENS_JWT_SECRET and never cost a JWKS fetch.
        legacy = jwt.encode(supabase, JWT_SECRET, algorithm="HS256", headers={"kid": "legacy"})
        assert await _status(client, legacy) == 200
        assert idp.hits == 1


async def test_a_rotated_key_is_fetched_with_one_refresh(connect, idp, rsa_key, monkeypatch):
    monkeypatch.setattr(jwks_module, "REFRESH_COOLDOWN_SECONDS", 0.0)
    async with connect(jwt_jwks_url=idp.url) as client:
        assert await _status(client, rsa_key.sign(claims())) == 200
        assert idp.hits == 1
        rotated = SigningKey.ec(kid="ec-2")
        idp.document = jwks(rsa_key, rotated)
        assert await _status(client, rotated.sign(claims())) == 200
        assert idp.hits == 2
        assert await _status(client, SigningKey.ec(kid="unknown").sign(claims())) == 401
        assert idp.hits == 3  # exactly one refresh for an unknown kid


async def test_unknown_kids_do_not_flood_the_identity_provider(connect, idp, rsa_key):
    async with connect(jwt_jwks_url=idp.url) as client:
        assert await _status(client, rsa_key.sign(claims())) == 200
        tokens = [SigningKey.ec(kid=f"random-{i}").sign(claims()) for i in range(10)]
        statuses = await asyncio.gather(*(_status(client, token) for token in tokens))
        assert set(statuses) == {401}
        assert idp.hits == 1  # within the refresh cooldown, unknown kids cost no fetch


async def test_an_unreachable_jwks_answers_503_not_500(connect, idp, rsa_key):
    idp.status = 500
    async with connect(jwt_jwks_url=idp.url) as client:
        response = await client.get(
            "/api/executions", headers={"Authorization": f"Bearer {rsa_key.sign(claims())}"}
        )
        assert response.status_code == 503
        assert "identity provider" in response.json()["detail"]
        assert response.headers["retry-after"] == "30"
        idp.status = 200
        assert await _status(client, rsa_key.sign(claims())) == 200


class Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_cached_keys_outlive_a_failed_refresh(idp, rsa_key):
    clock = Clock()
    key_set = RemoteKeySet(idp.url, max_age=300, clock=clock)
    assert (await key_set.key_for(rsa_key.kid)).key_id == rsa_key.kid
    idp.status = 503
    clock.advance(301)
    assert (await key_set.key_for(rsa_key.kid)).key_id == rsa_key.kid
    assert idp.hits == 2


async def test_keys_are_fetched_again_once_they_are_max_age_old(idp, rsa_key):
    clock = Clock()
    key_set = RemoteKeySet(idp.url, max_age=300, clock=clock)
    await key_set.key_for(rsa_key.kid)
    clock.advance(299)
    await key_set.key_for(rsa_key.kid)
    assert idp.hits == 1
    clock.advance(1)
    await key_set.key_for(rsa_key.kid)
    assert idp.hits == 2


async def test_a_failed_refresh_is_retried_after_the_retry_delay(idp, rsa_key):
    clock = Clock()
    key_set = RemoteKeySet(idp.url, max_age=300, clock=clock)
    await key_set.key_for(rsa_key.kid)
    idp.status = 503
    clock.advance(300)
    await key_set.key_for(rsa_key.kid)
    assert idp.hits == 2
    idp.status = 200
    clock.advance(jwks_module.RETRY_AFTER_FAILURE_SECONDS - 1)
    await key_set.key_for(rsa_key.kid)
    assert idp.hits == 2  # the old keys serve until the retry is due
    clock.advance(1)
    assert (await key_set.key_for(rsa_key.kid)).key_id == rsa_key.kid
    assert idp.hits == 3


def test_symmetric_or_encryption_keys_in_a_jwks_are_ignored(rsa_key):
    oct_key = {"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}
    enc_key = rsa_key.jwk | {"kid": "enc", "use": "enc"}
    keys = parse_jwks({"keys": [oct_key, enc_key, rsa_key.jwk]})
    assert list(keys) == [rsa_key.kid]
    with pytest.raises(ValueError, match="no usable signing keys"):
        parse_jwks({"keys": [oct_key]})


def test_bad_jwks_settings_are_reported_by_name(settings, tmp_path):
    with pytest.raises(UserError, match="EXECLENS_JWT_JWKS: not valid JSON"):
        create_app(settings.model_copy(update={"jwt_jwks": "{keys"}), migrate=False)
    with pytest.raises(UserError, match="EXECLENS_JWT_JWKS_FILE: cannot read"):
        create_app(settings.model_copy(update={"jwt_jwks_file": tmp_path / "x"}), migrate=False)
    with pytest.raises(ValueError, match="set only one source"):
        Settings(jwt_jwks="{}", jwt_jwks_url="https://idp.example/jwks.json")
