"""Measure a judging rule's lag: from a run's arrival to its verdict, under a steady stream.

Usage: .venv/bin/python bench/rules.py [--rate 20] [--seconds 30] [--latency 0.25]
       [--dialect sqlite|postgresql]

One process holds what `execlens serve` runs: the judging rules' pass (every
`EXECLENS_RULES_INTERVAL_SECONDS`) and a worker. A producer stores `--rate` new finished
runs a second through the ingest path, one small batch every 50 ms; a rule picks every
one of them; a fake provider in its own process answers each call after `--latency`.
The lag of a run is its verdict's time minus its arrival time. Goal: p95 under 5 s at
20 runs/s. The floor beside it is what the design cannot beat: half a rules interval on
average (a run waits for the next pass) plus one provider call.
"""

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from backfill import MODEL, POSTGRES_URL, FakeOpenAI, bench_settings, execution, graph, reset
from sqlalchemy import select

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.executions.models import Execution
from execlens.executions.service import execution_service
from execlens.jobs.models import AnalyticsJob, ItemStatus, JobItem
from execlens.jobs.worker import Worker
from execlens.judge.judge import Judge
from execlens.rules.background import background_rules
from execlens.rules.schemas import RuleCreate
from execlens.rules.service import _percentile, rule_service

GOAL_P95 = 5.0
TICK = 0.05


async def produce(database: Database, rate: float, seconds: float) -> int:
    """Store ``rate`` finished runs a second for ``seconds``; return how many."""
    stored = 0
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        # Whatever the clock says is due: a slow write is caught up in the next batch.
        due = int(rate * elapsed) - stored
        batch = [execution("g-live", stored + i) for i in range(due)]
        if batch:
            async with database.write() as session:
                await execution_service.ingest(session, database.dialect, executions=batch)
            stored += len(batch)
        await asyncio.sleep(max(0.0, (elapsed + TICK) - (time.monotonic() - started)))
    return stored


async def lags(database: Database) -> list[float]:
    stmt = (
        select(Execution.arrived_at, JobItem.judged_at)
        .join(JobItem, JobItem.execution_id == Execution.id)
        .join(AnalyticsJob, AnalyticsJob.id == JobItem.job_id)
        .where(AnalyticsJob.rule_id.is_not(None), JobItem.status == ItemStatus.SUCCESS)
    )
    async with database.read() as session:
        rows = (await session.execute(stmt)).all()
    return [(judged - arrived).total_seconds() for arrived, judged in rows]


async def wait_for_verdicts(database: Database, count: int) -> list[float]:
    """Return every lag once ``count`` runs are judged, or after a minute."""
    for _ in range(300):
        if len(found := await lags(database)) >= count:
            return found
        await asyncio.sleep(0.2)
    return found


async def measure(settings: Settings, rate: float, seconds: float) -> tuple[int, list[float]]:
    database = Database.from_settings(settings)
    judge = Judge(settings)
    try:
        await reset(database)
        async with database.write() as session:
            await execution_service.upsert_graph(session, database.dialect, graph("g-live"))
            await rule_service.create(
                session, settings, RuleCreate(graph_id="g-live", model_name=MODEL), actor="bench"
            )
        worker = Worker(database, settings, judge)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        async with background_rules(database, settings, worker.wake):
            stored = await produce(database, rate, seconds)
            found = await wait_for_verdicts(database, stored)
        stop.set()
        await running
        return stored, found
    finally:
        await judge.aclose()
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--dialect", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    print(
        f"{args.rate:g} new runs/s for {args.seconds:g} s, provider latency {args.latency:g} s, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print("| database | runs/s in | judged | p50 s | p95 s | max s | floor s | p95 ÷ 5 s goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with FakeOpenAI(args.latency) as llm, tempfile.TemporaryDirectory() as tmp:
        for dialect in args.dialect or ["sqlite", "postgresql"]:
            data_dir = Path(tmp) / dialect
            data_dir.mkdir()
            url = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
            settings = bench_settings(
                POSTGRES_URL if dialect == "postgresql" else url, data_dir, llm
            )
            stored, found = asyncio.run(measure(settings, args.rate, args.seconds))
            p95 = _percentile(found, 0.95) or float("nan")
            floor = settings.rules_interval_seconds / 2 + args.latency
            p50 = _percentile(found, 0.5) or float("nan")
            print(
                f"| {dialect} | {stored / args.seconds:.1f} | {len(found)} of {stored} | "
                f"{p50:.2f} | {p95:.2f} | {max(found, default=0):.2f} | {floor:.2f} | "
                f"{p95 / GOAL_P95:.2f} |"
            )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
