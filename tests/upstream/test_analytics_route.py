"""POST /api/executions/admin/execution_analytics: counts, statuses, skip_existing, leniency."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from execlens.jobs.models import JobItem, WorkerRecord
from execlens.judge.deps import open_judge
from tests.fake_llm import FakeLLM
from tests.jobs.conftest import (
    Reply,
    answer,
    run,
    run_id_of,
    running_worker,
    store,
    verdict_counts,
)

URL = "/api/executions/admin/execution_analytics"


async def test_report_counts_and_statuses_add_up(database, api, fake_llm: FakeLLM):
    scored = {"activity_status": "Wrote the post.", "correctness_score": 0.8}
    await store(
        database,
        [
            run(1),
            run(2),
            run(3),
            run(4, stats={"cost": 1, **scored}),
            run(5, status="TERMINATED"),
            run(6, status="RUNNING"),  # not finished: never considered
            run(7, graph_id="g-other"),  # another agent
        ],
    )

    def policy(body: dict) -> Reply:
        if run_id_of(body) == "run-003":
            return Reply("this is not JSON")
        return answer(f"Wrote the post for {run_id_of(body)}.", 0.75)

    fake_llm.policy = policy
    response = await api.post(URL, json={"graph_id": "g-blog", "batch_size": 3})

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["total_executions"] == 5
    assert report["successful_analytics"] == 3
    assert report["failed_analytics"] == 1
    assert report["skipped_executions"] == 1
    assert report["processed_executions"] == 4
    by_id = {r["exec_id"]: r for r in report["results"]}
    assert set(by_id) == {"run-001", "run-002", "run-003", "run-004", "run-005"}
    assert by_id["run-001"]["status"] == "success"
    assert by_id["run-001"]["summary_text"] == "Wrote the post for run-001."
    assert by_id["run-001"]["score"] == 0.75
    assert by_id["run-001"]["agent_id"] == "g-blog"
    assert by_id["run-001"]["version_id"] == 1
    assert by_id["run-001"]["user_id"] == "u-1"
    assert by_id["run-003"]["status"] == "failed"
    assert "no valid verdict" in by_id["run-003"]["error_message"]
    assert by_id["run-003"]["summary_text"] is None
    # A skipped run reports the summary and score it already had.
    assert by_id["run-004"] == by_id["run-004"] | {
        "status": "skipped",
        "summary_text": "Wrote the post.",
        "score": 0.8,
        "error_message": None,
    }
    # Each result carries the run's creation and last change: a verdict stored now, else
    # its end (run-004 was scored before it was imported).
    assert (
        by_id["run-004"]["created_at"] == by_id["run-004"]["updated_at"] == "2026-11-05T04:04:00Z"
    )
    started = datetime.now(UTC) - timedelta(minutes=5)
    assert datetime.fromisoformat(by_id["run-001"]["updated_at"]) > started
    assert by_id["run-001"]["created_at"] == "2026-11-02T01:01:00Z"
    # The verdicts are stored: the executions now carry them.
    stored = (await api.get("/api/executions/run-001")).json()
    assert stored["stats"]["activity_status"] == "Wrote the post for run-001."
    assert await verdict_counts(database) == {"run-001": 1, "run-002": 1, "run-005": 1}


async def test_skip_existing_needs_both_summary_and_score(database, api, fake_llm: FakeLLM):
    await store(
        database,
        [
            run(1, stats={"activity_status": "Only a summary."}),
            run(2, stats={"correctness_score": 0.5}),
            run(3, stats={"activity_status": "Both.", "correctness_score": 0.9}),
        ],
    )

    report = (await api.post(URL, json={"graph_id": "g-blog"})).json()

    statuses = {r["exec_id"]: r["status"] for r in report["results"]}
    assert statuses == {"run-001": "success", "run-002": "success", "run-003": "skipped"}
    assert len(fake_llm.received) == 2


async def test_without_skip_existing_every_finished_run_is_judged(database, api, fake_llm: FakeLLM):
    await store(database, [run(1, stats={"activity_status": "Both.", "correctness_score": 0.9})])

    report = (await api.post(URL, json={"graph_id": "g-blog", "skip_existing": False})).json()

    assert report["successful_analytics"] == 1
    assert report["skipped_executions"] == 0
    assert report["results"][0]["summary_text"] == "The agent wrote the blog post you asked for."


async def test_filters_by_version_user_and_creation_time(database, api, fake_llm: FakeLLM):
    await store(
        database,
        [
            run(1, created_at="2026-11-02T00:00:00Z"),
            run(2, created_at="2026-11-20T00:00:00Z"),
            run(3, created_at="2026-11-21T00:00:00Z", user_id="u-2"),
            run(4, created_at="2026-11-22T00:00:00Z", graph_version=2),
        ],
    )
    body = {
        "graph_id": "g-blog",
        "graph_version": 1,
        "user_id": "u-1",
        "created_after": "2026-11-10T00:00:00",
    }

    report = (await api.post(URL, json=body)).json()

    assert [r["exec_id"] for r in report["results"]] == ["run-002"]


async def test_no_matching_runs_gives_an_empty_report(database, api, fake_llm: FakeLLM):
    report = (await api.post(URL, json={"graph_id": "g-none"})).json()

    assert report == {
        "total_executions": 0,
        "processed_executions": 0,
        "successful_analytics": 0,
        "failed_analytics": 0,
        "skipped_executions": 0,
        "results": [],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"graph_id": "g-blog", "batch_size": 0}, "batch_size"),
        ({"graph_id": "g-blog", "batch_size": 26}, "batch_size"),
        ({}, "graph_id"),
        ({"graph_id": "g-blog", "system_prompt": " "}, "system_prompt"),
        ({"graph_id": "g-blog", "user_prompt": "no placeholder"}, "user_prompt"),
    ],
)
async def test_bad_requests_name_the_field(database, api, fake_llm, body, field):
    await store(database, [run(1)])

    response = await api.post(URL, json=body)

    assert response.status_code == 422
    assert response.json()["message"].startswith(field)
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert fake_llm.received == []
    assert await verdict_counts(database) == {}


async def test_unknown_fields_are_ignored_as_upstream_ignores_them(database, api, fake_llm):
    await store(database, [run(1), run(2, user_id="u-2")])
    # A newer admin page may send fields this version does not know; a blank user id
    # means every user, as upstream reads it.
    body = {"graph_id": "g-blog", "user_id": "", "colour": "red", "created_before": None}

    response = await api.post(URL, json=body)

    assert response.status_code == 200, response.text
    assert response.json()["successful_analytics"] == 2


async def test_an_unavailable_model_is_refused_before_anything_runs(database, api, fake_llm):
    await store(database, [run(1)])

    response = await api.post(URL, json={"graph_id": "g-blog", "model_name": "claude-haiku-4-5"})

    assert response.status_code == 422
    # FastAPI's list of field errors, the shape upstream's clients read.
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "model_name"]
    assert "claude-haiku-4-5" in error["msg"] and "anthropic" in error["msg"]
    assert fake_llm.received == []


async def test_bad_provider_credentials_fail_the_request_clearly(database, api, fake_llm):
    await store(database, [run(1), run(2)])
    fake_llm.default = Reply(status=401)

    response = await api.post(URL, json={"graph_id": "g-blog"})

    assert response.status_code == 502
    assert "HTTP 401" in response.json()["detail"]
    assert "resume" in response.json()["detail"]


async def test_requires_an_admin(client):
    response = await client.post(URL, json={"graph_id": "g-blog"})

    assert response.status_code == 401


async def test_a_running_worker_judges_the_job_and_the_request_waits_for_it(
    database, api, jobs_settings, fake_llm: FakeLLM
):
    await store(database, [run(n) for n in range(1, 9)])
    fake_llm.default = Reply(answer().content, delay=0.05)

    async with (
        open_judge(jobs_settings) as judge,
        running_worker(database, jobs_settings, judge) as worker,
    ):
        await until_registered(database, worker.id)
        response = await api.post(URL, json={"graph_id": "g-blog", "batch_size": 4})

    assert response.status_code == 200, response.text
    assert response.json()["successful_analytics"] == 8
    async with database.read() as session:
        judged_by = set((await session.execute(select(JobItem.judged_by))).scalars())
    # The request ran no worker of its own beside the one that was up.
    assert judged_by == {worker.id}


async def until_registered(database, worker_id: str) -> None:
    """Wait until the worker's first heartbeat is stored."""
    for _ in range(200):
        async with database.read() as session:
            if await session.get(WorkerRecord, worker_id) is not None:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker never registered")
