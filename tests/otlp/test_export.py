"""Verdicts go out as gen_ai.evaluation.result events; export never holds judging up."""

from collections.abc import Iterator

import pytest

from tests.fake_llm import answer
from tests.judge.conftest import OPENAI_KEY, fake_llm, stored_run  # noqa: F401  (fixtures)
from tests.local_server import free_port
from tests.otlp.log_receiver import LogReceiver


@pytest.fixture
def receiver() -> Iterator[LogReceiver]:
    server = LogReceiver().start()
    yield server
    server.stop()


def judge_env(fake_llm, endpoint: str) -> dict[str, str]:  # noqa: F811
    return {
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": fake_llm.base_url,
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
        "EXECLENS_OTLP_EXPORT_ENDPOINT": endpoint,
        "EXECLENS_OTLP_EXPORT_TIMEOUT_SECONDS": "2",
    }


async def test_execlens_judge_exports_the_verdict_without_a_trace_link(
    cli,
    fake_llm,  # noqa: F811
    stored_run,  # noqa: F811
    receiver,
):
    fake_llm.then(answer("You got your blog post about bees.", 0.6))
    result = await cli("judge", stored_run, extra_env=judge_env(fake_llm, receiver.url))
    assert result.exit_code == 0, result.output
    (record,) = receiver.records
    attributes = {kv.key: kv.value for kv in record.attributes}
    assert record.event_name == "gen_ai.evaluation.result"
    assert attributes["gen_ai.evaluation.score.value"].double_value == 0.6
    assert attributes["gen_ai.evaluation.score.label"].string_value == "partial"
    assert attributes["execlens.execution.id"].string_value == stored_run
    # The run did not come in by OTLP: no trace to link it to.
    assert record.trace_id == b""


async def test_an_unreachable_collector_does_not_stop_the_verdict(
    cli,
    fake_llm,  # noqa: F811
    stored_run,  # noqa: F811
):
    fake_llm.then(answer("You got your blog post about bees.", 0.8))
    nobody = f"http://127.0.0.1:{free_port()}"
    result = await cli("judge", stored_run, extra_env=judge_env(fake_llm, nobody))
    assert result.exit_code == 0, result.output
    assert "score: 0.80" in result.stdout


async def test_execlens_analyze_exports_the_verdicts_of_its_job(
    cli,
    fake_llm,  # noqa: F811
    stored_run,  # noqa: F811
    receiver,
):
    fake_llm.default = answer("You got your blog post about bees.", 0.9)
    env = judge_env(fake_llm, receiver.url) | {"EXECLENS_JUDGE_MODEL": "gpt-4.1-mini"}
    result = await cli("analyze", "--graph-id", "g-blog", extra_env=env)
    assert result.exit_code == 0, result.output
    (record,) = receiver.records
    attributes = {kv.key: kv.value for kv in record.attributes}
    assert attributes["execlens.execution.id"].string_value == stored_run
    assert attributes["gen_ai.evaluation.score.value"].double_value == 0.9
