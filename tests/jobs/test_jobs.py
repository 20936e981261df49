"""Async analytics jobs: create, watch, results, events, cancel, resume, cost cap, failures."""

import asyncio
import csv
import io
import itertools
import json

import httpx2

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.jobs.models import JobStatus
from execlens.jobs.service import job_service
from execlens.jobs.worker import Worker
from execlens.judge.judge import Judge
from tests.conftest import JWT_SECRET
from tests.fake_llm import FakeLLM
from tests.jobs.conftest import (
    FastClock,
    Reply,
    answer,
    create_job,
    finished,
    job_row,
    run,
    run_id_of,
    running_worker,
    store,
    until,
    verdict_counts,
    wait_for,
)

JOBS = "/api/analytics/jobs"


async def test_a_job_runs_to_completion_and_reports_progress(
    database, api, worker, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 13)])

    response = await api.post(JOBS, json={"graph_id": "g-blog", "concurrency": 4})

    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert response.headers["location"] == f"{JOBS}/{job_id}"
    await wait_for(database, job_id, finished)
    job = (await api.get(f"{JOBS}/{job_id}")).json()
    assert job["status"] == "completed"
    assert (job["total"], job["succeeded"], job["failed"], job["skipped"]) == (12, 12, 0, 0)
    assert job["progress"] == 1.0
    assert job["llm_calls"] == 12
    assert job["input_tokens"] == 12 * 420
    assert job["output_tokens"] == 12 * 38
    assert job["cost_usd"] > 0
    assert await verdict_counts(database) == {f"run-{n:03d}": 1 for n in range(1, 13)}
    listed = (await api.get(JOBS)).json()["items"]
    assert [j["id"] for j in listed] == [job_id]


async def test_results_page_in_order_and_export_as_csv(database, api, worker, fake_llm):
    await store(database, [run(n) for n in range(1, 6)])
    job_id = (await api.post(JOBS, json={"graph_id": "g-blog"})).json()["job_id"]
    await wait_for(database, job_id, finished)

    first = (await api.get(f"{JOBS}/{job_id}/results", params={"limit": 3})).json()
    rest = (
        await api.get(f"{JOBS}/{job_id}/results", params={"after": first["next_cursor"]})
    ).json()

    ids = [r["exec_id"] for r in first["items"] + rest["items"]]
    # Newest first, each once.
    assert ids == ["run-005", "run-004", "run-003", "run-002", "run-001"]
    assert rest["next_cursor"] is None
    exported = await api.get(f"{JOBS}/{job_id}/results", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["exec_id"] for r in rows] == ids
    assert rows[0]["status"] == "success"
    assert rows[0]["summary_text"] == "The agent wrote the blog post you asked for."


async def test_csv_cells_cannot_run_as_spreadsheet_formulas(database, api, worker, fake_llm):
    await store(database, [run(1)])
    fake_llm.default = answer('=HYPERLINK("http://evil.example","click")', 0.5)
    job_id = (await api.post(JOBS, json={"graph_id": "g-blog"})).json()["job_id"]
    await wait_for(database, job_id, finished)

    exported = await api.get(f"{JOBS}/{job_id}/results", params={"format": "csv"})

    row = next(csv.DictReader(io.StringIO(exported.text)))
    assert row["summary_text"] == '\'=HYPERLINK("http://evil.example","click")'


async def test_events_stream_every_item_then_end(database, api, worker, fake_llm):
    await store(database, [run(n) for n in range(1, 5)])
    job_id = (await api.post(JOBS, json={"graph_id": "g-blog"})).json()["job_id"]
    await wait_for(database, job_id, finished)

    response = await api.get(f"{JOBS}/{job_id}/events")

    events = parse_sse(response.text)
    items = [e for e in events if e["event"] == "item"]
    assert sorted(json.loads(e["data"])["exec_id"] for e in items) == [
        f"run-{n:03d}" for n in range(1, 5)
    ]
    assert [e["id"] for e in items] == ["1", "2", "3", "4"]
    assert events[-1]["event"] == "end"
    assert json.loads(events[-1]["data"])["status"] == "completed"
    # A client reconnecting after event 2 gets only what it missed.
    again = await api.get(f"{JOBS}/{job_id}/events", headers={"Last-Event-ID": "2"})
    assert [e["id"] for e in parse_sse(again.text) if e["event"] == "item"] == ["3", "4"]


def parse_sse(text: str) -> list[dict]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict = {}
        for line in block.splitlines():
            if ":" in line and not line.startswith(":"):
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "event" in fields:
            events.append(fields)
    return events


async def test_cancel_stops_new_calls_and_keeps_finished_results(
    database, api, worker, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 21)])
    fake_llm.default = Reply(answer().content, delay=0.3)
    job_id = (await api.post(JOBS, json={"graph_id": "g-blog", "concurrency": 2})).json()["job_id"]
    await wait_for(database, job_id, lambda j: j.succeeded >= 3)

    cancelled = await api.post(f"{JOBS}/{job_id}/cancel")
    cancelled_at = asyncio.get_running_loop().time()

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    # Once the worker has left the job, every call it would ever make has started.
    await until(lambda: not worker.running(job_id))
    late = [r for r in fake_llm.received if r.at > cancelled_at + 1.0]
    assert late == [], "a call started more than a second after cancel"
    job = (await api.get(f"{JOBS}/{job_id}")).json()
    assert job["status"] == "cancelled"
    assert 3 <= job["succeeded"] < 20
    kept = await verdict_counts(database)
    assert len(kept) == job["succeeded"]

    resumed = await api.post(f"{JOBS}/{job_id}/resume")

    assert resumed.status_code == 202
    await wait_for(database, job_id, finished)
    assert (await api.get(f"{JOBS}/{job_id}")).json()["succeeded"] == 20
    assert await verdict_counts(database) == {f"run-{n:03d}": 1 for n in range(1, 21)}


async def test_a_job_pauses_at_its_cost_cap_and_resumes_with_a_higher_one(
    database, api, worker, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 21)])
    # gpt-4.1-mini: 420 input + 38 output tokens cost about $0.000229 per call.
    body = {"graph_id": "g-blog", "concurrency": 4, "max_cost_usd": 0.001}
    job_id = (await api.post(JOBS, json=body)).json()["job_id"]

    job = await wait_for(database, job_id, finished)

    assert job.status == JobStatus.PAUSED
    assert "cost cap" in job.reason
    assert "raise max_cost_usd and resume" in job.reason
    assert job.cost_usd <= 0.001
    assert 0 < job.succeeded < 20

    resumed = await api.post(f"{JOBS}/{job_id}/resume", json={"max_cost_usd": 1.0})

    assert resumed.status_code == 202
    job = await wait_for(database, job_id, finished)
    assert job.status == JobStatus.COMPLETED
    assert job.succeeded == 20
    assert len(fake_llm.received) == 20


async def test_a_flaky_provider_never_stops_the_job(database, api, worker, fake_llm: FakeLLM):
    await store(database, [run(n) for n in range(1, 31)])
    calls = itertools.count()
    # Three calls in ten fail: rate limited, server error, and a body that is not a verdict.
    failures = {
        0: Reply(status=429, headers={"retry-after-ms": "20"}),
        3: Reply(status=500),
        6: Reply("not json at all"),
    }
    fake_llm.policy = lambda body: failures.get(next(calls) % 10, answer())

    job_id = (await api.post(JOBS, json={"graph_id": "g-blog", "concurrency": 8})).json()["job_id"]
    job = await wait_for(database, job_id, finished)

    assert job.status == JobStatus.COMPLETED
    assert job.succeeded + job.failed == 30
    results = (await api.get(f"{JOBS}/{job_id}/results", params={"limit": 100})).json()["items"]
    assert {r["status"] for r in results} <= {"success", "failed"}
    assert all(r["error_message"] for r in results if r["status"] == "failed")
    assert job.succeeded >= 25  # the SDK's retries and the judge's re-asks recover most


async def test_requests_per_minute_paces_the_calls(
    database, api, jobs_settings, judge, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 9)])
    body = {"graph_id": "g-blog", "concurrency": 8, "requests_per_minute": 240}
    # The worker paces on job time that runs ten times faster: no second of real waiting.
    clock = FastClock(speed=10)
    # Leases run on that clock too: a long one, so a slow machine never sees one expire
    # (an expired lease hands its item to the next claim, and the run is called twice).
    settings = jobs_settings.model_copy(update={"job_lease_seconds": 600})

    async with running_worker(database, settings, judge, clock):
        asked = clock.monotonic()
        job_id = (await api.post(JOBS, json=body)).json()["job_id"]
        await wait_for(database, job_id, finished)

    # 240/min is 4 per second: the bucket starts full with 4 when the job is created, so
    # the 8th call may start one second later at the earliest. Measured from before the
    # job existed, a slow machine only makes the span longer, never shorter.
    starts = sorted(clock.job_time(r.at) for r in fake_llm.received)
    assert len(starts) == 8
    assert starts[-1] - asked >= 1.0


async def test_estimate_counts_what_would_be_judged(database, api, fake_llm: FakeLLM):
    scored = {"activity_status": "Done.", "correctness_score": 1.0}
    await store(database, [run(1), run(2), run(3, stats=scored)])

    response = await api.post(f"{JOBS}/estimate", json={"graph_id": "g-blog"})

    assert response.status_code == 200
    estimate = response.json()
    assert estimate["matching_executions"] == 3
    assert estimate["to_judge"] == 2
    assert estimate["model"] == "gpt-4.1-mini"
    assert estimate["input_tokens"] > 0
    assert estimate["cost_usd"] > 0
    assert fake_llm.received == []


async def test_limit_judges_only_the_newest_runs(database, api, worker, fake_llm):
    await store(database, [run(n) for n in range(1, 11)])

    job_id = (await api.post(JOBS, json={"graph_id": "g-blog", "limit": 3})).json()["job_id"]
    job = await wait_for(database, job_id, finished)

    assert (job.total, job.succeeded) == (3, 3)
    assert set(await verdict_counts(database)) == {"run-010", "run-009", "run-008"}


async def test_rescore_if_judge_changed_rejudges_other_models_verdicts(
    database, api, worker, fake_llm: FakeLLM
):
    await store(
        database, [run(1), run(2, stats={"activity_status": "Old.", "correctness_score": 0.1})]
    )
    first = (await api.post(JOBS, json={"graph_id": "g-blog"})).json()["job_id"]
    await wait_for(database, first, finished)
    assert len(fake_llm.received) == 1  # run-002 had an imported score: skipped

    body = {"graph_id": "g-blog", "rescore_if_judge_changed": True}
    second = (await api.post(JOBS, json=body)).json()["job_id"]
    job = await wait_for(database, second, finished)

    # run-001's verdict is current (same model, prompts, judge); run-002's has no provenance.
    assert (job.skipped, job.succeeded) == (1, 1)
    assert run_id_of(fake_llm.received[-1].body) == "run-002"


async def test_bad_job_requests_are_refused(database, api):
    cases = [
        ({"graph_id": "g-blog", "concurrency": 0}, "concurrency"),
        ({"graph_id": "g-blog", "concurrency": 65}, "concurrency"),
        ({"graph_id": "g-blog", "max_cost_usd": -1}, "max_cost_usd"),
        ({"graph_id": "g-blog", "limit": 0}, "limit"),
        ({"graph_id": "g-blog", "requests_per_minute": 0}, "requests_per_minute"),
        (
            {
                "graph_id": "g-blog",
                "created_after": "2026-11-10T00:00:00Z",
                "created_before": "2026-11-01T00:00:00Z",
            },
            "created_after must be earlier",
        ),
        ({"graph_id": "g-blog", "user_prompt": "no placeholder"}, "{{EXECUTION_DATA}}"),
    ]
    for body, expected in cases:
        response = await api.post(JOBS, json=body)
        assert response.status_code == 422, body
        assert expected in response.text, response.text
    assert (await api.get(JOBS)).json()["items"] == []


async def test_unknown_jobs_and_wrong_states_answer_clearly(database, api, worker, fake_llm):
    assert (await api.get(f"{JOBS}/nope")).status_code == 404
    assert (await api.post(f"{JOBS}/nope/cancel")).status_code == 404
    assert (await api.get(f"{JOBS}/nope/results")).status_code == 404
    assert (await api.get(f"{JOBS}/nope/events")).status_code == 404
    await store(database, [run(1)])
    job_id = (await api.post(JOBS, json={"graph_id": "g-blog"})).json()["job_id"]
    await wait_for(database, job_id, finished)

    resume = await api.post(f"{JOBS}/{job_id}/resume")
    cancel = await api.post(f"{JOBS}/{job_id}/cancel")

    assert resume.status_code == 409
    assert "only paused, cancelled or failed jobs resume" in resume.json()["detail"]
    assert cancel.status_code == 409


async def test_job_endpoints_require_an_admin(client):
    for method, path in [
        ("POST", JOBS),
        ("GET", JOBS),
        ("POST", f"{JOBS}/estimate"),
        ("GET", f"{JOBS}/x"),
        ("POST", f"{JOBS}/x/cancel"),
        ("POST", f"{JOBS}/x/resume"),
        ("GET", f"{JOBS}/x/events"),
        ("GET", f"{JOBS}/x/results"),
    ]:
        response = await client.request(method, path, json={"graph_id": "g"})
        assert response.status_code == 401, path


async def test_a_job_with_nothing_to_do_completes(database, api, worker):
    job_id = (await api.post(JOBS, json={"graph_id": "g-empty"})).json()["job_id"]

    job = await wait_for(database, job_id, finished)

    assert (job.status, job.total) == (JobStatus.COMPLETED, 0)


async def test_serve_runs_jobs_with_its_own_worker(database, jobs_settings, fake_llm):
    await store(database, [run(n) for n in range(1, 4)])
    app = create_app(jobs_settings, database=database, migrate=False)
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    transport = httpx2.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client,
    ):
        job_id = (await client.post(JOBS, json={"graph_id": "g-blog"})).json()["job_id"]
        job = await wait_for(database, job_id, finished)

    assert (job.status, job.succeeded) == (JobStatus.COMPLETED, 3)


async def test_a_provider_outage_pauses_the_job_and_gives_up_on_nothing(
    database, jobs_settings, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 13)])
    settings = jobs_settings.model_copy(update={"judge_max_retries": 0})
    fake_llm.default = Reply(status=503)
    judge = Judge(settings)
    job_id = await create_job(database, settings, concurrency=4)

    status = await Worker(database, settings, judge).run_job(job_id)

    job = await job_row(database, job_id)
    assert status == JobStatus.PAUSED
    assert "provider looks unavailable" in job.reason
    assert "HTTP 503" in job.reason
    assert (job.succeeded, job.failed) == (0, 0)

    fake_llm.default = answer()
    async with database.write() as session:
        await job_service.resume(session, job_id, actor="test")
    status = await Worker(database, settings, judge).run_job(job_id)
    await judge.aclose()

    job = await job_row(database, job_id)
    assert (status, job.succeeded, job.failed) == (JobStatus.COMPLETED, 12, 0)
    assert await verdict_counts(database) == {f"run-{n:03d}": 1 for n in range(1, 13)}
