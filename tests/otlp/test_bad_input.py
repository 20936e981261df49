"""Bad OTLP requests get the OTLP error and store nothing; unfinished traces are handled."""

import gzip
import json
import sqlite3
from collections.abc import Callable
from typing import Any

import httpx2
from google.rpc.status_pb2 import Status
from sqlalchemy import func, select

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions.models import NodeExecution
from execlens.otlp import service
from execlens.otlp.models import OtlpTrace
from tests.conftest import JWT_SECRET
from tests.otlp.conftest import (
    PROTOBUF,
    assemble_after,
    encode,
    record_spans,
    trace_id_of,
    weather_agent,
)


async def stored(database) -> tuple[int, int]:
    """Return how many spans (node executions) and traces are stored."""
    async with database.read() as session:
        spans = await session.scalar(select(func.count()).select_from(NodeExecution))
        traces = await session.scalar(select(func.count()).select_from(OtlpTrace))
    return spans or 0, traces or 0


async def test_malformed_protobuf_is_400_with_a_status_body(client, database, ingest_key):
    body = encode(record_spans(weather_agent))[:-7] + b"\xff\xff\xff"
    response = await client.post(
        "/v1/traces", content=body, headers={**PROTOBUF, "X-API-Key": ingest_key}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = Status.FromString(response.content)
    assert status.code == 3  # INVALID_ARGUMENT
    assert "not a protobuf ExportTraceServiceRequest" in status.message
    assert await stored(database) == (0, 0)


async def test_malformed_json_is_400_in_json(client, database, ingest_key):
    headers = {"Content-Type": "application/json", "X-API-Key": ingest_key}
    for body, expected in [
        (b'{"resourceSpans": [', "not JSON"),
        (b'{"resourceSpans": 5}', "not an OTLP/JSON"),
        (
            json.dumps(
                {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "1"}]}]}]}
            ).encode(),
            "resourceSpans[0].scopeSpans[0].spans[0].traceId",
        ),
    ]:
        response = await client.post("/v1/traces", content=body, headers=headers)
        assert response.status_code == 400, body
        assert response.headers["content-type"] == "application/json"
        assert expected in response.json()["message"], response.json()
    assert await stored(database) == (0, 0)


async def test_wrong_content_type_is_415(client, database, ingest_key):
    response = await client.post(
        "/v1/traces",
        content=encode(record_spans(weather_agent)),
        headers={"Content-Type": "text/plain", "X-API-Key": ingest_key},
    )
    assert response.status_code == 415
    assert (
        "application/x-protobuf or application/json" in Status.FromString(response.content).message
    )
    assert await stored(database) == (0, 0)


async def test_oversized_bodies_are_413(client, database, settings, ingest_key):
    headers = {**PROTOBUF, "X-API-Key": ingest_key}
    too_big = b"\x00" * (settings.max_body_bytes + 1)
    response = await client.post("/v1/traces", content=too_big, headers=headers)
    assert response.status_code == 413
    # A small gzip body that inflates past the limit is cut off while inflating.
    bomb = gzip.compress(too_big)
    assert len(bomb) < settings.max_body_bytes
    response = await client.post(
        "/v1/traces", content=bomb, headers={**headers, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert "once decompressed" in Status.FromString(response.content).message
    assert await stored(database) == (0, 0)


async def test_credentials_are_checked_before_the_body(client, database, admin_headers):
    body = encode(record_spans(weather_agent))
    response = await client.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 401
    assert "credentials required" in Status.FromString(response.content).message
    response = await client.post(
        "/v1/traces", content=body, headers={**PROTOBUF, "X-API-Key": "exl_not-a-key"}
    )
    assert response.status_code == 401
    assert await stored(database) == (0, 0)


async def test_a_trace_that_never_ends_is_assembled_after_the_max_age_as_incomplete(
    client, database, settings, ingest_key, admin_headers
):
    spans = record_spans(weather_agent)
    children = [s for s in spans if s.parent is not None]
    trace_id = trace_id_of(spans)
    response = await client.post(
        "/v1/traces", content=encode(children), headers={**PROTOBUF, "X-API-Key": ingest_key}
    )
    assert response.status_code == 200
    assert await assemble_after(database, settings, settings.otlp_max_trace_seconds - 5) == 0
    assert await assemble_after(database, settings, settings.otlp_max_trace_seconds + 1) == 1
    execution = (await client.get(f"/api/executions/{trace_id}", headers=admin_headers)).json()
    assert execution["status"] == "INCOMPLETE"
    note = execution["node_executions"][-1]
    assert note["block_name"] == "execlens note"
    assert "the root span never arrived" in note["output"]["note"]
    # The graph still comes from the service name, the only agent hint that arrived.
    assert execution["graph_id"] == "weather-service"
    assert execution["stats"]["node_count"] == 2


async def test_a_span_whose_parent_never_arrives_is_kept_with_a_note(
    client, database, settings, ingest_key, admin_headers
):
    def agent_with_lost_step(tracer) -> None:
        agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}
        tool = {"gen_ai.operation.name": "execute_tool"}
        with (
            tracer.start_as_current_span("run", attributes=agent),
            tracer.start_as_current_span("lost parent"),
            tracer.start_as_current_span("tool", attributes=tool),
        ):
            pass

    spans = record_spans(agent_with_lost_step)
    sent = [s for s in spans if s.name != "lost parent"]
    await client.post(
        "/v1/traces", content=encode(sent), headers={**PROTOBUF, "X-API-Key": ingest_key}
    )
    assert await assemble_after(database, settings, 10) == 1
    execution = (
        await client.get(f"/api/executions/{trace_id_of(spans)}", headers=admin_headers)
    ).json()
    assert execution["status"] == "COMPLETED"
    blocks = [n["block_name"] for n in execution["node_executions"]]
    assert blocks == ["invoke_agent a", "execute_tool", "execlens note"]
    assert (
        "1 spans name a parent span that never arrived"
        in (execution["node_executions"][-1]["output"]["note"])
    )


def five_steps(agent: str, step_attributes: dict[str, str]) -> Callable[[Any], None]:
    """Return an agent whose root span runs five steps, each with these attributes."""

    def run(tracer: Any) -> None:
        root = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent}
        with tracer.start_as_current_span("run", attributes=root):
            for n in range(5):
                with tracer.start_as_current_span(f"step {n}", attributes=step_attributes):
                    pass

    return run


async def test_a_trace_over_the_limits_is_trimmed_with_a_note(
    app, client, database, settings, ingest_key, admin_headers
):
    small = settings.model_copy(update={"otlp_max_spans_per_trace": 3, "otlp_max_value_chars": 100})
    app.state.settings = small
    spans = record_spans(five_steps("big", {"output.value": "x" * 500}))
    await client.post(
        "/v1/traces", content=encode(spans), headers={**PROTOBUF, "X-API-Key": ingest_key}
    )
    assert await assemble_after(database, small, 10) == 1
    execution = (
        await client.get(f"/api/executions/{trace_id_of(spans)}", headers=admin_headers)
    ).json()
    nodes = execution["node_executions"]
    assert [n["block_name"] for n in nodes] == [
        "invoke_agent big",
        "step 0",
        "step 1",
        "execlens note",
    ]
    assert nodes[1]["output"].startswith("x" * 100 + "… [trimmed by execlens: 400 more")
    note = nodes[-1]["output"]["note"]
    assert "the trace has 6 spans; kept the first 3" in note
    assert "2 values longer than 100 characters were cut" in note


async def test_a_trace_over_the_span_limit_across_requests_is_trimmed_when_it_finishes(
    app, client, database, settings, ingest_key, admin_headers
):
    small = settings.model_copy(update={"otlp_max_spans_per_trace": 4})
    app.state.settings = small
    spans = record_spans(five_steps("long", {}))
    steps = [s for s in spans if s.parent is not None]
    root = [s for s in spans if s.parent is None]
    # Each request under the limit: steps 0-2, then steps 3-4 with the root.
    for part in (steps[:3], steps[3:] + root):
        response = await client.post(
            "/v1/traces", content=encode(part), headers={**PROTOBUF, "X-API-Key": ingest_key}
        )
        assert response.status_code == 200

    assert await assemble_after(database, small, 10) == 1
    execution = (
        await client.get(f"/api/executions/{trace_id_of(spans)}", headers=admin_headers)
    ).json()
    blocks = [n["block_name"] for n in execution["node_executions"]]
    assert blocks == ["invoke_agent long", "step 0", "step 1", "step 2", "execlens note"]
    assert execution["stats"]["node_count"] == 4
    note = execution["node_executions"][-1]["output"]["note"]
    assert "the trace has 6 spans; kept the first 4" in note


async def test_a_trace_over_both_limits_is_finished_alone_and_trimmed_between_others(
    app, client, database, settings, ingest_key, admin_headers, monkeypatch
):
    # A transaction takes at most 5 spans, or one trace: the long trace (6 spans) is
    # finished alone, between the two short ones (3 spans each), and trimmed to 4.
    monkeypatch.setattr(service, "ASSEMBLY_SPANS", 5)
    small = settings.model_copy(update={"otlp_max_spans_per_trace": 4})
    app.state.settings = small
    first, last = record_spans(weather_agent), record_spans(weather_agent)
    spans = record_spans(five_steps("long", {}))
    steps = [s for s in spans if s.parent is not None]
    root = [s for s in spans if s.parent is None]
    for part in (first, steps[:3], steps[3:] + root, last):
        response = await client.post(
            "/v1/traces", content=encode(part), headers={**PROTOBUF, "X-API-Key": ingest_key}
        )
        assert response.status_code == 200

    assert await assemble_after(database, small, 10) == 3
    counts = {}
    for trace in (first, spans, last):
        execution = (
            await client.get(f"/api/executions/{trace_id_of(trace)}", headers=admin_headers)
        ).json()
        counts[trace_id_of(trace)] = execution["stats"]["node_count"]
        notes = [n for n in execution["node_executions"] if n["block_name"] == "execlens note"]
        if trace is spans:
            assert "the trace has 6 spans; kept the first 4" in notes[0]["output"]["note"]
        else:
            assert notes == []
    assert list(counts.values()) == [3, 4, 3]


async def test_a_signed_in_user_who_is_no_admin_gets_403(client, database):
    token = issue_token(JWT_SECRET, role="authenticated")
    response = await client.post(
        "/v1/traces",
        content=encode(record_spans(weather_agent)),
        headers={**PROTOBUF, "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert Status.FromString(response.content).code == 7  # PERMISSION_DENIED
    assert await stored(database) == (0, 0)


async def test_over_the_rate_limit_is_429_with_retry_after(settings, database, ingest_key):
    app = create_app(
        settings.model_copy(update={"rate_limit_per_minute": 1}), database=database, migrate=False
    )
    body = encode(record_spans(weather_agent))
    headers = {**PROTOBUF, "X-API-Key": ingest_key}
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.post("/v1/traces", content=body, headers=headers)).status_code == 200
        response = await client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


async def test_a_locked_sqlite_database_is_503_with_retry_after(tmp_path):
    path = tmp_path / "x.db"
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{path}",
        jwt_secret=JWT_SECRET,
        sqlite_busy_timeout_ms=50,
    )
    database = Database(settings.resolved_database_url, settings=settings)
    await upgrade(database)
    app = create_app(settings, database=database, migrate=False, worker=False)
    # Another process holds SQLite's write lock, as a long import or a backup would.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://t"
        ) as client:
            response = await client.post(
                "/v1/traces",
                content=encode(record_spans(weather_agent)),
                headers={**PROTOBUF, "Authorization": f"Bearer {issue_token(JWT_SECRET)}"},
            )
    finally:
        other.rollback()
        other.close()
    spans, traces = await stored(database)
    await database.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "locked by another writer" in Status.FromString(response.content).message
    assert (spans, traces) == (0, 0)


async def test_nul_characters_and_far_future_times_are_stored(
    client, database, settings, ingest_key, admin_headers
):
    def odd_agent(tracer) -> None:
        agent = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "odd\x00agent",
            "user.id": "u\x00",
            "input.value": '{"q": "a\\u0000b"}',
            "output.value": "done\x00",
        }
        with tracer.start_as_current_span("run", attributes=agent):
            late = tracer.start_span("late", start_time=2**63 - 1)
            late.end(end_time=2**64 - 1)

    spans = record_spans(odd_agent)
    response = await client.post(
        "/v1/traces", content=encode(spans), headers={**PROTOBUF, "X-API-Key": ingest_key}
    )
    assert response.status_code == 200
    assert await assemble_after(database, settings, 10) == 1
    execution = (
        await client.get(f"/api/executions/{trace_id_of(spans)}", headers=admin_headers)
    ).json()
    assert execution["graph_id"] == "odd\ufffdagent"
    assert execution["user_id"] == "u\ufffd"
    agent = execution["node_executions"][0]
    assert agent["input"] == {"q": "a\ufffdb"}
    assert agent["output"] == "done\ufffd"
    late = next(n for n in execution["node_executions"] if n["block_name"] == "late")
    assert late["ended_at"].startswith("2554-07-21")
