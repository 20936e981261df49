"""Measure OTLP spans per second ingested and assembled into executions, with peak memory.

Usage: .venv/bin/python bench/otlp.py [--dialects sqlite postgresql] [--spans 100000]
       [--exporters 8] [--batch 512] [--serve-processes 1] [--baseline-src DIR] [--repeat 1]

Starts `execlens serve` in its own process and sends it OTLP/HTTP protobuf requests of
``--batch`` spans (the SDK's BatchSpanProcessor default) from ``--exporters`` concurrent
exporters. Each span carries GenAI attributes (operation, model or tool, input and output
messages of about 200 characters). The same number of spans is sent twice: as few long
traces (200 spans each) and as many short ones (10 spans each). Every trace's root span
is sent last, so all traces of a run are in flight (their runs RUNNING, not finished) until the
end. The clock stops when the last trace is assembled into an execution; the grace period
is 0 s, since waiting is not work; one empty export before the clock starts warms the
server up (FastAPI builds its routes on the first request). Prints spans/s ingested
(until the last request was answered) and ingested plus assembled, against the goal, and
the peak memory (VmHWM) of the server and its assembly processes, summed, with its ratio
between the two shapes: flat means close to 1. Also the CPU time per span of the server
with its assembly processes, and of the PostgreSQL backends of the bench database, split
at the last answered request into ingest (before; nothing is ready to assemble until the
roots arrive, last) and assembly (after): on a machine shared with other work the rates swing with
the load, the CPU per span much less. ``--assembly-processes`` sets the server's
EXECLENS_OTLP_ASSEMBLY_PROCESSES; ``--serve-processes`` its EXECLENS_SERVE_PROCESSES
(PostgreSQL only: SQLite runs one).

With ``--baseline-src`` (the ``src`` directory of another checkout, such as a worktree of
the previous commit), each run is measured twice, side by side: first by a server running
that code, then by this one; the table adds the baseline's rate and the ratio. With
``--repeat N`` each version runs N times, interleaved, and the table shows each one's
fastest run with its least CPU per span: the figures least slowed by others' load.
"""

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from execlens.auth.models import ApiKeyScope
from execlens.auth.service import api_key_service
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.otlp.models import OtlpTrace, TraceState

POSTGRES_URL = os.environ.get(
    "EXECLENS_BENCH_POSTGRES_URL",
    "postgresql+asyncpg://execlens:execlens@127.0.0.1:5432/execlens_bench",
)
SECRET = "bench-secret-0123456789-abcdefghijklmnop"
GOAL = 20_000  # spans per second, ingested and assembled
SHAPES = {"few long traces": 200, "many short traces": 10}
MESSAGE = '[{"role": "user", "parts": [{"type": "text", "content": "%s"}]}]' % ("x" * 150)


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span(trace: bytes, n: int, root_id: bytes, start: int) -> Span:
    span_id = random.randbytes(8) if n else root_id
    if n == 0:
        attrs = [_kv("gen_ai.operation.name", "invoke_agent"), _kv("gen_ai.agent.name", "bench")]
    elif n % 2:
        attrs = [_kv("gen_ai.operation.name", "chat"), _kv("gen_ai.request.model", "gpt-4.1-mini")]
    else:
        attrs = [_kv("gen_ai.operation.name", "execute_tool"), _kv("gen_ai.tool.name", "search")]
    attrs += [_kv("gen_ai.input.messages", MESSAGE), _kv("gen_ai.output.messages", MESSAGE)]
    return Span(
        trace_id=trace,
        span_id=span_id,
        parent_span_id=b"" if n == 0 else root_id,
        name=attrs[0].value.string_value,
        start_time_unix_nano=start + n * 1_000_000,
        end_time_unix_nano=start + n * 1_000_000 + 500_000,
        attributes=attrs,
    )


def bodies(total: int, per_trace: int, batch: int) -> tuple[list[bytes], int]:
    """Return protobuf request bodies holding ``total`` spans, roots last; and the traces."""
    traces = total // per_trace
    start = time.time_ns()
    ids = [(random.randbytes(16), random.randbytes(8)) for _ in range(traces)]
    children = [_span(trace, n, root, start) for n in range(1, per_trace) for trace, root in ids]
    roots = [_span(trace, 0, root, start) for trace, root in ids]
    spans = children + roots
    out = []
    for offset in range(0, len(spans), batch):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(_kv("service.name", "bench-agent"))
        resource_spans.scope_spans.add().spans.extend(spans[offset : offset + batch])
        out.append(request.SerializeToString())
    return out, traces


async def empty(url: str, settings: Settings) -> None:
    """Empty the PostgreSQL database; the server under test applies its own migrations."""
    database = Database(url, settings=settings)
    try:
        if database.dialect == "postgresql":
            async with database.write() as session:
                await session.execute(text("DROP SCHEMA public CASCADE"))
                await session.execute(text("CREATE SCHEMA public"))
    finally:
        await database.dispose()


async def create_key(url: str, settings: Settings) -> str:
    """Return a new ingest API key, once the server has migrated the database."""
    database = Database(url, settings=settings)
    try:
        async with database.write() as session:
            _, key = await api_key_service.create(
                session, name="bench", scope=ApiKeyScope.INGEST, actor="bench"
            )
        return key
    finally:
        await database.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    url: str, data_dir: Path, port: int, source: str | None, run: dict[str, Any]
) -> subprocess.Popen[bytes]:
    """Run `execlens serve` (from ``source`` when given) in its own process; return once up."""
    env = (
        os.environ
        | ({"PYTHONPATH": source} if source else {})
        | {
            "EXECLENS_DATABASE_URL": url,
            "EXECLENS_DATA_DIR": str(data_dir),
            "EXECLENS_JWT_SECRET": SECRET,
            "EXECLENS_SERVE_WORKER": "false",
            "EXECLENS_LOCAL_MODEL_ENABLED": "false",
            "EXECLENS_RATE_LIMIT_PER_MINUTE": "0",
            "EXECLENS_OTLP_GRACE_SECONDS": "0",
            "EXECLENS_OTLP_ASSEMBLY_POLL_SECONDS": "0.1",
            # A baseline from before this setting ignores it, and assembles in the server.
            "EXECLENS_OTLP_ASSEMBLY_PROCESSES": str(run["processes"]),
            # Likewise: a baseline from before this setting runs one process.
            "EXECLENS_SERVE_PROCESSES": str(run["serve_processes"]),
        }
    )
    command = [sys.executable, "-m", "execlens", "serve", "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return healthy(process, port, "execlens serve")


def healthy(process: subprocess.Popen[bytes], port: int, name: str) -> subprocess.Popen[bytes]:
    """Return ``process`` once it answers /healthz on ``port``; kill it after 60 s without."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with suppress(httpx2.TransportError):
            if httpx2.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{name} did not start")


def _children(pid: int) -> list[int]:
    """Return the processes ``pid`` started, and theirs, and so on."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(child) for child in path.read_text().split()] if path.exists() else []
    return found + [grandchild for child in found for grandchild in _children(child)]


def peak_mib(pid: int) -> float:
    """Return the peak resident memory (VmHWM) in MiB of a process and its children, summed."""
    total = 0.0
    for process in [pid, *_children(pid)]:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


async def send(port: int, key: str, payloads: list[bytes], exporters: int) -> None:
    """Post every body from ``exporters`` concurrent senders; fail on any refusal."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in payloads:
        queue.put_nowait(body)
    headers = {"Content-Type": "application/x-protobuf", "X-API-Key": key}

    async def exporter() -> None:
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            while not queue.empty():
                body = queue.get_nowait()
                response = await client.post("/v1/traces", content=body, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"export refused: {response.status_code} {response.text}")

    await asyncio.gather(*(exporter() for _ in range(exporters)))


async def warm_up(port: int, key: str) -> None:
    """Send one empty export: FastAPI builds its routes on the first request, not ingest."""
    headers = {"Content-Type": "application/x-protobuf", "X-API-Key": key}
    body = ExportTraceServiceRequest().SerializeToString()
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        response = await client.post("/v1/traces", content=body, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"export refused: {response.status_code} {response.text}")


async def assembled(database: Database) -> int:
    async with database.read() as session:
        stmt = select(func.count()).where(OtlpTrace.state == TraceState.ASSEMBLED.value)
        return await session.scalar(stmt.select_from(OtlpTrace)) or 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(server: int, database: str | None) -> tuple[float, float]:
    """Return the CPU seconds used so far by the server and its processes, and by PostgreSQL.

    PostgreSQL's are those of the backends connected to ``database`` (None: SQLite).
    """
    own = sum(_cpu_seconds(pid) for pid in [server, *_children(server)])
    backends = 0.0
    for entry in Path("/proc").iterdir() if database else ():
        with suppress(OSError):
            if f" {database} ".encode() in (entry / "cmdline").read_bytes():
                backends += _cpu_seconds(int(entry.name))
    return own, backends


async def measure(
    url: str, settings: Settings, port: int, key: str, run: dict[str, Any]
) -> dict[str, Any]:
    database = Database(url, settings=settings)
    name = make_url(url).database if database.dialect == "postgresql" else None
    try:
        await warm_up(port, key)
        cpu = cpu_seconds(run["server"], name)
        started = time.perf_counter()
        await send(port, key, run["bodies"], run["exporters"])
        ingested = time.perf_counter() - started
        # Every root comes last: until then nothing is ready to assemble.
        middle = cpu_seconds(run["server"], name)
        while True:
            if await assembled(database) >= run["traces"]:
                break
            await asyncio.sleep(0.05)
        total = time.perf_counter() - started
        after = cpu_seconds(run["server"], name)
        spans = run["traces"] * run["per_trace"]
        return {
            "ingest": ingested,
            "total": total,
            "server_us": ((middle[0] - cpu[0]) / spans * 1e6, (after[0] - middle[0]) / spans * 1e6),
            "postgres_us": (
                (middle[1] - cpu[1]) / spans * 1e6,
                (after[1] - middle[1]) / spans * 1e6,
            ),
        }
    finally:
        await database.dispose()


def bench(dialect: str, root: Path, run: dict[str, Any], source: str | None) -> dict[str, Any]:
    """Measure one run on a fresh database, with a server running ``source`` (or this code)."""
    url = POSTGRES_URL if dialect == "postgresql" else f"sqlite+aiosqlite:///{root / 'bench.db'}"
    settings = Settings(database_url=url, data_dir=root, jwt_secret=SECRET)
    # The server migrates: a baseline checkout may stop at an older schema revision.
    asyncio.run(empty(url, settings))
    port = free_port()
    server = start_server(url, root, port, source, run)
    try:
        key = asyncio.run(create_key(url, settings))
        result = asyncio.run(measure(url, settings, port, key, run | {"server": server.pid}))
        result["peak_mib"] = peak_mib(server.pid)
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialects", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--exporters", type=int, default=8)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument(
        "--assembly-processes",
        type=int,
        default=0,
        help="EXECLENS_OTLP_ASSEMBLY_PROCESSES of the server (0, its default: in the server)",
    )
    parser.add_argument(
        "--serve-processes",
        type=int,
        default=1,
        help="EXECLENS_SERVE_PROCESSES of the server (PostgreSQL only above 1)",
    )
    parser.add_argument(
        "--baseline-src",
        "--before",
        dest="baseline_src",
        help="measure this src directory too, side by side",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per version; the best counts")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"{args.spans:,} spans per run, {args.batch} per request, {args.exporters} concurrent "
        f"exporters, {args.serve_processes} server processes (PostgreSQL), "
        f"{args.assembly_processes} assembly processes; goal: at least {GOAL:,} spans/s "
        "ingested and assembled, memory flat\n"
    )
    versions = ([args.baseline_src] if args.baseline_src else []) + [None]
    compare = "| baseline spans/s (peak; CPU µs/span) | ÷ baseline " if args.baseline_src else ""
    print(
        "| database | shape | traces in flight | ingested spans/s | ingested + assembled "
        f"spans/s | ÷ goal {compare}| CPU µs/span, ingest + assembly: execlens; PostgreSQL "
        "| peak memory | memory ÷ few long |"
    )
    print("|---|---|---:|---:|---:|---:|" + ("---:|---:|" if compare else "") + "---:|---:|---:|")
    for dialect in args.dialects:
        first_peak = None
        for shape, per_trace in SHAPES.items():
            payloads, traces = bodies(args.spans, per_trace, args.batch)
            run = {
                "bodies": payloads,
                "traces": traces,
                "exporters": args.exporters,
                "processes": args.assembly_processes,
                "serve_processes": args.serve_processes if dialect == "postgresql" else 1,
                "per_trace": per_trace,
            }
            measured: list[list[dict[str, Any]]] = [[] for _ in versions]
            for _ in range(args.repeat):
                for runs, source in zip(measured, versions, strict=True):
                    with tempfile.TemporaryDirectory(prefix="execlens-bench-") as tmp:
                        runs.append(bench(dialect, Path(tmp), run, source))
            results = [best(runs) for runs in measured]
            first_peak = first_peak or results[-1]["peak_mib"]
            print(row(dialect, f"{shape} ({per_trace} spans)", run, results, first_peak))
    print(f"\nload average before and after: {load}, {os.getloadavg()}")


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the fastest of repeated runs, with the least CPU per span of any of them."""
    fastest = dict(min(runs, key=lambda result: result["total"]))
    for key in ("server_us", "postgres_us"):
        fastest[key] = tuple(min(result[key][i] for result in runs) for i in range(2))
    return fastest


def _cpu(result: dict[str, Any]) -> str:
    """Return "ingest + assembly" CPU µs per span of execlens, then of PostgreSQL."""
    own, postgres = result["server_us"], result["postgres_us"]
    return f"{own[0]:.0f} + {own[1]:.0f}; {postgres[0]:.0f} + {postgres[1]:.0f}"


def row(
    dialect: str, shape: str, run: dict[str, Any], results: list[dict[str, Any]], peak: float
) -> str:
    """Return one table row: this code's figures (the last result), the baseline's (first)."""
    spans = run["traces"] * run["per_trace"]
    result = results[-1]
    rate, first = spans / result["total"], spans / results[0]["total"]
    baseline = (
        f"| {first:,.0f} ({results[0]['peak_mib']:.0f} MiB; {_cpu(results[0])}) "
        f"| {rate / first:.2f} "
        if len(results) > 1
        else ""
    )
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[dialect]
    return (
        f"| {name} | {shape} | {run['traces']:,} "
        f"| {spans / result['ingest']:,.0f} | {rate:,.0f} | {rate / GOAL:.2f} {baseline}"
        f"| {_cpu(result)} | {result['peak_mib']:.0f} MiB | {result['peak_mib'] / peak:.2f} |"
    )


if __name__ == "__main__":
    main()
