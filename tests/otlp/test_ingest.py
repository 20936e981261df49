"""POST /v1/traces: spans stored as they arrive, runs finished once the root ended, idempotent."""

import asyncio
import gzip

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from execlens.db.dialect import storage_problem
from execlens.executions.models import NodeExecution
from execlens.otlp import repository, service
from execlens.otlp.models import OtlpTrace
from execlens.otlp.service import otlp_service
from tests.factories import make_execution
from tests.otlp.conftest import (
    PROTOBUF,
    assemble_after,
    encode,
    later,
    record_spans,
    trace_id_of,
    weather_agent,
)


async def post(client, body: bytes, key: str, **headers: str):
    return await client.post(
        "/v1/traces", content=body, headers={**PROTOBUF, "X-API-Key": key, **headers}
    )


async def test_spans_in_several_requests_out_of_order_become_one_execution(
    client, database, settings, ingest_key, admin_headers
):
    spans = record_spans(weather_agent)
    root = next(s for s in spans if s.parent is None)
    children = [s for s in spans if s.parent is not None]
    trace_id = trace_id_of(spans)

    # The root first arrives last, after the children, each in its own request.
    for span in children:
        response = await post(client, encode([span]), ingest_key)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/x-protobuf"
        answer = ExportTraceServiceResponse.FromString(response.content)
        assert answer.partial_success.rejected_spans == 0
    # No root yet: nothing is assembled, however long we wait short of the max age.
    assert await assemble_after(database, settings, 60) == 0
    assert (await post(client, encode([root]), ingest_key)).status_code == 200
    # Within the grace period the run is not finished yet.
    assert await assemble_after(database, settings, 1) == 0
    assert await assemble_after(database, settings, settings.otlp_grace_seconds + 1) == 1

    execution = (await client.get(f"/api/executions/{trace_id}", headers=admin_headers)).json()
    assert execution["graph_id"] == "weather"
    assert execution["user_id"] == "user-7"
    assert execution["status"] == "COMPLETED"
    blocks = [n["block_name"] for n in execution["node_executions"]]
    assert blocks == ["invoke_agent weather", "chat gpt-4.1-mini", "execute_tool get_weather"]
    tool = execution["node_executions"][2]
    assert tool["input"] == {"city": "Paris"}
    assert tool["output"] == {"sky": "sunny", "celsius": 21}
    agent = execution["node_executions"][0]
    assert agent["input"][0]["parts"][0]["content"] == "Weather in Paris?"
    assert execution["stats"]["node_count"] == 3

    graph = (await client.get("/api/graphs/weather/versions/1", headers=admin_headers)).json()
    assert {n["block_name"] for n in graph["nodes"]} == set(blocks)
    assert {(link["source_id"], link["sink_id"]) for link in graph["links"]} == {
        ("invoke_agent weather", "chat gpt-4.1-mini"),
        ("invoke_agent weather", "execute_tool get_weather"),
    }
    async with database.read() as session:
        assert await repository.count_pending(session) == 0


async def test_a_span_arriving_after_the_root_restarts_the_grace_period(database, settings):
    spans = record_spans(weather_agent)
    root = [s for s in spans if s.parent is None]
    children = [s for s in spans if s.parent is not None]
    grace = settings.otlp_grace_seconds

    async def arrive(part, seconds: float) -> None:
        request = ExportTraceServiceRequest.FromString(encode(part))
        async with database.write() as session:
            await otlp_service.ingest(session, database.dialect, request, later(seconds))

    await arrive(root + children[:1], 0)
    # A late child, sent again (as a retrying exporter does), then one more.
    await arrive(children[:1], 10)
    assert await assemble_after(database, settings, grace + 5) == 0
    await arrive(children[1:], 20)
    assert await assemble_after(database, settings, grace + 15) == 0
    assert await assemble_after(database, settings, grace + 21) == 1
    async with database.read() as session:
        trace = await repository.get_trace(session, trace_id_of(spans))
        assert trace is not None and trace.span_count == 3


async def test_re_sent_spans_change_nothing(client, database, settings, ingest_key, admin_headers):
    spans = record_spans(weather_agent)
    trace_id = trace_id_of(spans)
    body = encode(spans)
    assert (await post(client, body, ingest_key)).status_code == 200
    # Sent twice before assembly (an exporter's retry): the same one execution.
    assert (await post(client, body, ingest_key)).status_code == 200
    assert await assemble_after(database, settings, 10) == 1
    before = (await client.get(f"/api/executions/{trace_id}", headers=admin_headers)).json()

    # And again after: the response says so, and the run stays as it was.
    response = await post(client, body, ingest_key)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 0
    assert "assembled already" in answer.partial_success.error_message
    assert await assemble_after(database, settings, 10) == 0
    after = (await client.get(f"/api/executions/{trace_id}", headers=admin_headers)).json()
    assert after == before
    async with database.read() as session:
        assert await repository.count_pending(session) == 0
        assert await session.scalar(select(func.count()).select_from(OtlpTrace)) == 1


async def test_a_span_sent_again_keeps_its_first_copy(
    client, database, settings, ingest_key, admin_headers
):
    spans = record_spans(weather_agent)
    assert (await post(client, encode(spans), ingest_key)).status_code == 200
    # The exporter sends the tool span again, now with another result, in a request of its own.
    tool = next(s for s in spans if s.name == "execute_tool get_weather")
    request = ExportTraceServiceRequest.FromString(encode([tool]))
    for pair in request.resource_spans[0].scope_spans[0].spans[0].attributes:
        if pair.key == "gen_ai.tool.call.result":
            pair.value.string_value = '{"sky": "cloudy", "celsius": 12}'
    assert (await post(client, request.SerializeToString(), ingest_key)).status_code == 200

    # Before the run finishes, it is listed as running, with the steps that arrived.
    running = (
        await client.get(f"/api/executions/{trace_id_of(spans)}", headers=admin_headers)
    ).json()
    assert running["status"] == "RUNNING"
    assert len(running["node_executions"]) == 3
    assert await assemble_after(database, settings, 10) == 1
    execution = (
        await client.get(f"/api/executions/{trace_id_of(spans)}", headers=admin_headers)
    ).json()
    assert execution["status"] == "COMPLETED"
    assert execution["stats"]["node_count"] == 3
    assert execution["node_executions"][2]["output"] == {"sky": "sunny", "celsius": 21}
    async with database.read() as session:
        trace = await session.get(OtlpTrace, trace_id_of(spans))
        assert trace is not None and trace.span_count == 3


async def test_spans_of_one_trace_under_two_resources_in_one_request_are_all_kept(
    client, database, settings, ingest_key, admin_headers
):
    # A collector batches the spans of every service a trace crossed into one request.
    spans = record_spans(weather_agent)
    request = ExportTraceServiceRequest.FromString(encode(spans))
    first = request.resource_spans[0]
    second = request.resource_spans.add()
    second.resource.CopyFrom(first.resource)
    second.resource.attributes.add(key="service.name").value.string_value = "weather-tools"
    tool = next(s for s in first.scope_spans[0].spans if s.name == "execute_tool get_weather")
    second.scope_spans.add().spans.append(tool)
    first.scope_spans[0].spans.remove(tool)

    response = await post(client, request.SerializeToString(), ingest_key)
    assert response.status_code == 200, response.text
    assert await assemble_after(database, settings, 10) == 1
    execution = (
        await client.get(f"/api/executions/{trace_id_of(spans)}", headers=admin_headers)
    ).json()
    assert sorted(node["block_name"] for node in execution["node_executions"]) == sorted(
        ["invoke_agent weather", "chat gpt-4.1-mini", "execute_tool get_weather"]
    )


async def test_gzip_body_and_a_failed_tool(client, database, settings, ingest_key, admin_headers):
    spans = record_spans(lambda tracer: weather_agent(tracer, fail_tool=True))
    response = await post(
        client, gzip.compress(encode(spans)), ingest_key, **{"Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    await assemble_after(database, settings, 10)
    execution = (
        await client.get(f"/api/executions/{trace_id_of(spans)}", headers=admin_headers)
    ).json()
    tool = execution["node_executions"][2]
    assert tool["status"] == "FAILED"
    assert "TimeoutError: weather service timed out" in tool["error"]
    assert "tool failed" in tool["error"]
    assert execution["stats"]["node_error_count"] == 1
    # The root did not fail: the agent recovered, so the run completed.
    assert execution["status"] == "COMPLETED"


async def test_an_admin_token_may_send_spans_and_a_bearer_header_works(
    client, database, settings, admin_headers
):
    spans = record_spans(weather_agent)
    response = await client.post(
        "/v1/traces", content=encode(spans), headers={**PROTOBUF, **admin_headers}
    )
    assert response.status_code == 200


async def test_invalid_ids_are_refused_as_partial_success(client, database, ingest_key):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(encode(record_spans(weather_agent)))
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"short"
    response = await post(client, request.SerializeToString(), ingest_key)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "trace_id must be 16 bytes" in answer.partial_success.error_message
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(NodeExecution)) == 2


def status_of(response) -> Status:
    return Status.FromString(response.content)


async def test_a_trace_never_overwrites_an_execution_that_did_not_come_by_otlp(
    client, database, settings, ingest_key, admin_headers
):
    spans = record_spans(weather_agent)
    trace_id = trace_id_of(spans)
    batch = {"executions": [make_execution(trace_id)]}
    assert (await client.post("/api/executions", json=batch, headers=admin_headers)).is_success
    before = (await client.get(f"/api/executions/{trace_id}", headers=admin_headers)).json()

    response = await post(client, encode(spans), ingest_key)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 0
    assert "3 spans belong to traces whose id an execution that did not come by OTLP" in (
        answer.partial_success.error_message
    )
    assert await assemble_after(database, settings, 10) == 0

    after = (await client.get(f"/api/executions/{trace_id}", headers=admin_headers)).json()
    assert after == before
    async with database.read() as session:
        trace = await session.get(OtlpTrace, trace_id)
        assert trace is not None and trace.execution_id is None
        assert "exists already" in (trace.note or "")


async def test_one_pass_assembles_every_ready_trace_over_several_transactions(
    client, database, settings, ingest_key, monkeypatch
):
    # Each transaction takes at most 4 spans (or one trace): 5 traces of 3 spans need 5.
    monkeypatch.setattr(service, "ASSEMBLY_SPANS", 4)
    traces = [record_spans(weather_agent) for _ in range(5)]
    body = encode([span for spans in traces for span in spans])
    assert (await post(client, body, ingest_key)).status_code == 200

    assert await assemble_after(database, settings, 10) == 5
    async with database.read() as session:
        states = (await session.scalars(select(OtlpTrace.state))).all()
        assert states == ["assembled"] * 5
        assert await repository.count_pending(session) == 0


async def test_hundreds_of_traces_assembled_in_one_transaction_each_link_their_execution(
    client, database, settings, ingest_key
):
    # More traces than one SQLite statement records (250 rows), fewer than one pass takes.
    traces = [record_spans(weather_agent) for _ in range(260)]
    body = encode([span for spans in traces for span in spans])
    assert (await post(client, body, ingest_key)).status_code == 200

    assert await assemble_after(database, settings, 10) == 260
    async with database.read() as session:
        rows = (await session.execute(select(OtlpTrace))).scalars().all()
        assert await repository.count_pending(session) == 0
    assert sorted((t.trace_id, t.execution_id) for t in rows) == sorted(
        (trace_id_of(spans), trace_id_of(spans)) for spans in traces
    )
    assert {(t.state, t.span_count, t.note) for t in rows} == {("assembled", 3, None)}
    assert all(t.assembled_at is not None for t in rows)


async def test_traces_that_link_no_execution_are_forgotten_after_the_max_trace_age(
    client, database, settings, ingest_key, admin_headers
):
    kept, refused = record_spans(weather_agent), record_spans(weather_agent)
    # The second trace's id is taken by a REST execution, so it links no execution.
    batch = {"executions": [make_execution(trace_id_of(refused))]}
    assert (await client.post("/api/executions", json=batch, headers=admin_headers)).is_success
    assert (await post(client, encode(kept + refused), ingest_key)).status_code == 200
    # The refused trace was settled as it arrived: only the other one is finished.
    assert await assemble_after(database, settings, 10) == 1

    assert await otlp_service.prune(database, settings, later(60)) == 0
    age = settings.otlp_max_trace_seconds + 60
    assert await otlp_service.prune(database, settings, later(age)) == 1
    async with database.read() as session:
        assert (await session.scalars(select(OtlpTrace.trace_id))).all() == [trace_id_of(kept)]
    # The linked trace still makes re-sent spans change nothing.
    response = await post(client, encode(kept), ingest_key)
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert "assembled already" in answer.partial_success.error_message


async def test_a_deadlock_broken_by_postgresql_reads_as_a_retryable_storage_problem(
    database, dialect
):
    # Should two transactions ever lock traces in opposite orders, PostgreSQL ends one:
    # the OTLP answer must then tell the exporter to retry.
    if dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: no deadlocks")
    rows = [(t * 32, None, None, None, None, 0, 0, "g", None) for t in "ab"]
    async with database.write() as session:
        await repository.insert_new_traces(session, dialect, rows, later(0))
    update = "UPDATE otlp_traces SET note = 'x' WHERE trace_id = '{}'"
    async with database.writer.connect() as one, database.writer.connect() as two:
        await one.begin()
        await two.begin()
        await one.exec_driver_sql(update.format("a" * 32))
        await two.exec_driver_sql(update.format("b" * 32))
        waiting = asyncio.create_task(one.exec_driver_sql(update.format("b" * 32)))
        await asyncio.sleep(0.2)
        outcomes = await asyncio.gather(
            waiting, two.exec_driver_sql(update.format("a" * 32)), return_exceptions=True
        )
    errors = [o for o in outcomes if isinstance(o, DBAPIError)]
    assert len(errors) == 1
    problem = storage_problem(errors[0])
    assert problem is not None and "deadlock" in problem and "retry" in problem.lower()


async def test_spans_sent_while_their_trace_is_assembled_wait_and_are_reported_late(
    database, dialect
):
    # SQLite has one writer at a time: an ingest cannot run during an assembly there.
    if dialect != "postgresql":
        pytest.skip("PostgreSQL only: concurrent writers")
    spans = record_spans(weather_agent)
    trace_id = trace_id_of(spans)
    request = ExportTraceServiceRequest.FromString(encode(spans))

    async def ingest() -> service.IngestReport:
        async with database.write() as session:
            return await otlp_service.ingest(session, dialect, request, later(0))

    await ingest()
    where = f"WHERE trace_id = '{trace_id}'"
    async with database.writer.connect() as assembler:
        # As an assembly does: the trace's row locked, then marked assembled.
        await assembler.begin()
        await assembler.exec_driver_sql(f"SELECT 1 FROM otlp_traces {where} FOR UPDATE")
        again = asyncio.create_task(ingest())
        await asyncio.sleep(0.5)
        assert not again.done(), "the ingest did not wait for the assembly"
        await assembler.exec_driver_sql(f"UPDATE otlp_traces SET state = 'assembled' {where}")
        await assembler.commit()
    report = await again
    assert report.accepted == 0
    assert "assembled already" in report.message
    async with database.read() as session:
        assert await repository.count_pending(session) == 0
