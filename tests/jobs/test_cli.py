"""`execlens analyze` and `execlens worker` as a user runs them."""

import asyncio
import signal

from sqlalchemy import select

from execlens.jobs.models import JobItem, JobStatus
from tests.fake_llm import FakeLLM
from tests.jobs.conftest import (
    Reply,
    answer,
    database_env,
    run,
    spawn,
    store,
    until,
    verdict_counts,
)
from tests.judge.conftest import OPENAI_KEY


def llm_env(fake_llm: FakeLLM) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": fake_llm.base_url,
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
        "EXECLENS_JUDGE_MODEL": "gpt-4.1-mini",
        "EXECLENS_JOB_POLL_SECONDS": "0.05",
    }


async def test_analyze_runs_the_job_here_and_prints_a_summary(database, cli, fake_llm):
    await store(database, [run(n) for n in range(1, 7)])

    result = await cli(
        "analyze", "--graph-id", "g-blog", "--concurrency", "3", extra_env=llm_env(fake_llm)
    )

    assert result.exit_code == 0, result.output
    assert "completed" in result.stdout
    assert len(await verdict_counts(database)) == 6
    again = await cli("analyze", "--graph-id", "g-blog", extra_env=llm_env(fake_llm))
    # A second run finds everything judged: a new job that skips all six.
    assert again.exit_code == 0
    assert len(fake_llm.received) == 6


async def test_analyze_of_an_agent_without_runs_names_the_agents_that_have_some(
    database, cli, fake_llm
):
    await store(database, [run(1), run(2, graph_id="g-mail")])

    typo = await cli("analyze", "--graph-id", "g-blgo", extra_env=llm_env(fake_llm))
    known = await cli("analyze", "--graph-id", "g-blog", extra_env=llm_env(fake_llm))

    assert typo.exit_code == 0, typo.output
    assert "no runs of agent 'g-blgo'; agents with runs: g-blog, g-mail" in typo.stderr
    assert known.exit_code == 0 and "no runs of agent" not in known.stderr
    assert len(fake_llm.received) == 1


async def test_dry_run_estimates_and_judges_nothing(database, cli, fake_llm):
    await store(database, [run(n) for n in range(1, 4)])

    result = await cli("analyze", "--graph-id", "g-blog", "--dry-run", extra_env=llm_env(fake_llm))

    assert result.exit_code == 0, result.output
    assert "gpt-4.1-mini" in result.stdout
    assert "$0.00" in result.stdout
    assert fake_llm.received == []
    assert await verdict_counts(database) == {}


async def test_bad_options_end_with_one_readable_line(database, cli, fake_llm):
    cases = [
        (["--concurrency", "0"], "--concurrency"),
        (["--created-after", "yesterday"], "--created-after"),
        (["--model", "no-such-model"], "no-such-model"),
        (["--max-cost", "-2"], "--max-cost"),
    ]
    for options, expected in cases:
        result = await cli("analyze", "--graph-id", "g-blog", *options, extra_env=llm_env(fake_llm))
        assert result.exit_code == 1, options
        assert expected.replace("--max-cost", "--max-cost-usd") in result.stderr, result.stderr
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


async def test_a_failed_job_exits_non_zero_with_the_reason(database, cli, fake_llm):
    await store(database, [run(1)])
    fake_llm.default = Reply(status=401)

    result = await cli("analyze", "--graph-id", "g-blog", extra_env=llm_env(fake_llm))

    assert result.exit_code == 1
    assert "HTTP 401" in result.stdout


async def test_ctrl_c_cancels_and_the_same_command_resumes(database, settings, fake_llm: FakeLLM):
    await store(database, [run(n) for n in range(1, 21)])
    fake_llm.default = Reply(answer().content, delay=0.2)
    env = llm_env(fake_llm) | database_env(settings)
    command = ["analyze", "--graph-id", "g-blog", "--concurrency", "2"]
    first = await spawn(*command, env=env)
    await until(lambda: len(fake_llm.received) >= 4)
    first.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(first.communicate(), 20)

    assert first.returncode == 130, err
    assert b"run the same command again to resume" in err
    done_before = len(await verdict_counts(database))
    assert 0 < done_before < 20

    second = await spawn(*command, env=env)
    out, err = await asyncio.wait_for(second.communicate(), 60)

    assert second.returncode == 0, err
    assert b"resuming job" in err
    assert JobStatus.COMPLETED in out.decode()
    counts = await verdict_counts(database)
    assert counts == {f"run-{n:03d}": 1 for n in range(1, 21)}
    # Only the calls in flight at Ctrl-C (at most the concurrency) were made twice.
    assert len(fake_llm.received) <= 20 + 2


async def test_analyze_leaves_the_job_to_a_running_worker(database, cli, worker, fake_llm):
    await store(database, [run(n) for n in range(1, 5)])

    result = await cli("analyze", "--graph-id", "g-blog", extra_env=llm_env(fake_llm))

    assert result.exit_code == 0, result.output
    assert "run by 1 running worker(s)" in " ".join(result.stderr.split())
    assert "completed" in result.stdout
    async with database.read() as session:
        items = (await session.scalars(select(JobItem))).all()
    # The worker judged them, not the CLI's process.
    assert {item.judged_by for item in items} == {worker.id}
