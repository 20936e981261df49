"""A fake identity provider: RSA and EC signing keys, and a JWKS served on 127.0.0.1."""

import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.local_server import ThreadedServer


@dataclass
class SigningKey:
    """A private key, its kid and algorithm, and its public JWK."""

    kid: str
    algorithm: str
    private: Any

    @classmethod
    def rsa(cls, kid: str = "rsa-1") -> "SigningKey":
        return cls(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str = "ec-1") -> "SigningKey":
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    @property
    def jwk(self) -> dict[str, Any]:
        codec = RSAAlgorithm if self.algorithm.startswith("RS") else ECAlgorithm
        jwk = codec.to_jwk(self.private.public_key(), as_dict=True)
        return jwk | {"kid": self.kid, "use": "sig"}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid} | header
        )


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk for key in keys]}


def claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid admin token, valid for an hour."""
    now = int(time.time())
    return {"sub": "user-1", "role": "admin", "iat": now, "exp": now + 3600} | overrides


class JwksServer:
    """Serve ``self.document`` at /jwks.json, or fail with ``self.status``; count requests."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.hits = 0
        self._server = ThreadedServer(Starlette(routes=[Route("/jwks.json", self._jwks)]))
        self.url = f"http://127.0.0.1:{self._server.port}/jwks.json"

    def start(self) -> "JwksServer":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _jwks(self, _: Request) -> JSONResponse:
        self.hits += 1
        if self.status != 200:
            return JSONResponse({"error": "unavailable"}, status_code=self.status)
        return JSONResponse(self.document)
