"""Dependencies shared by every router: database sessions and settings."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from execlens.config import Settings
from execlens.db.engine import Database


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_read_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    async with database.read() as session:
        yield session


async def get_write_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    # The only place a request's transaction commits or rolls back. A job that a request
    # drives (jobs.driver) outlives the request and commits its own steps, as workers do.
    async with database.write() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(get_read_session)]
# scope="function": commit before the response is sent, so a failed commit is reported
# to the client and a client reading right after its write sees it.
WriteSession = Annotated[AsyncSession, Depends(get_write_session, scope="function")]


async def refuse_nul_in_url(request: Request) -> None:
    """Answer 422 when a path or query parameter holds a NUL character.

    PostgreSQL refuses NUL in any text, even in a lookup, so it would otherwise be a 500.
    Raised as a validation error, so every route (AutoGPT's too) answers it in FastAPI's
    field-error shape.
    """
    params = [
        *(("path", name, value) for name, value in request.path_params.items()),
        *(("query", name, value) for name, value in request.query_params.multi_items()),
    ]
    for where, name, value in params:
        if isinstance(value, str) and "\x00" in value:
            message = "contains a NUL character (\\u0000), which nothing stored holds; remove it"
            raise RequestValidationError(
                [{"loc": (where, name), "msg": message, "type": "value_error"}]
            )


NoNulInUrl = Depends(refuse_nul_in_url)
