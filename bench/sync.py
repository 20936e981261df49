"""Measure `execlens sync autogpt` throughput and peak memory into SQLite and PostgreSQL.

Usage: .venv/bin/python bench/sync.py [--sizes 10000 100000] [--dialects sqlite postgresql]
       [--before /path/to/earlier/checkout/src] [--repeat 3]

AutoGPT's tables are created in schema `bench_platform` of the bench PostgreSQL database
(EXECLENS_BENCH_POSTGRES_URL) and filled with finished runs of 5 node executions each, one
input row and one output row per node execution, as AutoGPT's executor writes them. Each
measurement runs in a fresh subprocess (so peak memory is its own): one `--once` pass into
an empty execlens database. Side by side, the baseline is `execlens import` of a JSONL file
with as many runs of the same shape (bench/ingest.py), the path a sync ends in.
With --before, the sync of an earlier checkout runs on the same data too, for a before and
after in one run. With --repeat N, each side is measured N times, interleaved, and the
fastest counts (on a shared machine, the one least slowed by other work). CPU per run adds
the PostgreSQL backends' CPU to the syncing process's own. Goal: at least 5,000 runs/s,
memory flat from 10k to 100k runs.
"""

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import asyncpg

GOAL_PER_SECOND = 5_000
NODES = 5
SCHEMA = "bench_platform"
DDL = Path(__file__).parents[1] / "tests" / "autogpt" / "ddl.sql"
POSTGRES_URL = os.environ.get(
    "EXECLENS_BENCH_POSTGRES_URL",
    "postgresql+asyncpg://execlens:execlens@127.0.0.1:5432/execlens_bench",
)
_DSN = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")

_FILL = [
    """INSERT INTO "User" (id, email) VALUES ('user-1', 'u@example.com')""",
    """INSERT INTO "AgentBlock" (id, name, "inputSchema", "outputSchema")
       SELECT 'b' || i, 'Block' || i, '{}', '{}' FROM generate_series(0, 4) i""",
    """INSERT INTO "AgentGraph" (id, version, name, "userId")
       SELECT 'g' || g, 1, 'Agent ' || g, 'user-1' FROM generate_series(0, 3) g""",
    """INSERT INTO "AgentNode" (id, "agentBlockId", "agentGraphId", "agentGraphVersion")
       SELECT 'g' || g || '-n' || i, 'b' || i, 'g' || g, 1
       FROM generate_series(0, 3) g, generate_series(0, 4) i""",
    """INSERT INTO "AgentGraphExecution" (id, "createdAt", "updatedAt", "startedAt",
         "endedAt", "executionStatus", "agentGraphId", "userId", stats)
       SELECT 'run-' || lpad(e::text, 8, '0'), t, t, t, t, 'COMPLETED', 'g' || (e % 4),
         'user-1', '{"cost": 3, "walltime": 2.5, "cputime": 0.2, "node_count": 5}'
       FROM generate_series(1, $1) e,
         LATERAL (SELECT now()::timestamp - interval '1 hour' + e * interval '1 ms') s(t)""",
    """INSERT INTO "AgentNodeExecution" (id, "agentGraphExecutionId", "agentNodeId",
         "executionStatus", "executionData", "addedTime", "queuedTime", "startedTime",
         "endedTime", stats)
       SELECT r.id || '-n' || i, r.id, r."agentGraphId" || '-n' || i, 'COMPLETED',
         jsonb_build_object('prompt', 'Summarise ' || r.id || ' step ' || i || repeat(' lorem', 8)),
         r."createdAt", r."createdAt", r."createdAt", r."createdAt",
         '{"walltime": 0.5, "cputime": 0.1}'
       FROM "AgentGraphExecution" r, generate_series(0, 4) i""",
    """INSERT INTO "AgentNodeExecutionInputOutput" (id, name, data, time,
         "referencedByInputExecId")
       SELECT ne.id || '-in', 'prompt', ne."executionData"->'prompt', ne."addedTime", ne.id
       FROM "AgentNodeExecution" ne""",
    """INSERT INTO "AgentNodeExecutionInputOutput" (id, name, data, time,
         "referencedByOutputExecId")
       SELECT ne.id || '-out', 'response', to_jsonb('Result ' || ne.id || repeat(' dolor', 8)),
         ne."addedTime", ne.id
       FROM "AgentNodeExecution" ne""",
    "ANALYZE",
]


async def fill_source(runs: int) -> None:
    """Create AutoGPT's tables in SCHEMA holding ``runs`` finished runs."""
    connection = await asyncpg.connect(_DSN)
    try:
        await connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await connection.execute(f"CREATE SCHEMA {SCHEMA}")
        await connection.execute(f"SET search_path TO {SCHEMA}")
        await connection.execute(DDL.read_text())
        for statement in _FILL:
            if "$1" in statement:
                await connection.execute(statement, runs)
            else:
                await connection.execute(statement)
    finally:
        await connection.close()


async def _sync(url: str) -> tuple[float, int]:
    from execlens.autogpt.service import AutoGPTSync
    from execlens.db.engine import Database
    from execlens.source_url import parse_source_url

    database = Database(url)
    source = parse_source_url(f"{_DSN}?schema={SCHEMA}")
    sync = AutoGPTSync(source, database, lookback=timedelta(hours=1))
    await sync.check()
    databases = {_DSN.rsplit("/", 1)[1], url.rsplit("/", 1)[1]}
    cpu = time.process_time() + _backends_cpu(databases)
    started = time.perf_counter()
    report = await sync.sync_once()
    elapsed = time.perf_counter() - started
    # Read before the connections close: their backends' CPU ends with them.
    cpu = time.process_time() + _backends_cpu(databases) - cpu
    await sync.close()
    await database.dispose()
    return elapsed, report.runs, cpu


def _backends_cpu(databases: set[str]) -> float:
    """Return the CPU seconds spent so far by PostgreSQL backends on these databases.

    On a shared machine, CPU time is a steadier measure than wall time: the work of both
    sides of a sync (this process and the backends reading and writing for it).
    """
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
            words = command.split()
            # "postgres: [cluster:] user database host(port) state"
            if words[:1] != ["postgres:"] or not databases & set(words[1:4]):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    return total


def child(kind: str, url: str, path: str) -> None:
    """Sync (or import ``path``) into an empty database; print seconds and peak MiB."""
    from ingest import _import, _reset

    asyncio.run(_reset(url))
    cpu = None
    if kind == "sync":
        elapsed, runs, cpu = asyncio.run(_sync(url))
    else:
        elapsed, runs = asyncio.run(_import(url, Path(path))), None
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mib": peak_mib, "runs": runs, "cpu": cpu}))


def measure(kind: str, url: str, path: Path, src: Path | None = None) -> dict:
    # ``src``: another checkout's `src` directory, imported instead of this one.
    env = {**os.environ, "PYTHONPATH": str(src)} if src else None
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, url, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _best(measured: list[dict]) -> dict | None:
    """Return the fastest of repeated measurements: the one least slowed by others' load."""
    if not measured:
        return None
    best = dict(min(measured, key=lambda m: m["seconds"]))
    if best["cpu"] is not None:
        best["cpu"] = min(m["cpu"] for m in measured)
    return best


def _url(dialect: str, tmp: str) -> str:
    if dialect == "postgresql":
        return POSTGRES_URL
    for suffix in ("", "-wal", "-shm"):
        Path(f"{Path(tmp) / 'bench.db'}{suffix}").unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dialects", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument(
        "--before",
        type=Path,
        help="the `src` directory of an earlier checkout: its sync is measured side by side",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure each side this many times; keep the best"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from ingest import write_dataset

    rows = []
    # The machine may be shared: the load tells how far the figures are depressed.
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            asyncio.run(fill_source(size))
            path = Path(tmp) / f"{size}.jsonl"
            write_dataset(path, size)
            for dialect in args.dialects:
                synced, imported, before = [], [], []
                # Interleaved, so a neighbour's burst of load hits both sides alike.
                for _ in range(args.repeat):
                    synced.append(measure("sync", _url(dialect, tmp), path))
                    assert synced[-1]["runs"] == size, synced[-1]
                    imported.append(measure("import", _url(dialect, tmp), path))
                    if args.before:
                        before.append(measure("sync", _url(dialect, tmp), path, args.before))
                rows.append((dialect, size, _best(synced), _best(imported), _best(before)))
    print(f"load average before and after: {load}, {os.getloadavg()}")
    _print(rows)


def _print(rows: list) -> None:
    print(f"\nsync of runs with {NODES} node executions each (goal ≥ {GOAL_PER_SECOND:,} runs/s)")
    header = f"{'database':<11}{'runs':>9}{'seconds':>9}{'runs/s':>9}{'÷ goal':>8}"
    header += f"{'import/s':>10}{'÷ import':>10}{'peak MiB':>10}{'CPU µs/run':>12}"
    header += f"{'before/s':>10}{'÷ before':>10}{'MiB':>6}{'CPU µs/run':>12}" if rows[0][4] else ""
    print(header)
    peaks: dict[str, list[float]] = {}
    for dialect, size, synced, imported, before in rows:
        rate = size / synced["seconds"]
        baseline = size / imported["seconds"]
        peaks.setdefault(dialect, []).append(synced["peak_mib"])
        line = (
            f"{dialect:<11}{size:>9,}{synced['seconds']:>9.1f}{rate:>9,.0f}"
            f"{rate / GOAL_PER_SECOND:>8.2f}{baseline:>10,.0f}{rate / baseline:>10.2f}"
            f"{synced['peak_mib']:>10.0f}{synced['cpu'] / size * 1e6:>12,.0f}"
        )
        if before:
            earlier = size / before["seconds"]
            line += f"{earlier:>10,.0f}{rate / earlier:>10.2f}{before['peak_mib']:>6.0f}"
            line += f"{before['cpu'] / size * 1e6:>12,.0f}"
        print(line)
    print("import/s: `execlens import` of as many runs of the same shape, the baseline")
    print(
        "CPU µs/run: this process's CPU and its PostgreSQL backends' (source and target), "
        "steadier than seconds on a shared machine"
    )
    if rows[0][4]:
        print("before/s: the sync of the checkout given by --before, on the same data")
    for dialect, values in peaks.items():
        if len(values) > 1:
            print(f"{dialect}: peak memory largest ÷ smallest size = {values[-1] / values[0]:.2f}")


if __name__ == "__main__":
    main()
