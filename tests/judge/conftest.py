"""Fixtures for judge tests: a fake OpenAI-compatible server and a stored execution."""

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from execlens.config import Settings
from execlens.executions.schemas import ExecutionIn, GraphIn
from execlens.executions.service import execution_service
from tests.factories import make_execution, make_graph
from tests.fake_llm import FakeLLM

OPENAI_KEY = "sk-test-openai-key-0000"
ANTHROPIC_KEY = "sk-ant-test-key-1111"


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
def judge_settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    """Settings with OpenAI pointed at the fake server and no local model."""
    return settings.model_copy(
        update={
            "openai_api_key": SecretStr(OPENAI_KEY),
            "openai_base_url": fake_llm.base_url,
            "local_model_enabled": False,
            "judge_model": "gpt-4.1-mini",
            "judge_timeout_seconds": 5.0,
        }
    )


def blog_run(execution_id: str = "run-1", **overrides) -> dict:
    """A completed blog-writer run whose output block delivered a post."""
    execution = make_execution(execution_id, nodes=1, **overrides)
    execution["node_executions"].append(
        {
            "id": f"{execution_id}-out",
            "node_id": "out",
            "block_name": "AgentOutputBlock",
            "status": "COMPLETED",
            "input": {"name": "post", "value": "Bees: a short history of the hive."},
            "output": {"output": "Bees: a short history of the hive."},
            "queued_at": execution["created_at"],
        }
    )
    return execution


@pytest.fixture
async def stored_run(database) -> str:
    """Store the blog-writer graph and one run; return the run's id."""
    async with database.write() as session:
        await execution_service.ingest(
            session,
            database.dialect,
            graphs=[GraphIn.model_validate(make_graph())],
            executions=[ExecutionIn.model_validate(blog_run())],
        )
    return "run-1"
