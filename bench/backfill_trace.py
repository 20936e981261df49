"""The --rl-trace of bench/backfill_ratelimit.py: a rate-limited run second by second.

Per second of the job: calls the provider answered and refused, verdicts each worker
recorded, and the shared provider bucket's level (in calls) sampled every 0.1 s, marked
B while blocked and by what paced the job (t: tokens, r: requests, b: backoff).
"""

import asyncio
import math
import time
from datetime import UTC, datetime

from sqlalchemy import select

from execlens.db.engine import Database
from execlens.jobs.models import AnalyticsJob, JobItem, ProviderBucket


async def sample_bucket(
    database: Database, graph_id: str, samples: list[tuple], call_tokens: int
) -> None:
    """Note the provider bucket's level and the job's pacing every 0.1 s (for --rl-trace)."""
    while True:
        async with database.read() as session:
            bucket = (await session.execute(select(ProviderBucket))).scalars().first()
            stmt = select(AnalyticsJob.paced_by).where(AnalyticsJob.graph_id == graph_id)
            paced = (await session.execute(stmt)).scalars().first()
        if bucket is not None:
            now = datetime.now(UTC)
            blocked = (bucket.blocked_until - now).total_seconds() if bucket.blocked_until else 0
            samples.append((time.time(), bucket.tokens / call_tokens, max(0.0, blocked), paced))
        await asyncio.sleep(0.1)


async def trace(database: Database, graph_id: str, stats: dict, samples: list) -> None:
    """Print, per second of the job, calls answered and refused, per worker, and the bucket."""
    async with database.read() as session:
        job = (
            await session.execute(select(AnalyticsJob).where(AnalyticsJob.graph_id == graph_id))
        ).scalar_one()
        stmt = select(JobItem.judged_by, JobItem.judged_at).where(JobItem.job_id == job.id)
        items = (await session.execute(stmt)).all()
    start = job.created_at.timestamp()
    offset = time.time() - time.monotonic()
    workers = sorted({w for w, _ in items if w})
    bins: dict[int, list] = {}
    for at, ok in stats["calls"]:
        row = bins.setdefault(int(at + offset - start), [0, 0, {}, []])
        row[0 if ok else 1] += 1
    for worker, at in items:
        if at is not None:
            row = bins.setdefault(int(at.timestamp() - start), [0, 0, {}, []])
            row[2][worker] = row[2].get(worker, 0) + 1
    for at, level, blocked, paced in samples:
        bins.setdefault(int(at - start), [0, 0, {}, []])[3].append((level, blocked, paced))
    claimed = (job.run_started_at.timestamp() - start) if job.run_started_at else math.nan
    first = min((at + offset - start for at, _ in stats["calls"]), default=math.nan)
    print(
        f"  trace of {graph_id}: first claim {claimed:.2f} s, first call {first:.2f} s after "
        "the job's creation; per second: "
        "answered, refused, judged per worker, bucket level (calls), B: blocked, t/r: paced by"
    )
    for second in sorted(b for b in bins if b >= 0):
        answered, refused, per_worker, seen = bins[second]
        judged = " ".join(f"{per_worker.get(w, 0):>3}" for w in workers)
        level = " ".join(f"{lv:5.1f}{'B' if b else ''}{(p or '-')[0]}" for lv, b, p in seen[:6])
        print(f"  {second:>4} {answered:>4} {refused:>4}  {judged}  {level}")
