"""The floor of OTLP ingest: what any design that stores each span in PostgreSQL must spend.

Not execlens: a baseline for bench/otlp.py, written to learn whether 20,000 spans/s can be
reached on a machine at all (issue 18). Same load as bench/otlp.py (its request builder
and senders are imported from it): 8 concurrent exporters posting
pre-serialized ExportTraceServiceRequests of 512 GenAI spans, short (10-span) or long
(200-span) traces, roots last. The server is uvicorn + FastAPI as `execlens serve` runs it
(uvicorn.run(app, host, port, log_level="info"), default loop and HTTP implementation),
with one route, POST /v1/traces, doing only the work of one step:

  1 http    read the body, answer an empty ExportTraceServiceResponse
  2 parse   + ExportTraceServiceRequest.FromString, walk every span's fields and
            attributes into Python tuples
  3 raw     + one row per span (trace_id, span_id, parent bytea, name, start, end
            timestamptz, the span's bytes) COPYed into floor_spans (primary key
            (trace_id, span_id) only), one transaction per request
  4 final   + instead of raw rows: execlens's node_executions rows (id, execution_id,
            node_id, block_name, status, input/output JSON, times) COPYed into a copy of
            execlens's node_executions with its primary key, index and CHECK (no foreign
            key), and, when a trace's root arrives, its executions row into a copy of
            execlens's executions (its 6 indexes and CHECK); one transaction per request
  4fk     as 4, into execlens's real tables (foreign key node -> execution kept): each
            request first upserts its traces' executions rows (INCOMPLETE placeholder,
            finished fields set when the root arrives), then COPYs the node rows
  4fkc    as 4fk, but the server remembers (in memory) the traces it has inserted a
            placeholder for: a trace's executions row is written twice (placeholder,
            then finished by the root) instead of once per request carrying its spans
  4fkd    as 4fk, but as a design must that keeps no state in the server and lets a
            re-sent span change nothing: every request inserts its traces' placeholder
            rows with ON CONFLICT DO NOTHING (no row lock when the row exists), writes
            the roots' rows by the upsert of 4fk, and inserts the node rows from arrays
            with ON CONFLICT (id) DO NOTHING instead of COPYing them
  4fkt    as 4fkd, but the node rows are COPYed into a temporary table (one per
            connection, emptied at commit), then inserted from it ON CONFLICT DO NOTHING
  3req    step 2, then the request body as one bytea row (floor_requests), one
            transaction per request: durable, but not one row per span

Usage, with a PostgreSQL database of its own (it truncates the tables it writes) migrated
by `execlens db upgrade`, FLOOR_DSN naming it (default execlens_floor on 127.0.0.1):
  .venv/bin/python bench/otlp_floor.py --steps 1 2 3 4 4fk 4fkc \
      --shapes short long --repeat 3 --spans 102400

Prints, per step and shape, every run and then the best: spans/s (until the last request
was answered: nothing is left to do afterwards), CPU µs/span of the server process, of the
PostgreSQL backends connected to execlens_floor, and of this load-generating process
(building the bodies excluded), their total, and 2,000,000 / total (the rate 2 cores
could sustain if nothing else ran), with the load average before each run.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from execlens.executions.repository import NODE_EXECUTION_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "src")]

DSN = os.environ.get("FLOOR_DSN", "postgresql://execlens:execlens@127.0.0.1:5432/execlens_floor")
DATABASE = DSN.rsplit("/", 1)[1]
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since 1970: PostgreSQL's epoch
TARGETS = {
    "execute_tool": ("gen_ai.tool.name",),
    "invoke_agent": ("gen_ai.agent.name", "gen_ai.agent.id"),
    "create_agent": ("gen_ai.agent.name", "gen_ai.agent.id"),
}
MODELS = ("gen_ai.request.model", "gen_ai.response.model")
NODE_COLUMNS = NODE_EXECUTION_COLUMNS  # execlens's node execution row, in its order
EXECUTION_COLUMNS = (
    "id",
    "graph_id",
    "graph_version",
    "user_id",
    "status",
    "created_at",
    "started_at",
    "ended_at",
    "walltime",
    "arrived_at",
)
SETUP = """
CREATE TABLE IF NOT EXISTS floor_spans (
    trace_id bytea NOT NULL, span_id bytea NOT NULL, parent bytea, name text,
    start_at timestamptz, end_at timestamptz, span bytea,
    PRIMARY KEY (trace_id, span_id));
CREATE TABLE IF NOT EXISTS floor_requests (id bigserial PRIMARY KEY, body bytea NOT NULL);
CREATE SCHEMA IF NOT EXISTS floor;
CREATE TABLE IF NOT EXISTS floor.executions (LIKE public.executions INCLUDING ALL);
CREATE TABLE IF NOT EXISTS floor.node_executions (LIKE public.node_executions INCLUDING ALL);
"""
TRUNCATE = {
    "3": "TRUNCATE floor_spans",
    "4": "TRUNCATE floor.node_executions, floor.executions",
    "4fk": "TRUNCATE node_executions, executions CASCADE",
    "4fkc": "TRUNCATE node_executions, executions CASCADE",
    "4fkd": "TRUNCATE node_executions, executions CASCADE",
    "4fkt": "TRUNCATE node_executions, executions CASCADE",
    "3req": "TRUNCATE floor_requests",
}
UPSERT_FK = """
INSERT INTO executions AS e
    (id, graph_id, graph_version, user_id, status, created_at, started_at, ended_at,
     walltime, arrived_at)
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::int[], $4::varchar[], $5::varchar[],
    $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::float8[], $10::timestamptz[])
ON CONFLICT (id) DO UPDATE SET
    graph_id = excluded.graph_id, status = excluded.status, created_at = excluded.created_at,
    started_at = excluded.started_at, ended_at = excluded.ended_at,
    walltime = excluded.walltime, arrived_at = excluded.arrived_at
WHERE excluded.status <> 'INCOMPLETE'
"""
PLACE = f"""
INSERT INTO executions ({", ".join(EXECUTION_COLUMNS)})
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::int[], $4::varchar[], $5::varchar[],
    $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::float8[], $10::timestamptz[])
ON CONFLICT (id) DO NOTHING
"""
INSERT_NODES = f"""
INSERT INTO node_executions ({", ".join(NODE_COLUMNS)})
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[],
    $5::varchar[], $6::json[], $7::json[], $8::text[], $9::timestamptz[], $10::timestamptz[],
    $11::timestamptz[])
ON CONFLICT (id) DO NOTHING
"""
STAGE_NODES = """
CREATE TEMPORARY TABLE IF NOT EXISTS floor_staged_nodes
    (LIKE node_executions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
INSERT_STAGED_NODES = f"""
INSERT INTO node_executions ({", ".join(NODE_COLUMNS)})
SELECT {", ".join(NODE_COLUMNS)} FROM floor_staged_nodes ON CONFLICT (id) DO NOTHING
"""


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[r[i] for r in rows] for i in range(width)]


async def write_deduplicated(
    connection: Any, spans: list[tuple[Any, ...]], *, staged: bool = False
) -> None:
    """Step 4fkd's writes (4fkt's with ``staged``), in the caller's transaction."""
    nodes, executions, traces = final_rows(spans)
    nodes = [(*r[:8], pg_time(r[8]), pg_time(r[9]), pg_time(r[10])) for r in nodes]
    placeholders = sorted(r for r in traces.values() if r[4] == "INCOMPLETE")
    for statement, rows in ((PLACE, placeholders), (UPSERT_FK, sorted(executions))):
        if rows:
            columns = _columns(rows, len(EXECUTION_COLUMNS))
            for i in (5, 6, 7, 9):
                columns[i] = [pg_time(v) if v else None for v in columns[i]]
            await connection.execute(statement, *columns)
    if staged:
        await connection.execute(STAGE_NODES)
        await connection.copy_records_to_table(
            "floor_staged_nodes", columns=NODE_COLUMNS, records=nodes
        )
        await connection.execute(INSERT_STAGED_NODES)
    else:
        await connection.execute(INSERT_NODES, *_columns(nodes, len(NODE_COLUMNS)))


# ---------------------------------------------------------------------------- server


def any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return tuple((kv.key, any_value(kv.value)) for kv in value.kvlist_value.values)
    return getattr(value, kind)


def walk(request: Any) -> list[tuple[Any, ...]]:
    """Every span's fields and attributes as plain tuples: what any mapping reads at least."""
    out = []
    for resource_spans in request.resource_spans:
        resource = tuple(
            (kv.key, kv.value.string_value or any_value(kv.value))
            for kv in resource_spans.resource.attributes
        )
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attrs = tuple(
                    (kv.key, kv.value.string_value or any_value(kv.value)) for kv in span.attributes
                )
                out.append(
                    (
                        span.trace_id,
                        span.span_id,
                        span.parent_span_id,
                        span.name,
                        span.kind,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        span.status.code,
                        span.status.message,
                        attrs,
                        resource,
                        span,
                    )
                )
    return out


def pg_time(unix_nano: int) -> tuple[int] | None:
    # asyncpg's "tuple" codec: µs since 2000-01-01, no datetime objects.
    return (unix_nano // 1000 - PG_EPOCH_US,) if unix_nano > 0 else None


def raw_rows(spans: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(s[0], s[1], s[2] or None, s[3], s[5], s[6], s[11].SerializeToString()) for s in spans]


def _block(name: str, attrs: dict[str, Any]) -> str:
    operation = attrs.get("gen_ai.operation.name")
    if operation:
        for key in TARGETS.get(operation, ()) + MODELS:
            target = attrs.get(key)
            if target:
                return f"{operation} {target}"
        return operation
    return name or "span"


def final_rows(
    spans: list[tuple[Any, ...]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """Return node rows, executions rows of the roots present, and every trace's upsert row."""
    nodes, executions, traces = [], [], {}
    now_us = time.time_ns() // 1000
    for trace_id, span_id, parent, name, _, start, end, code, _, attrs, resource, _ in spans:
        attrs = dict(attrs)
        trace = trace_id.hex()
        block = _block(name, attrs)[:500]
        status = "FAILED" if code == 2 else "COMPLETED"
        nodes.append(
            (
                f"{trace}:{span_id.hex()}",
                trace,
                block[:200],
                block,
                status,
                attrs.get("gen_ai.input.messages") or attrs.get("gen_ai.tool.call.arguments"),
                attrs.get("gen_ai.output.messages") or attrs.get("gen_ai.tool.call.result"),
                None,
                start,
                start,
                end,
            )
        )
        if not parent:
            graph = attrs.get("gen_ai.agent.name") or dict(resource).get("service.name")
            row = (
                trace,
                graph or "unknown_service",
                1,
                attrs.get("user.id") or "unknown",
                status,
                start,
                start,
                end,
                (end - start) / 1e9 if end >= start > 0 else None,
                now_us * 1000,
            )
            executions.append(row)
            traces[trace] = row
        elif trace not in traces:
            graph = dict(resource).get("service.name") or "unknown_service"
            traces[trace] = (
                trace,
                graph,
                1,
                "unknown",
                "INCOMPLETE",
                start,
                start,
                None,
                None,
                None,
            )
    return nodes, executions, traces


def make_app(step: str) -> Any:  # noqa: C901  one route, one branch per step
    from contextlib import asynccontextmanager

    import asyncpg
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    empty = ExportTraceServiceResponse().SerializeToString()
    state: dict[str, Any] = {}
    placed: set[str] = set()  # 4fkc: traces whose placeholder row is stored

    async def init(connection: Any) -> None:
        for name in ("timestamptz",):
            await connection.set_type_codec(
                name,
                schema="pg_catalog",
                encoder=lambda value: value,
                decoder=lambda value: value,
                format="tuple",
            )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        if step in TRUNCATE:
            state["pool"] = await asyncpg.create_pool(DSN, min_size=10, max_size=10, init=init)
        yield
        if "pool" in state:
            await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/traces")
    async def export(request: Request) -> Response:  # noqa: C901  one branch per step
        body = await request.body()
        if step != "1":
            spans = walk(ExportTraceServiceRequest.FromString(body))
            if step == "3":
                rows = [
                    (t, s, p, n, pg_time(a), pg_time(b), raw)
                    for t, s, p, n, a, b, raw in raw_rows(spans)
                ]
                async with state["pool"].acquire() as connection, connection.transaction():
                    await connection.copy_records_to_table("floor_spans", records=rows)
            elif step == "3req":
                async with state["pool"].acquire() as connection, connection.transaction():
                    await connection.execute("INSERT INTO floor_requests (body) VALUES ($1)", body)
            elif step in ("4fkd", "4fkt"):
                async with state["pool"].acquire() as connection, connection.transaction():
                    await write_deduplicated(connection, spans, staged=step == "4fkt")
            elif step in ("4", "4fk", "4fkc"):
                nodes, executions, traces = final_rows(spans)
                nodes = [(*r[:8], pg_time(r[8]), pg_time(r[9]), pg_time(r[10])) for r in nodes]
                async with state["pool"].acquire() as connection, connection.transaction():
                    if step == "4":
                        if executions:
                            await connection.copy_records_to_table(
                                "executions",
                                schema_name="floor",
                                columns=EXECUTION_COLUMNS,
                                records=[
                                    r[:5] + tuple(map(pg_time, r[5:8])) + (r[8], pg_time(r[9]))
                                    for r in executions
                                ],
                            )
                        await connection.copy_records_to_table(
                            "node_executions",
                            schema_name="floor",
                            columns=NODE_COLUMNS,
                            records=nodes,
                        )
                    else:
                        rows = traces.values()
                        if step == "4fkc":
                            rows = [r for r in rows if r[4] != "INCOMPLETE" or r[0] not in placed]
                        rows = sorted(rows)  # one lock order for all requests
                        columns = [[r[i] for r in rows] for i in range(len(EXECUTION_COLUMNS))]
                        for i in (5, 6, 7, 9):
                            columns[i] = [pg_time(v) if v else None for v in columns[i]]
                        await connection.execute(UPSERT_FK, *columns)
                        await connection.copy_records_to_table(
                            "node_executions", columns=NODE_COLUMNS, records=nodes
                        )
                if step == "4fkc":  # once committed
                    placed.update(traces)
        return Response(empty, media_type="application/x-protobuf")

    return app


def serve(step: str, port: int) -> None:
    import uvicorn

    # As `execlens serve` runs it (src/execlens/cli.py).
    uvicorn.run(make_app(step), host="127.0.0.1", port=port, log_level="info")


# ---------------------------------------------------------------------------- driver


def start(step: str, port: int) -> subprocess.Popen[bytes]:
    import otlp

    process = subprocess.Popen(
        [sys.executable, __file__, "serve", step, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return otlp.healthy(process, port, "the floor's server")


async def prepare(step: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(DSN)
    try:
        await connection.execute(SETUP)
        if step in TRUNCATE:
            await connection.execute(TRUNCATE[step])
    finally:
        await connection.close()


async def stored(step: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(DSN)
    try:
        if step == "3":
            return f"{await connection.fetchval('SELECT count(*) FROM floor_spans')} rows"
        if step == "3req":
            return f"{await connection.fetchval('SELECT count(*) FROM floor_requests')} rows"
        schema = "floor." if step == "4" else ""
        nodes = await connection.fetchval(f"SELECT count(*) FROM {schema}node_executions")
        runs = await connection.fetchval(f"SELECT count(*) FROM {schema}executions")
        return f"{nodes} nodes, {runs} executions"
    finally:
        await connection.close()


def machine_busy() -> float:
    """CPU seconds all cores spent not idle (nor waiting on I/O), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_once(step: str, payloads: list[bytes], spans: int, exporters: int) -> dict[str, Any]:
    import otlp  # bench/otlp.py: the same load generator

    asyncio.run(prepare(step))
    port = otlp.free_port()
    server = start(step, port)
    try:
        asyncio.run(otlp.warm_up(port, "unused"))
        load = os.getloadavg()[0]
        before = otlp.cpu_seconds(server.pid, DATABASE)
        own = time.process_time()
        busy = machine_busy()
        started = time.perf_counter()
        asyncio.run(otlp.send(port, "unused", payloads, exporters))
        elapsed = time.perf_counter() - started
        own = time.process_time() - own
        busy = machine_busy() - busy
        after = otlp.cpu_seconds(server.pid, DATABASE)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "rate": spans / elapsed,
        "server": (after[0] - before[0]) / spans * 1e6,
        "pg": (after[1] - before[1]) / spans * 1e6,
        "client": own / spans * 1e6,
        "machine": busy / spans * 1e6,
        "load": load,
        "stored": asyncio.run(stored(step)) if step in TRUNCATE else "-",
    }
    result["total"] = result["server"] + result["pg"] + result["client"]
    return result


def line(step: str, shape: str, r: dict[str, Any], label: str) -> str:
    return (
        f"| {step} | {shape} | {label} | {r['rate']:,.0f} | {r['server']:.1f} | {r['pg']:.1f} "
        f"| {r['client']:.1f} | {r['server'] + r['pg']:.1f} | {r['total']:.1f} "
        f"| {2e6 / (r['server'] + r['pg']):,.0f} | {2e6 / r['total']:,.0f} | {r['load']:.2f} "
        f"| {r['stored']} | {r['machine']:.1f} |"
    )


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
        return
    import otlp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", nargs="+", default=["1", "2", "3", "4", "4fk"])
    parser.add_argument("--shapes", nargs="+", default=["short", "long"])
    parser.add_argument("--spans", type=int, default=102_400)
    parser.add_argument("--exporters", type=int, default=8)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    per_trace = {"short": 10, "long": 200}
    print(f"{args.spans:,} spans per run, {args.batch} per request, {args.exporters} exporters\n")
    print(
        "| step | shape | run | spans/s | server µs/span | PG µs/span | load gen µs/span "
        "| server+PG | total | 2e6/(server+PG) | 2e6/total | load avg 1 min | stored "
        "| machine busy µs/span (all processes, both cores) |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    bodies = {shape: otlp.bodies(args.spans, per_trace[shape], args.batch) for shape in args.shapes}
    for shape in args.shapes:
        payloads, traces = bodies[shape]
        spans = traces * per_trace[shape]
        for step in args.steps:
            runs = []
            for n in range(args.repeat):
                runs.append(run_once(step, payloads, spans, args.exporters))
                print(line(step, shape, runs[-1], str(n + 1)), flush=True)
            best = dict(max(runs, key=lambda r: r["rate"]))
            for key in ("server", "pg", "client", "machine"):
                best[key] = min(r[key] for r in runs)
            best["total"] = best["server"] + best["pg"] + best["client"]
            best["load"] = min(r["load"] for r in runs)
            print(line(step, shape, best, "**best**"), flush=True)


if __name__ == "__main__":
    main()
