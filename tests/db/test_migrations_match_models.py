"""The migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import execlens.app  # noqa: F401  (imports every feature's models into Base.metadata)
from execlens.db.base import Base
from execlens.db.engine import Database

# The trends' per-day index is built by migration 0006 alone, differently per dialect:
# a trigger-kept table on SQLite, an expression index on PostgreSQL. No model has them.
MIGRATION_ONLY = {"execution_days", "ix_executions_graph_day_finished"}


def _differences(connection) -> list:
    def include(_object, name, _type, _reflected, _compare_to) -> bool:
        return name not in MIGRATION_ONLY

    options = {"compare_type": True, "include_object": include}
    context = MigrationContext.configure(connection, opts=options)
    return compare_metadata(context, Base.metadata)


async def test_a_migrated_database_matches_the_models(database: Database):
    async with database.write() as session:
        connection = await session.connection()
        differences = await connection.run_sync(_differences)

    assert differences == []
