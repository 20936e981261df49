"""The quick-start demo's judging step: a job it could not finish is named, not hidden."""

import re
import shlex

from tests.fake_llm import FakeLLM, Reply, answer
from tests.jobs.test_cli import llm_env
from tests.judge.conftest import fake_llm  # noqa: F401  (fixture)


async def test_a_job_the_demo_could_not_finish_is_named_with_how_to_resume(
    cli,
    database,
    fake_llm: FakeLLM,  # noqa: F811
):
    fake_llm.default = Reply(status=401)  # the provider refuses the key: the job fails
    env = llm_env(fake_llm)

    result = await cli("demo", "--judge-per-agent", "1", extra_env=env)

    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if " failed after " in line]
    assert lines, result.stdout
    assert all("HTTP 401" in line for line in lines)
    # The line's own command resumes that job once the provider takes the key.
    command = re.search(r"`execlens (analyze [^`]+)`", lines[0]).group(1)
    job_id = re.search(r"job (\S+) failed", lines[0]).group(1)
    fake_llm.default = answer("The agent did what was asked.", 0.9)

    resumed = await cli(*shlex.split(command), extra_env=env)

    assert resumed.exit_code == 0, resumed.output
    assert f"resuming job {job_id}" in resumed.output
