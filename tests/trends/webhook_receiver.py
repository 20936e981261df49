"""A real HTTP server on 127.0.0.1 that records every POST; some paths fail on purpose."""

import asyncio
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Received:
    path: str
    body: dict


class WebhookReceiver:
    """POST /<name> answers 204; /broken answers 500; /slow answers after 3 s."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/{name}", self._receive, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def bodies(self, name: str) -> list[dict]:
        return [r.body for r in self.received if r.path == f"/{name}"]

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    async def _receive(self, request: Request) -> JSONResponse:
        self.received.append(Received(request.url.path, await request.json()))
        name = request.path_params["name"]
        if name == "broken":
            return JSONResponse({"error": "down"}, status_code=500)
        if name == "slow":
            await asyncio.sleep(3)
        return JSONResponse({}, status_code=200)
