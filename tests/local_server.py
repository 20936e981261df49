"""Run an ASGI app on 127.0.0.1 in a thread, for tests that need a real HTTP server."""

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
import uvicorn


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawned_children(pid: int) -> list[int]:
    """Return the processes ``pid`` started by multiprocessing's spawn (not its tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(child) for child in path.read_text().split()] if path.exists() else []
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


class ThreadedServer:
    """Uvicorn serving ``app`` from a daemon thread."""

    def __init__(self, app, *, port: int | None = None, lifespan: str = "auto") -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, seconds: float = 10) -> None:
        """Start serving; return once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + seconds
        while not self._server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.02)

    def stop(self, seconds: float = 5) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=seconds)


@contextmanager
def serve_process(env: dict[str, str], *args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run `execlens serve [args]` as a real process on a free port; yield (base_url, process)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "execlens", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{base}/healthz").status_code == 200:
                break
        except httpx2.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"server did not start: {process.communicate()[0]}")
    try:
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
