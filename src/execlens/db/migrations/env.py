"""Alembic environment: migrations always run on a connection handed in by execlens.

Alembic loads this file by path; it is no module of the package, so naming every
feature's models here (for ``Base.metadata``, which autogenerate compares against) does
not make the database layer import the features above it.
"""

from alembic import context

import execlens.audit.models
import execlens.auth.models
import execlens.autogpt.models
import execlens.executions.models
import execlens.jobs.models
import execlens.judge.models
import execlens.labels.models
import execlens.otlp.models
import execlens.rules.models
import execlens.trends.models  # noqa: F401
from execlens.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `execlens db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
