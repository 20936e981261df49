"""Check at start-up that AutoGPT's database has every table and column sync reads."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from execlens.autogpt.source import SourceError
from execlens.source_url import SourceDatabase

# What the reader's queries name. AutoGPT's schema moves: extra columns are fine.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "AgentGraph": ("id", "version", "name", "description"),
    "AgentBlock": ("id", "name"),
    "AgentNode": ("id", "agentBlockId", "agentGraphId", "agentGraphVersion"),
    "AgentNodeLink": ("agentNodeSourceId", "sourceName", "agentNodeSinkId", "sinkName"),
    "AgentGraphExecution": (
        "id",
        "createdAt",
        "updatedAt",
        "startedAt",
        "endedAt",
        "isDeleted",
        "executionStatus",
        "agentGraphId",
        "agentGraphVersion",
        "userId",
        "stats",
    ),
    "AgentNodeExecution": (
        "id",
        "agentGraphExecutionId",
        "agentNodeId",
        "executionStatus",
        "executionData",
        "addedTime",
        "queuedTime",
        "startedTime",
        "endedTime",
        "stats",
    ),
    "AgentNodeExecutionInputOutput": (
        "id",
        "name",
        "data",
        "time",
        "referencedByInputExecId",
        "referencedByOutputExecId",
    ),
}

# information_schema lists only the columns this role holds some privilege on, so a
# missing SELECT grant reads as a missing table: the message says both.
_COLUMNS = text(
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = :schema"
)


def missing_columns(present: set[tuple[str, str]]) -> list[str]:
    """Return the required tables and columns absent from ``present``, as quoted names."""
    tables = {table for table, _ in present}
    missing: list[str] = []
    for table, columns in REQUIRED_COLUMNS.items():
        if table not in tables:
            missing.append(f'table "{table}"')
            continue
        missing += [f'column "{table}"."{c}"' for c in columns if (table, c) not in present]
    return missing


async def check_source_schema(connection: AsyncConnection, source: SourceDatabase) -> None:
    """Raise SourceError naming every table and column sync needs that is not there."""
    rows = await connection.execute(_COLUMNS, {"schema": source.schema})
    present = {(table, column) for table, column in rows}
    if not present:
        raise SourceError(
            f'AutoGPT\'s database has no tables in schema "{source.schema}" that this role can '
            "read: check ?schema= in EXECLENS_AUTOGPT_DATABASE_URL and the SELECT grants"
        )
    missing = missing_columns(present)
    if not missing:
        return
    raise SourceError(
        f'AutoGPT\'s database (schema "{source.schema}") lacks what execlens reads, or this '
        f"role cannot SELECT it: {', '.join(missing)}"
    )
