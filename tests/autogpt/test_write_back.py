"""Write-back: verdicts land in AutoGPT's `stats` as its own admin page reads them."""

import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from execlens.autogpt.service import AutoGPTSync
from execlens.autogpt.source import parse_source_url
from execlens.autogpt.write_back import AutoGPTWriteBack
from execlens.db.engine import Database
from execlens.judge.schemas import Verdict
from execlens.judge.service import judge_service
from tests.autogpt.autogpt_db import AutoGPTDatabase, dsn
from tests.autogpt.conftest import SCHEMA, autogpt_url
from tests.conftest import POSTGRES_URL
from tests.fake_llm import FakeLLM, answer
from tests.judge.conftest import OPENAI_KEY
from tests.upstream.autogpt_table import upstream_trends

EXECUTOR_STATS = {
    "cost": 12,
    "walltime": 3.5,
    "cputime": 0.2,
    "node_count": 3,
    "node_error_count": 0,
    "is_dry_run": False,
    "custom_key": {"kept": ["as", "is"]},
}


def _verdict(run_id: str, summary: str, score: float) -> Verdict:
    return Verdict(
        execution_id=run_id,
        activity_status=summary,
        correctness_score=score,
        judge="llm",
        judge_version="test",
        provider="openai",
        model="gpt-4.1-mini",
        prompt_hash="0123456789abcdef",
        input_tokens=400,
        output_tokens=40,
        cost_usd=0.0002,
        latency_ms=250,
        digest_tokens=300,
        digest_truncated=False,
        created_at=datetime.now(UTC),
    )


async def _judge(database: Database, run_id: str, summary: str, score: float) -> None:
    async with database.write() as session:
        await judge_service.store(session, [_verdict(run_id, summary, score)])


async def _stats(autogpt: AutoGPTDatabase, run_id: str) -> tuple[dict | None, int]:
    """Return a run's stats as AutoGPT holds them, and its row version (xmin)."""
    row = await autogpt.db.fetchrow(
        'SELECT stats, xmin::text::bigint AS version FROM "AgentGraphExecution" WHERE id = $1',
        run_id,
    )
    return (json.loads(row["stats"]) if row["stats"] else None), row["version"]


@pytest.fixture
def fake_llm():
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
async def writer(autogpt: AutoGPTDatabase, database: Database):
    writer = AutoGPTWriteBack(parse_source_url(autogpt_url()), database, batch_size=2)
    await writer.check()
    yield writer
    await writer.close()


async def test_a_verdict_merges_two_keys_and_keeps_every_other(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database, writer: AutoGPTWriteBack
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1", stats=EXECUTOR_STATS)
    await autogpt.run(graph, "run-2", stats=None)
    await autogpt.run(graph, "run-unjudged", stats=EXECUTOR_STATS)
    await syncer.sync_once()
    await _judge(database, "run-1", "You got the summary of 3 emails.", 0.8)
    await _judge(database, "run-2", "The inbox could not be read.", 0.1)

    report = await writer.write_once()

    assert (report.written, report.kept_theirs, report.in_place) == (2, 0, 0)
    stats, _ = await _stats(autogpt, "run-1")
    assert stats == EXECUTOR_STATS | {
        "activity_status": "You got the summary of 3 emails.",
        "correctness_score": 0.8,
    }
    stats, _ = await _stats(autogpt, "run-2")
    assert stats == {"activity_status": "The inbox could not be read.", "correctness_score": 0.1}
    assert (await _stats(autogpt, "run-unjudged"))[0] == EXECUTOR_STATS


async def test_an_identical_value_is_not_written_again(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database, writer: AutoGPTWriteBack
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1", stats=EXECUTOR_STATS)
    await syncer.sync_once()
    await _judge(database, "run-1", "Summarised the inbox.", 0.7)
    await writer.write_once()
    _, version = await _stats(autogpt, "run-1")

    again = await writer.write_once()
    # execlens forgets what it wrote (a crash between AutoGPT's commit and its own):
    # the values are found in place and the row is not written again.
    async with database.write() as session:
        await session.execute(text("UPDATE autogpt_runs SET written_summary = NULL"))
    after_crash = await writer.write_once()
    await syncer.sync_once()

    assert again.written == 0
    assert (after_crash.written, after_crash.in_place) == (0, 1)
    assert (await _stats(autogpt, "run-1"))[1] == version


async def test_a_newer_verdict_replaces_the_one_execlens_wrote(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database, writer: AutoGPTWriteBack
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1", stats=EXECUTOR_STATS)
    await syncer.sync_once()
    await _judge(database, "run-1", "First look.", 0.4)
    await writer.write_once()
    await _judge(database, "run-1", "Second look: the summary was right.", 0.9)

    report = await writer.write_once()

    assert (report.written, report.kept_theirs) == (1, 0)
    stats, _ = await _stats(autogpt, "run-1")
    assert stats["activity_status"] == "Second look: the summary was right."
    assert stats["correctness_score"] == 0.9
    assert stats["custom_key"] == EXECUTOR_STATS["custom_key"]


async def test_autogpts_own_summary_is_kept_unless_overwrite(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database, writer: AutoGPTWriteBack
):
    theirs = EXECUTOR_STATS | {"activity_status": "Executor's summary", "correctness_score": 0.3}
    only_score = EXECUTOR_STATS | {"correctness_score": 0.5}
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-theirs", stats=theirs)
    await autogpt.run(graph, "run-score", stats=only_score)
    await syncer.sync_once()
    await _judge(database, "run-theirs", "execlens's summary", 0.9)
    await _judge(database, "run-score", "execlens's other summary", 1.0)

    kept = await writer.write_once()
    kept_again = await writer.write_once()
    assert (kept.written, kept.kept_theirs) == (0, 2)
    assert kept_again.kept_theirs == 0
    assert (await _stats(autogpt, "run-theirs"))[0] == theirs
    assert (await _stats(autogpt, "run-score"))[0] == only_score

    overwriting = AutoGPTWriteBack(parse_source_url(autogpt_url()), database, overwrite=True)
    try:
        replaced = await overwriting.write_once()
    finally:
        await overwriting.close()

    assert replaced.written == 2
    stats, _ = await _stats(autogpt, "run-theirs")
    assert stats == EXECUTOR_STATS | {
        "activity_status": "execlens's summary",
        "correctness_score": 0.9,
    }


async def test_autogpts_trend_query_reads_the_written_scores(
    autogpt: AutoGPTDatabase, syncer: AutoGPTSync, database: Database, writer: AutoGPTWriteBack
):
    graph = await autogpt.graph()
    for n in range(3):
        await autogpt.run(graph, f"run-{n}", stats=EXECUTOR_STATS)
    await syncer.sync_once()
    for n, score in enumerate((0.2, 0.6, 1.0)):
        await _judge(database, f"run-{n}", f"Run {n}", score)
    await writer.write_once()

    engine = create_async_engine(POSTGRES_URL)
    try:
        async with engine.connect() as connection:
            rows = await upstream_trends(connection, graph.id, days_back=7, schema=SCHEMA)
    finally:
        await engine.dispose()

    assert len(rows) == 1
    assert rows[0]["daily_score"] == pytest.approx(60.0)


async def test_sync_and_write_back_from_the_command_line(
    cli, autogpt: AutoGPTDatabase, database: Database, fake_llm
):
    graph = await autogpt.graph()
    await autogpt.run(graph, "run-1", stats=EXECUTOR_STATS)
    await autogpt.run(
        graph, "run-2", stats=EXECUTOR_STATS | {"activity_status": "theirs", "correctness_score": 0}
    )
    env = {
        "EXECLENS_AUTOGPT_DATABASE_URL": autogpt_url(),
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": fake_llm.base_url,
        "EXECLENS_LOCAL_MODEL_ENABLED": "false",
    }
    assert (await cli("sync", "autogpt", "--once", extra_env=env)).exit_code == 0
    fake_llm.then(answer("You got your inbox summary.", 0.75))
    fake_llm.then(answer("Another look.", 0.25))
    for run_id in ("run-1", "run-2"):
        judged = await cli("judge", run_id, extra_env=env)
        assert judged.exit_code == 0, judged.output

    refused = await cli("sync", "autogpt", "--once", "--overwrite", extra_env=env)
    result = await cli("sync", "autogpt", "--once", "--write-back", extra_env=env)

    assert refused.exit_code == 1
    assert "--overwrite needs --write-back" in refused.output
    assert result.exit_code == 0, result.output
    assert (
        "wrote 1 verdicts into AutoGPT's stats; kept AutoGPT's own summary or score on 1 runs"
        in result.output
    )
    stats, _ = await _stats(autogpt, "run-1")
    assert stats["activity_status"] == "You got your inbox summary."
    assert stats["correctness_score"] == 0.75
    assert (await _stats(autogpt, "run-2"))[0]["activity_status"] == "theirs"


_PSQL = ("runuser", "-u", "postgres", "--", "psql")


def _as_postgres(sql: str, database: str = "postgres") -> None:
    subprocess.run(
        [*_PSQL, "-d", database, "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def reader_role(autogpt: AutoGPTDatabase):
    """A role with SELECT on AutoGPT's tables and nothing else, as the README advises."""
    if shutil.which("runuser") is None or "127.0.0.1" not in POSTGRES_URL:
        pytest.skip("needs the local PostgreSQL's superuser to create a role")
    role = f"reader_{uuid.uuid4().hex[:8]}"
    database = POSTGRES_URL.rsplit("/", 1)[1]
    _as_postgres(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-pass'")
    grants = (
        f"GRANT CONNECT ON DATABASE {database} TO {role}; "
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {role}; "
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {role};"
    )
    owner = dsn(POSTGRES_URL)
    yield role, grants, owner
    _as_postgres(f"DROP OWNED BY {role} CASCADE; DROP ROLE {role}", database)


async def test_without_update_grant_write_back_fails_at_start_in_one_line(
    cli, reader_role, autogpt: AutoGPTDatabase
):
    role, grants, owner = reader_role
    connection = await asyncpg.connect(owner)
    try:
        await connection.execute(grants)
    finally:
        await connection.close()
    url = autogpt_url().replace("execlens:execlens@", f"{role}:reader-pass@")
    env = {"EXECLENS_AUTOGPT_DATABASE_URL": url}

    synced = await cli("sync", "autogpt", "--once", extra_env=env)
    refused = await cli("sync", "autogpt", "--once", "--write-back", extra_env=env)

    assert synced.exit_code == 0, synced.output
    assert refused.exit_code == 1
    line = refused.output.strip().splitlines()[-1]
    assert 'write-back needs UPDATE on "platform"."AgentGraphExecution"' in line
    assert f'GRANT UPDATE ON "platform"."AgentGraphExecution" TO {role}' in line
    assert "reader-pass" not in refused.output
