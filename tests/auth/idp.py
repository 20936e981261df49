"""A fake identity provider: RSA and EC signing keys, and a JWKS served on 127.0.0.1."""

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


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
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/jwks.json"
        app = Starlette(routes=[Route("/jwks.json", self._jwks)])
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> "JwksServer":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    async def _jwks(self, _: Request) -> JSONResponse:
        self.hits += 1
        if self.status != 200:
            return JSONResponse({"error": "unavailable"}, status_code=self.status)
        return JSONResponse(self.document)
