"""Measure `execlens import` throughput and peak memory on SQLite and PostgreSQL.

Usage: .venv/bin/python bench/ingest.py [--sizes 10000 100000] [--dialects sqlite postgresql]

Each measurement runs in a fresh subprocess (so peak memory is its own) and imports a
generated JSONL file of executions with 5 node executions each, through the same code
path as the CLI. Goal: at least 10,000 executions/s, memory flat from 10k to 100k.
"""

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

GOAL_PER_SECOND = 10_000
NODES = 5
POSTGRES_URL = os.environ.get(
    "EXECLENS_BENCH_POSTGRES_URL",
    "postgresql+asyncpg://execlens:execlens@127.0.0.1:5432/execlens_bench",
)


def write_dataset(path: Path, executions: int) -> None:
    """Write a JSONL file with 4 graphs and ``executions`` executions of 5 nodes each."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with path.open("w") as out:
        for g in range(4):
            nodes = [
                {"id": f"n{i}", "block_id": f"b{i}", "block_name": f"Block{i}"}
                for i in range(NODES)
            ]
            graph = {"kind": "graph", "id": f"g{g}", "version": 1, "name": f"Agent {g}"}
            out.write(json.dumps(graph | {"nodes": nodes, "links": []}) + "\n")
        for e in range(executions):
            created = (start + timedelta(seconds=e * 7)).isoformat()
            node_executions = [
                {
                    "id": f"e{e}-n{i}",
                    "node_id": f"n{i}",
                    "block_name": f"Block{i}",
                    "status": "COMPLETED",
                    "input": {"prompt": f"Summarise item {e} step {i} " + "lorem ipsum " * 8},
                    "output": {"response": f"Result {e}.{i} " + "dolor sit amet " * 8},
                    "queued_at": created,
                    "started_at": created,
                    "ended_at": created,
                }
                for i in range(NODES)
            ]
            record = {
                "kind": "execution",
                "id": f"exec-{e:08d}",
                "graph_id": f"g{e % 4}",
                "graph_version": 1,
                "user_id": f"user-{e % 97}",
                "status": "COMPLETED",
                "created_at": created,
                "started_at": created,
                "ended_at": created,
                "stats": {"cost": 3, "walltime": 2.5, "cputime": 0.2, "node_count": NODES},
                "node_executions": node_executions,
            }
            out.write(json.dumps(record) + "\n")


async def _reset(url: str) -> None:
    from sqlalchemy import text

    from execlens.db.engine import Database
    from execlens.db.migrate import upgrade

    database = Database(url)
    if database.dialect == "postgresql":
        async with database.writer.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(database)
    await database.dispose()


async def _import(url: str, path: Path) -> float:
    from execlens.db.engine import Database
    from execlens.executions.importer import import_lines

    database = Database(url)
    started = time.perf_counter()
    with path.open() as handle:
        report = await import_lines(database, handle)
    elapsed = time.perf_counter() - started
    await database.dispose()
    assert report.executions > 0
    return elapsed


def _children() -> list[int]:
    """Return the ids of this process's child processes (Linux; elsewhere none)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                found.append(int(name))
    return found


def _private_kib(pid: int) -> int:
    """Return the memory only process ``pid`` uses, in KiB (0 once it has exited)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    fields = (line.split() for line in rollup.splitlines())
    return sum(int(f[1]) for f in fields if f[0] in ("Private_Clean:", "Private_Dirty:"))


class WorkerMemory(threading.Thread):
    """Sample the private memory of the import's worker processes, keeping the peak."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.peak_kib = max(self.peak_kib, sum(map(_private_kib, _children())))


def child(url: str, path: str) -> None:
    """Import one file into an empty database and print seconds and peak memory (MiB)."""
    asyncio.run(_reset(url))
    workers = WorkerMemory()
    workers.start()
    elapsed = asyncio.run(_import(url, Path(path)))
    workers.stopped.set()
    workers.join()
    # Forked workers share the importing process's pages, which its RSS already counts.
    workers_mib = workers.peak_kib / 1024
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + workers_mib
    print(json.dumps({"seconds": elapsed, "peak_mib": peak_mib, "workers_mib": workers_mib}))


def measure(url: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dialects", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for size in args.sizes:
            path = Path(tmp) / f"{size}.jsonl"
            write_dataset(path, size)
            mib = path.stat().st_size / 2**20
            for dialect in args.dialects:
                url = (
                    f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                    if dialect == "sqlite"
                    else POSTGRES_URL
                )
                if dialect == "sqlite":
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{Path(tmp) / 'bench.db'}{suffix}").unlink(missing_ok=True)
                result = measure(url, path)
                rows.append((dialect, size, mib, result))

    print(
        f"\nimport of executions with {NODES} node executions each (goal ≥ {GOAL_PER_SECOND:,}/s)"
    )
    header = f"{'database':<11}{'executions':>11}{'file MiB':>10}{'seconds':>9}"
    header += f"{'exec/s':>10}{'÷ goal':>8}{'peak MiB':>10}"
    print(header)
    peaks: dict[str, list[float]] = {}
    for dialect, size, mib, result in rows:
        rate = size / result["seconds"]
        peaks.setdefault(dialect, []).append(result["peak_mib"])
        print(
            f"{dialect:<11}{size:>11,}{mib:>10.0f}{result['seconds']:>9.1f}"
            f"{rate:>10,.0f}{rate / GOAL_PER_SECOND:>8.2f}{result['peak_mib']:>10.0f}"
        )
    print("peak MiB: the importing process's peak RSS + its worker processes' private memory")
    for dialect, values in peaks.items():
        if len(values) > 1:
            print(f"{dialect}: peak memory largest ÷ smallest size = {values[-1] / values[0]:.2f}")


if __name__ == "__main__":
    main()
