"""Node executions written with times and JSON already as text, as the AutoGPT sync does."""

from datetime import UTC, datetime, timedelta, timezone

from pydantic_core import to_json
from sqlalchemy import func, select

from execlens.db.dialect import utc_text
from execlens.db.engine import Database
from execlens.executions.models import NodeExecution
from execlens.executions.schemas import ExecutionIn
from execlens.executions.service import encode_values, execution_service, execution_values

AT = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
# Text a COPY or a JSON column could get wrong: a newline, a tab, a backslash, a quote.
VALUE = {"prompt": 'line\nbreak\ttab \\ "quoted"', "n": [1, 2.5, None, True]}


def _node(node_id: str, value, at) -> tuple:
    return (node_id, "run-1", "node", "Block", "COMPLETED", value, value, None, at, at, None)


async def test_times_and_json_given_as_text_are_stored_as_the_values_they_stand_for(
    database: Database,
):
    run = ExecutionIn(
        id="run-1", graph_id="g", graph_version=1, user_id="u", status="COMPLETED", created_at=AT
    )
    dialect = database.dialect
    # The same moment given with an offset, as a value: storage converts it to UTC.
    elsewhere = AT.astimezone(timezone(timedelta(hours=-5)))
    as_values = encode_values(
        dialect, [], [execution_values(run)], [_node("n-1", VALUE, elsewhere)]
    )
    text = to_json(VALUE).decode()
    as_text = encode_values(dialect, [], [], [_node("n-2", text, utc_text(AT))], nodes_as_text=True)
    async with database.write() as session:
        await execution_service.write(session, dialect, as_values)
        await execution_service.write(session, dialect, as_text)

    async with database.read() as session:
        first, second = (await execution_service.get(session, "run-1")).node_executions
        # Compared in SQL, so SQLite's stored text must match what a bound time renders.
        same_time = await session.scalar(select(func.count()).where(NodeExecution.queued_at == AT))
    assert first.id == "n-1" and second.id == "n-2"
    assert first.model_dump(exclude={"id"}) == second.model_dump(exclude={"id"})
    assert (second.input, second.output, second.queued_at) == (VALUE, VALUE, AT)
    assert same_time == 2
