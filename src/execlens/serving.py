"""`execlens serve --processes N`: N server processes answering on one port.

Each process listens on its own socket bound with SO_REUSEPORT, so the kernel shares the
new connections out between them (a socket shared by all would hand a burst of them to
whichever process woke first). Every process answers requests and finishes OTLP traces;
the first also runs the background work (see ``create_app``). No process answers before
all have started. When one stops, the others are stopped too and the command fails: a
service manager restarts it whole.
"""

import asyncio
import multiprocessing
import signal
import socket
import sys
from collections.abc import Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier
from types import FrameType

import uvicorn
from sqlalchemy.engine import make_url

from execlens.app import create_app
from execlens.config import Settings

# How long the processes wait for each other to start.
START_SECONDS = 120.0
# How long a stopping server waits for its processes before killing them.
STOP_SECONDS = 10.0
PROCESS_NAME = "execlens serve"


def _socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def processes_problem(settings: Settings, host: str, port: int, count: int) -> str | None:
    """Return why ``count`` server processes cannot serve on host:port, or None."""
    if not sys.platform.startswith("linux"):
        # Elsewhere SO_REUSEPORT does not share connections out: one process would get all.
        return f"{count} server processes need Linux; run one process here"
    if make_url(settings.resolved_database_url).get_backend_name() == "sqlite":
        return (
            f"{count} server processes need PostgreSQL (EXECLENS_DATABASE_URL): SQLite "
            "takes one writer at a time; run one process, or move to PostgreSQL"
        )
    return _port_problem(host, port)


def _port_problem(host: str, port: int) -> str | None:
    """Return why nothing can listen on host:port, or None when it is free."""
    try:
        # Without SO_REUSEPORT: a port that another server shares out is taken too.
        _socket(host, port, reuse_port=False).close()
    except OSError as exc:
        return _cannot_listen(host, port, exc)
    return None


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def serve_processes(host: str, port: int, count: int) -> str | None:
    """Serve on host:port from ``count`` processes until interrupted or one stops.

    Return None when interrupted (Ctrl-C, SIGTERM), else which process stopped.
    """
    context = multiprocessing.get_context("spawn")
    started = context.Barrier(count)
    processes = [
        context.Process(
            target=_serve,
            args=(host, port, number == 1, started),
            name=f"{PROCESS_NAME} {number}/{count}",
        )
        for number in range(1, count + 1)
    ]
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for process in processes:
            process.start()
        ended = wait([process.sentinel for process in processes])
        stopped = next(process for process in processes if process.sentinel in ended)
        # Its sentinel closes as it exits, a moment before its exit code is known.
        stopped.join(STOP_SECONDS)
        return f"{stopped.name} stopped (exit code {stopped.exitcode}); stopped the others"
    except KeyboardInterrupt:
        return None
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(processes)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stop(processes: Sequence[BaseProcess]) -> None:
    # Each process finishes the requests it holds (uvicorn's own handling of SIGTERM).
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        if process.pid is not None:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()


def _serve(host: str, port: int, first: bool, started: Barrier) -> None:
    """Serve as one of the processes; the first runs the background work too."""
    try:
        sock = _socket(host, port, reuse_port=True)
    except OSError as exc:  # taken since the command checked it
        sys.exit(_cannot_listen(host, port, exc))

    async def all_started() -> None:
        # Listening starts after this: a process that listened alone would take every
        # connection opened meanwhile, and keep them.
        await asyncio.to_thread(started.wait, START_SECONDS)

    app = create_app(migrate=False, background=first, server=True, before_serving=all_started)
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=[sock])
