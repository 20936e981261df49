"""Backfill's "Rate-limited" table: a job against a provider that enforces its rate limit.

Usage: .venv/bin/python bench/backfill.py --rate-limited [--rl-seconds 20] [--latency 0.2]
       [--dialect postgresql] [--rl-workers 2] [--rl-base COMMIT] [--rl-trace]
       (or run this file directly with the same options)

The fake provider runs in its own process and enforces two token buckets, requests and
tokens per minute, like OpenAI: it announces them in `x-ratelimit-*` headers on every
answer and answers a call over either bucket with a real 429 and the wait it needs in
`retry-after-ms`/`retry-after`. Each bucket holds `--rl-burst` seconds of its rate, so
a short run cannot hide behind a full minute's burst.

The limit is the issue's 60,000 tokens and 300 requests a minute scaled by `--rl-scale`
(default 10), so that a 20-second run makes a few hundred calls; the table says so.
Rows, measured side by side in one run:
- execlens with its provider pacing, one worker (in this process, SQLite or PostgreSQL);
- the same job without the provider pacing (only the SDK's retries on 429): the baseline;
- two `execlens worker` processes on one PostgreSQL sharing the job (--dialect postgresql).
`--rl-base COMMIT` measures that commit's `src` (extracted with `git archive`) and then
this tree's, each in a fresh process with the same bench code, and prints one table.
`--rl-trace` prints each run second by second (bench/backfill_trace.py). "steady ÷ limit"
counts from the first call to the last one: without the job's start (a fresh worker
process's first call) and end.
Goals: achieved tokens/min ÷ limit ≥ 0.9, calls answered 429 ≤ 1 %, failed runs 0.
"""

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from backfill import (
    MODEL,
    POSTGRES_URL,
    VERDICT,
    bench_settings,
    load,
    reset,
    run_worker_processes,
    verdict,
)
from sqlalchemy import select

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.jobs.models import AnalyticsJob
from execlens.jobs.pacing import Pacing
from execlens.jobs.run import JobRun
from execlens.jobs.schemas import JobCreate
from execlens.jobs.service import job_service
from execlens.judge.judge import Judge
from execlens.judge.providers import import_sdks

PROMPT_TOKENS, COMPLETION_TOKENS = 900, 40
CALL_TOKENS = PROMPT_TOKENS + COMPLETION_TOKENS
BASE_TPM, BASE_RPM = 60_000, 300
WIDTH = 58


class Buckets:
    """Requests and tokens per minute, each holding ``burst`` seconds of its rate."""

    def __init__(self, rpm: float, tpm: float, burst: float) -> None:
        self.rpm, self.tpm, self.burst = rpm, tpm, burst
        self.requests, self.tokens = rpm * burst / 60, tpm * burst / 60
        self.at = time.monotonic()
        self.stats = {"answered": 0, "refused": 0, "tokens": 0}
        # When each call came (monotonic, the same clock in every process) and if answered.
        self.calls: list[tuple[float, bool]] = []

    def take(self, tokens: int) -> tuple[bool, dict[str, str]]:
        """Spend a call of ``tokens`` or refuse it; return the headers to announce."""
        now = time.monotonic()
        elapsed, self.at = now - self.at, now
        self.requests = min(self.rpm * self.burst / 60, self.requests + elapsed * self.rpm / 60)
        self.tokens = min(self.tpm * self.burst / 60, self.tokens + elapsed * self.tpm / 60)
        allowed = self.requests >= 1 and self.tokens >= tokens
        self.calls.append((now, allowed))
        if allowed:
            self.requests -= 1
            self.tokens -= tokens
            self.stats["answered"] += 1
            self.stats["tokens"] += tokens
        else:
            self.stats["refused"] += 1
        headers = {
            "x-ratelimit-limit-requests": f"{self.rpm:.0f}",
            "x-ratelimit-remaining-requests": f"{max(0, math.floor(self.requests))}",
            "x-ratelimit-reset-requests": f"{60 / self.rpm:.3f}s",
            "x-ratelimit-limit-tokens": f"{self.tpm:.0f}",
            "x-ratelimit-remaining-tokens": f"{max(0, math.floor(self.tokens))}",
            "x-ratelimit-reset-tokens": f"{tokens * 60 / self.tpm:.3f}s",
        }
        if not allowed:
            wait = max((1 - self.requests) * 60 / self.rpm, (tokens - self.tokens) * 60 / self.tpm)
            headers["retry-after-ms"] = str(math.ceil(wait * 1000))
            headers["retry-after"] = str(math.ceil(wait))
        return allowed, headers


def _response(status: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", "content-type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()] + [f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


CHAT = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": VERDICT},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": CALL_TOKENS,
        },
    }
).encode()
REFUSAL = json.dumps({"error": {"message": "Rate limit reached", "type": "tokens"}}).encode()


async def serve_limited(port: int, latency: float, rpm: float, tpm: float, burst: float) -> None:
    """Answer chat completions within the buckets after ``latency``; refuse the rest at once.

    ``GET /stats`` returns the counts; ``POST /reset`` refills the buckets and zeroes them.
    """
    state = {"buckets": Buckets(rpm, tpm, burst)}

    async def answer(head: bytes) -> bytes:
        buckets = state["buckets"]
        if head.startswith(b"GET /stats"):
            stats = buckets.stats | {"calls": buckets.calls}
            return _response("200 OK", json.dumps(stats).encode(), {})
        if head.startswith(b"POST /reset"):
            state["buckets"] = Buckets(rpm, tpm, burst)
            return _response("200 OK", b"{}", {})
        allowed, headers = buckets.take(CALL_TOKENS)
        if not allowed:
            return _response("429 Too Many Requests", REFUSAL, headers)
        await asyncio.sleep(latency)
        return _response("200 OK", CHAT, headers)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(await answer(head))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


class LimitedProvider:
    """The rate-limited fake provider in its own process."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "LimitedProvider":
        a = self.args
        command = [sys.executable, __file__, "--serve", str(self.port), "--latency", str(a.latency)]
        command += ["--rl-scale", str(a.rl_scale), "--rl-burst", str(a.rl_burst)]
        self._process = subprocess.Popen(command)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("the fake provider did not start")

    def __exit__(self, *exc_info) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=10)

    async def call(self, method: str, path: str) -> dict[str, int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        writer.close()
        return json.loads(body)


async def run_one(database: Database, settings: Settings, graph_id: str, pacing: Pacing | None):
    """Judge ``graph_id`` as one job in this process; return (succeeded, failed, seconds)."""
    params = JobCreate(graph_id=graph_id, model_name=MODEL, concurrency=32)
    async with database.write() as session:
        job, _ = await job_service.create(session, settings, params, created_by="bench")
    judge = Judge(settings)
    import_sdks()
    run = JobRun(database, settings, judge, worker_id=f"bench-{graph_id}", job_id=job.id)
    if pacing is not None:
        run.pacing = pacing
    started = time.perf_counter()
    try:
        await run.run()
    finally:
        elapsed = time.perf_counter() - started
        await judge.aclose()
    async with database.read() as session:
        done = await job_service.get(session, job.id)
    return done.succeeded, done.failed, elapsed


def watch(database: Database, graph_id: str) -> tuple[asyncio.Task, list[tuple]]:
    """Start sampling the provider bucket for --rl-trace; return the task and its samples."""
    samples: list[tuple] = []
    # Imported here: it reads models that an older checkout measured by --overhead lacks.
    from backfill_trace import sample_bucket

    return asyncio.create_task(sample_bucket(database, graph_id, samples, CALL_TOKENS)), samples


def sizes(args: argparse.Namespace) -> tuple[float, float, int]:
    """Return the provider's tokens and requests per minute, and the runs per job."""
    tpm, rpm = BASE_TPM * args.rl_scale, BASE_RPM * args.rl_scale
    # Enough runs to keep the job limited for about --rl-seconds.
    return tpm, rpm, int(min(tpm / CALL_TOKENS, rpm) * args.rl_seconds / 60) + 5


async def measure(args: argparse.Namespace, url: str, data_dir: Path) -> list:
    """Run every row against a fresh provider and database; return the rows."""
    _, _, runs = sizes(args)
    workers = args.rl_workers
    rows = []
    with LimitedProvider(args) as provider:
        settings = bench_settings(url, data_dir, provider)
        database = Database(url, settings=settings)
        try:
            await reset(database)
            for name in ("g-paced", "g-unpaced", "g-two"):
                await load(database, name, runs)
            for label, graph_id, pacing in (
                ("execlens, 1 worker", "g-paced", None),
                ("baseline: no provider pacing, 1 worker", "g-unpaced", Pacing()),
            ):
                await provider.call("POST", "/reset")
                sampler, samples = watch(database, graph_id)
                ok, failed, seconds = await run_one(database, settings, graph_id, pacing)
                sampler.cancel()
                stats = await provider.call("GET", "/stats")
                rows.append((label, ok, failed, seconds, stats))
                if args.rl_trace:
                    from backfill_trace import trace

                    await trace(database, graph_id, stats, samples)
            if database.dialect == "postgresql":
                await provider.call("POST", "/reset")
                sampler, samples = watch(database, "g-two")
                ok, seconds = await run_worker_processes(database, settings, "g-two", 32, workers)
                sampler.cancel()
                stmt = select(AnalyticsJob.failed).where(AnalyticsJob.graph_id == "g-two")
                async with database.read() as session:
                    failed = sum((await session.execute(stmt)).scalars())
                stats = await provider.call("GET", "/stats")
                rows.append((f"execlens, {workers} worker processes", ok, failed, seconds, stats))
                if args.rl_trace:
                    from backfill_trace import trace

                    await trace(database, "g-two", stats, samples)
        finally:
            await database.dispose()
    for row in rows:
        row[-1]["steady"] = steady(row[-1].pop("calls"))
    return rows


def steady(calls: list[tuple[float, bool]]) -> float:
    """Return the tokens per second answered from the first call to the last one."""
    answered = sorted(at for at, ok in calls if ok)
    if len(answered) < 2:
        return math.nan
    return (len(answered) - 1) * CALL_TOKENS / (answered[-1] - answered[0])


def side_by_side(args: argparse.Namespace, tmp: str) -> list:
    """Measure the base commit's src and this tree's, one after the other, same code."""
    base = Path(tmp) / "base"
    base.mkdir()
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", args.rl_base, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
    rows = []
    for tree, path in ((f"base {args.rl_base}", str(base / "src")), ("this tree", None)):
        env = os.environ | ({"PYTHONPATH": path} if path else {})
        command = [sys.executable, __file__, "--rl-json", "--dialect", args.dialect]
        command += ["--latency", str(args.latency), "--rl-seconds", str(args.rl_seconds)]
        command += ["--rl-scale", str(args.rl_scale), "--rl-burst", str(args.rl_burst)]
        command += ["--rl-workers", str(args.rl_workers)]
        command += ["--rl-trace"] if args.rl_trace else []
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        *lines, last = out.strip().splitlines()
        if lines:
            print(f"{tree}:", *lines, sep="\n")
        rows += [(f"{tree}: {label}", *rest) for label, *rest in json.loads(last)]
    return rows


def report(args: argparse.Namespace, rows: list) -> None:
    """Print the table of ``rows``."""
    tpm, rpm, runs = sizes(args)
    print(
        f"\nRate-limited on {args.dialect}: provider allows {tpm:,.0f} tokens and {rpm:,.0f} "
        f"requests/min (the issue's 60,000 and 300 x {args.rl_scale:g}, to keep the run "
        f"short), bucket burst {args.rl_burst:g} s, latency {args.latency * 1000:.0f} ms, "
        f"{CALL_TOKENS} tokens/call, {runs} runs, concurrency 32"
    )
    header = f"{'run':<{WIDTH}}{'judged':>7}{'failed':>7}{'seconds':>8}"
    print(f"{header}{'tok/min ÷ limit':>16}{'steady ÷ limit':>15}{'429 share':>10}")
    for label, ok, failed, seconds, stats in rows:
        ratio = stats["tokens"] / (seconds / 60) / tpm
        calls = stats["answered"] + stats["refused"]
        share = stats["refused"] / calls if calls else 0.0
        print(
            f"{label:<{WIDTH}}{ok:>7}{failed:>7}{seconds:>8.1f}{ratio:>16.2f}"
            f"{stats['steady'] * 60 / tpm:>15.2f}{share:>10.1%}"
        )
        if "baseline" not in label:
            print(
                f"  {label}: tokens/min ÷ limit {verdict(ratio >= 0.9)} (goal ≥ 0.9), "
                f"429 share {verdict(share <= 0.01)} (goal ≤ 1 %), failed {verdict(failed == 0)}"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this table's options to ``parser``."""
    parser.add_argument("--rl-seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--rl-scale", type=float, default=10.0, help="x 60,000 tpm / 300 rpm")
    parser.add_argument("--rl-burst", type=float, default=5.0, help="seconds a bucket holds")
    parser.add_argument("--rl-trace", action="store_true", help="print each run second by second")
    parser.add_argument("--rl-workers", type=int, default=2, help="worker processes (PostgreSQL)")
    parser.add_argument(
        "--rl-base", help="also measure this commit's src first, side by side (e.g. main)"
    )
    parser.add_argument("--rl-json", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace, tmp: str) -> None:
    """Print the Rate-limited table for ``args.dialect``."""
    if args.dialect == "postgresql":
        url = POSTGRES_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp}/ratelimited.db"
    if args.rl_json:
        print(json.dumps(asyncio.run(measure(args, url, Path(tmp)))))
        return
    rows = side_by_side(args, tmp) if args.rl_base else asyncio.run(measure(args, url, Path(tmp)))
    report(args, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--dialect", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args()
    if args.serve:
        tpm, rpm = BASE_TPM * args.rl_scale, BASE_RPM * args.rl_scale
        asyncio.run(serve_limited(args.serve, args.latency, rpm, tpm, args.rl_burst))
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        run(args, tmp)


if __name__ == "__main__":
    main()
