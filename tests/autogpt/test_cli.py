"""`execlens sync autogpt` on the command line: one-line errors, a pass, and --follow."""

import asyncpg

from execlens.executions.service import execution_service
from tests.autogpt.autogpt_db import AutoGPTDatabase, create_schema, dsn
from tests.autogpt.conftest import autogpt_url
from tests.conftest import POSTGRES_URL


def _one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    return lines[-1]


async def test_without_the_url_the_command_says_what_to_set(cli):
    result = await cli("sync", "autogpt", "--once", extra_env={"EXECLENS_AUTOGPT_DATABASE_URL": ""})
    assert result.exit_code == 1
    assert "EXECLENS_AUTOGPT_DATABASE_URL is not set" in _one_line(result)


async def test_a_url_of_another_database_is_refused_in_one_line(cli):
    env = {"EXECLENS_AUTOGPT_DATABASE_URL": "mysql://agpt:s3cret@h/db"}
    result = await cli("sync", "autogpt", "--once", extra_env=env)
    assert result.exit_code == 1
    line = _one_line(result)
    assert "EXECLENS_AUTOGPT_DATABASE_URL" in line and "postgresql://" in line
    assert "s3cret" not in result.output


async def test_an_unreachable_database_is_one_line_without_the_password(cli):
    env = {
        "EXECLENS_AUTOGPT_DATABASE_URL": "postgresql://agpt:s3cret@127.0.0.1:9/db?schema=platform"
    }
    result = await cli("sync", "autogpt", "--once", extra_env=env)
    assert result.exit_code == 1
    assert "AutoGPT's database at postgresql://agpt:***@127.0.0.1:9/db" in _one_line(result)
    assert "s3cret" not in result.output


async def test_a_missing_column_is_named_at_start_up(cli, autogpt: AutoGPTDatabase):
    await create_schema(POSTGRES_URL, "platform_old")
    connection = await asyncpg.connect(dsn(POSTGRES_URL))
    try:
        await connection.execute(
            'ALTER TABLE platform_old."AgentGraphExecution" DROP COLUMN "isDeleted"'
        )
    finally:
        await connection.close()
    env = {"EXECLENS_AUTOGPT_DATABASE_URL": autogpt_url("platform_old")}
    result = await cli("sync", "autogpt", "--once", extra_env=env)
    assert result.exit_code == 1
    line = _one_line(result)
    assert 'column "AgentGraphExecution"."isDeleted"' in line
    assert 'schema "platform_old"' in line


async def test_a_schema_without_autogpt_tables_is_reported(cli, autogpt: AutoGPTDatabase):
    env = {"EXECLENS_AUTOGPT_DATABASE_URL": autogpt_url("no_such_schema")}
    result = await cli("sync", "autogpt", "--once", extra_env=env)
    assert result.exit_code == 1
    assert 'no tables in schema "no_such_schema"' in _one_line(result)


async def test_once_and_follow_together_are_refused(cli):
    env = {"EXECLENS_AUTOGPT_DATABASE_URL": autogpt_url()}
    result = await cli("sync", "autogpt", "--once", "--follow", extra_env=env)
    assert result.exit_code == 1
    assert "--once and --follow" in _one_line(result)


async def test_once_syncs_and_prints_what_it_did(cli, autogpt: AutoGPTDatabase, database):
    graph = await autogpt.graph()
    for n in range(3):
        await autogpt.run(graph, f"run-{n}")
    await autogpt.run(graph, "run-dry", stats={"is_dry_run": True})
    env = {"EXECLENS_AUTOGPT_DATABASE_URL": autogpt_url()}

    result = await cli("sync", "autogpt", "--once", extra_env=env)

    assert result.exit_code == 0, result.output
    assert (
        "synced 3 new or changed runs with 0 node executions and 1 graphs (0 unchanged)"
        in result.output
    )
    async with database.read() as session:
        page = await execution_service.list(session)
    assert sorted(item.id for item in page.items) == ["run-0", "run-1", "run-2"]
