"""A real HTTP server on 127.0.0.1 that records every POST; some paths fail on purpose."""

import asyncio
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.local_server import ThreadedServer


@dataclass
class Received:
    path: str
    body: dict


class WebhookReceiver:
    """POST /<name> answers 204; /broken answers 500; /slow answers after 3 s."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        app = Starlette(routes=[Route("/{name}", self._receive, methods=["POST"])])
        self._server = ThreadedServer(app)
        self.port = self._server.port

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def bodies(self, name: str) -> list[dict]:
        return [r.body for r in self.received if r.path == f"/{name}"]

    def start(self) -> "WebhookReceiver":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _receive(self, request: Request) -> JSONResponse:
        self.received.append(Received(request.url.path, await request.json()))
        name = request.path_params["name"]
        if name == "broken":
            return JSONResponse({"error": "down"}, status_code=500)
        if name == "slow":
            await asyncio.sleep(3)
        return JSONResponse({}, status_code=200)
