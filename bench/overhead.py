"""The "Overhead" table of bench/backfill.py: CPU per judged run outside the provider.

Each measurement runs in a fresh process against the fake provider of bench/backfill.py
(its own process, so its CPU is not counted): once with this tree's execlens ("after")
and once with the base commit's, checked out into a temporary `git worktree` ("before"),
with the same measuring code. A plain async HTTP client (httpx2) making the same calls
at the same concurrency is the floor (httpx2, and aiohttp, which the judge's direct
path uses). Rows: a job through `JobDriver` (what `execlens analyze` runs) and AutoGPT's
POST route's service (`upstream_service.report`, batches of 25). CPU is the process's
user+system time over the whole job, divided by the runs; "first call" is the time from
the job's creation (its created_at) to the first request reaching the fake provider.
The judge builds its own HTTP clients, as `execlens analyze` and the server do.
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx2

# The "before" rows' commit, unless `--overhead-base` names another.
BASE_COMMIT = "d4092df"
ROOT = Path(__file__).resolve().parent.parent


async def _measure(kind: str, count: int, concurrency: int, latency: float) -> dict:
    """In this process: judge ``count`` runs one way; return CPU and wall figures."""
    import backfill
    from sqlalchemy import select

    from execlens.db.engine import Database
    from execlens.jobs.driver import JobDriver
    from execlens.jobs.models import AnalyticsJob
    from execlens.jobs.schemas import JobCreate
    from execlens.judge.judge import Judge
    from execlens.judge.providers import import_sdks
    from execlens.upstream.schemas import ExecutionAnalyticsRequest
    from execlens.upstream.service import upstream_service

    with tempfile.TemporaryDirectory() as tmp, backfill.FakeOpenAI(latency) as llm:
        url = f"sqlite+aiosqlite:///{tmp}/overhead.db"
        settings = backfill.bench_settings(url, Path(tmp), llm)
        database = Database(url, settings=settings)
        await backfill.reset(database)
        await backfill.load(database, "g-overhead", count)
        import_sdks()  # a running server or worker has them loaded already
        judge = Judge(settings)
        cpu, started = time.process_time(), time.perf_counter()
        if kind == "job":
            driver = JobDriver(database, settings, judge, kind="cli")
            params = JobCreate(
                graph_id="g-overhead", model_name=backfill.MODEL, concurrency=concurrency
            )
            job = await driver.wait(await driver.submit(params, created_by="bench"), actor="bench")
            judged = job.succeeded
        else:
            request = ExecutionAnalyticsRequest(
                graph_id="g-overhead", model_name=backfill.MODEL, batch_size=min(concurrency, 25)
            )
            report = await upstream_service.report(
                database, settings, judge, request, created_by="bench", acting_as=None
            )
            judged = report.successful_analytics
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        async with database.read() as session:
            created = (await session.execute(select(AnalyticsJob.created_at))).scalar_one()
        await judge.aclose()
        await database.dispose()
        first = llm.first_request_at()
    first_ms = (first - created.timestamp()) * 1000 if first else float("nan")
    return {
        "judged": judged,
        "seconds": elapsed,
        "cpu": cpu,
        "first_ms": first_ms,
        "in_flight": (concurrency if kind == "job" else min(concurrency, 25)),
    }


async def _plain_client(count: int, concurrency: int, latency: float) -> dict:
    """The same chat completions from a bare httpx2 client: the floor."""
    import backfill

    body = json.dumps(
        {"model": backfill.MODEL, "messages": [{"role": "user", "content": "x" * 4000}]}
    )
    with backfill.FakeOpenAI(latency) as llm:
        limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
        async with httpx2.AsyncClient(timeout=60, limits=limits) as client:
            gate = asyncio.Semaphore(concurrency)
            url = f"http://127.0.0.1:{llm.port}/v1/chat/completions"

            async def one() -> None:
                async with gate:
                    response = await client.post(url, content=body)
                    json.loads(response.content)

            return await _timed(one, count, concurrency)


async def _plain_aiohttp(count: int, concurrency: int, latency: float) -> dict:
    """The same chat completions from a bare aiohttp session: the direct path's floor."""
    import aiohttp
    import backfill

    body = json.dumps(
        {"model": backfill.MODEL, "messages": [{"role": "user", "content": "x" * 4000}]}
    )
    with backfill.FakeOpenAI(latency) as llm:
        connector = aiohttp.TCPConnector(limit=1000)
        async with aiohttp.ClientSession(connector=connector) as session:
            gate = asyncio.Semaphore(concurrency)
            url = f"http://127.0.0.1:{llm.port}/v1/chat/completions"

            async def one() -> None:
                async with gate, session.post(url, data=body) as response:
                    json.loads(await response.read())

            return await _timed(one, count, concurrency)


async def _timed(one: Callable[[], Awaitable[None]], count: int, concurrency: int) -> dict:
    """Make ``count`` calls of ``one`` at once; return their CPU and wall time."""
    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "judged": count,
        "seconds": elapsed,
        "cpu": cpu,
        "first_ms": float("nan"),
        "in_flight": concurrency,
    }


def child(kind: str, count: int, concurrency: int, latency: float) -> None:
    """Entry point of a measuring process: print one JSON line."""
    if kind == "plain":
        result = asyncio.run(_plain_client(count, concurrency, latency))
    elif kind == "plain-aiohttp":
        result = asyncio.run(_plain_aiohttp(count, concurrency, latency))
    else:
        result = asyncio.run(_measure(kind, count, concurrency, latency))
    print(json.dumps(result))


def _run_child(src: Path, kind: str, count: int, concurrency: int, latency: float) -> dict:
    env = os.environ | {"PYTHONPATH": str(src)}
    command = [sys.executable, str(Path(__file__).with_name("backfill.py")), "--overhead-child"]
    command += [kind, "--executions", str(count), "--concurrency", str(concurrency)]
    command += ["--latency", str(latency)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _base_worktree(tmp: str, base: str) -> Path:
    """Check the base commit out into a temporary worktree; return its src directory."""
    path = Path(tmp) / "base"
    git = ["git", "-C", str(ROOT), "worktree"]
    subprocess.run([*git, "add", "--detach", str(path), base], check=True, capture_output=True)
    return path / "src"


def _median(runs: list[dict]) -> dict:
    """Return each figure's median over repeated measurements of one row."""
    per_run = [
        {**r, "cpu": r["cpu"] / r["judged"], "rate": r["judged"] / r["seconds"]} for r in runs
    ]
    middle = {
        key: statistics.median(r[key] for r in per_run) for key in ("cpu", "rate", "first_ms")
    }
    judged = runs[0]["judged"]
    return {
        "judged": judged,
        "seconds": judged / middle["rate"],
        "cpu": middle["cpu"] * judged,
        "first_ms": middle["first_ms"],
        "in_flight": runs[0]["in_flight"],
    }


def overhead(
    count: int, concurrency: int, latency: float, base: str = BASE_COMMIT, repeat: int = 1
) -> None:
    """Print CPU ms per run and the ratio to the bound, before and after, side by side.

    ``base`` is a commit, or a directory that holds the base's ``execlens`` package
    (``git archive <commit> src | tar -x -C /tmp/base``: no worktree is added then).
    With ``repeat``, each row is measured that many times, before and after in turn,
    and each figure is the median: on a shared machine one run moves by 20 %.
    """
    rows: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        given = Path(base)
        named = given.parent.name if given.name == "src" else given.name
        base_src = given if (given / "execlens").is_dir() else _base_worktree(tmp, base)
        label_base = named if base_src is given else base
        try:
            for kind, label in (("job", "job (JobDriver)"), ("upstream", "upstream POST route")):
                before: list[dict] = []
                after: list[dict] = []
                for _ in range(repeat):
                    before.append(_run_child(base_src, kind, count, concurrency, latency))
                    after.append(_run_child(ROOT / "src", kind, count, concurrency, latency))
                rows.append((f"{label}, before {label_base}", _median(before)))
                rows.append((f"{label}, after", _median(after)))
        finally:
            if base_src is not given:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_src.parent)],
                    check=False,
                    capture_output=True,
                )
        for kind, label in (("plain", "plain httpx2 client"), ("plain-aiohttp", "plain aiohttp")):
            runs = [
                _run_child(ROOT / "src", kind, count, concurrency, latency) for _ in range(repeat)
            ]
            rows.append((label, _median(runs)))
    print(
        f"\noverhead on sqlite: {count} runs (median of {repeat}), "
        f"fake LLM latency {latency * 1000:.0f} ms, "
        f"concurrency {concurrency} (the upstream route: batches of at most 25); bound = calls "
        "in flight ÷ latency (shared machine: absolute figures are depressed; compare rows)"
    )
    print(
        f"{'path':<40}{'runs':>6}{'seconds':>9}{'CPU ms/run':>12}{'÷ bound':>9}"
        f"{'first call ms':>15}"
    )
    for label, r in rows:
        ratio = r["judged"] / r["seconds"] / (r["in_flight"] / latency)
        print(
            f"{label:<40}{r['judged']:>6}{r['seconds']:>9.2f}{r['cpu'] / r['judged'] * 1000:>12.2f}"
            f"{ratio:>9.2f}{r['first_ms']:>15.0f}"
        )
    print("goals: CPU < 2 ms per run, ÷ bound ≥ 0.9, first call within 100 ms of creation")
