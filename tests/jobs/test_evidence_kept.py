"""Job results say how much of each run the judge's digest kept."""

from tests.jobs.conftest import finished, run, store, wait_for

JOBS = "/api/analytics/jobs"


async def test_results_show_the_share_of_each_run_the_judge_read(database, api, worker, fake_llm):
    long_run = run(2)
    step = {
        "id": "run-002-draft",
        "node_id": "draft",
        "block_name": "AITextGeneratorBlock",
        "status": "COMPLETED",
        "input": {"prompt": "Write a long draft."},
        "output": {"response": "draft " * 20_000},
        "queued_at": long_run["created_at"],
    }
    long_run["node_executions"].insert(0, step)
    await store(database, [run(1), long_run])
    job_id = (await api.post(JOBS, json={"graph_id": "g-blog"})).json()["job_id"]
    await wait_for(database, job_id, finished)

    items = (await api.get(f"{JOBS}/{job_id}/results")).json()["items"]

    kept = {item["exec_id"]: item["evidence_kept"] for item in items}
    assert kept["run-001"] == 1.0
    assert 0 < kept["run-002"] < 0.25
