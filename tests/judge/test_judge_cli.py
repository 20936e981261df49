"""`execlens judge` against the fake OpenAI-compatible server."""

from tests.fake_llm import Reply, answer
from tests.judge.conftest import OPENAI_KEY


def _env(fake_llm) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": fake_llm.base_url,
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
    }


async def test_judge_prints_digest_verdict_tokens_and_cost(cli, fake_llm, stored_run):
    fake_llm.then(answer("You got your blog post about bees.", 0.8))
    result = await cli("judge", stored_run, "--show-prompt", extra_env=_env(fake_llm))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "openai:gpt-4.1-mini" in out
    assert "420 in / 38 out" in out
    assert "cost $0.000229" in out
    assert "score: 0.80" in out
    assert "summary: You got your blog post about bees." in out
    assert "system prompt" in out and "Agent: Blog writer" in out
    assert OPENAI_KEY not in result.output


async def test_judge_errors_are_one_line(cli, fake_llm, stored_run):
    env = _env(fake_llm)
    missing = await cli("judge", "no-such-run", extra_env=env)
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "error: execution 'no-such-run' does not exist"

    unknown = await cli("judge", stored_run, "--model", "gpt-99", extra_env=env)
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: model_name 'gpt-99' is not available")
    assert len(unknown.stderr.strip().splitlines()) == 1

    unconfigured = await cli("judge", stored_run, "--model", "claude-haiku-4-5", extra_env=env)
    assert unconfigured.exit_code == 1
    assert "needs the anthropic provider, which is not configured" in unconfigured.stderr

    fake_llm.default = Reply(status=500)
    failing = await cli("judge", stored_run, extra_env=env | {"EXECLENS_JUDGE_MAX_RETRIES": "0"})
    assert failing.exit_code == 1
    assert failing.stderr.strip() == f"error: no verdict for {stored_run}: openai answered HTTP 500"
