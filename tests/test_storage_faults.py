"""A full SQLite database or an unreachable one is reported clearly and changes nothing."""

import asyncio
import json
import sqlite3

import httpx2
import pytest
import typer
from sqlalchemy import event, text

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.cli_support import run_with_database
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.executions.importer import import_lines
from tests.conftest import JWT_SECRET
from tests.factories import make_execution


def cap_size(database: Database, pages: int) -> None:
    """Make the SQLite file refuse to grow past ``pages`` pages, like a full disk."""

    @event.listens_for(database.writer.sync_engine, "connect")
    def _cap(dbapi_connection, _record) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")


def big_batch(count: int) -> list[dict]:
    return [make_execution(f"e-{n}", nodes=20) for n in range(count)]


async def test_a_full_database_answers_507_and_writes_nothing(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        jwt_secret=JWT_SECRET,
    )
    database = Database(settings.resolved_database_url, settings=settings)
    await upgrade(database)
    await database.writer.dispose()
    cap_size(database, 60)
    app = create_app(settings, database=database, migrate=False, worker=False)
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        response = await c.post("/api/executions", json={"executions": big_batch(200)})
        listed = await c.get("/api/executions")
    await database.dispose()

    assert response.status_code == 507
    assert "out of space" in response.json()["detail"]
    assert "nothing from this request was written" in response.json()["detail"]
    assert listed.json()["items"] == []


def test_the_cli_reports_a_full_database_in_one_line(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")

    async def work(database: Database) -> None:
        await upgrade(database)
        await database.writer.dispose()
        cap_size(database, 60)

        await import_lines(
            database, (json.dumps({"kind": "execution"} | e) for e in big_batch(200))
        )

    with pytest.raises(typer.Exit) as exit_:
        run_with_database(work, settings)

    assert exit_.value.exit_code == 1
    err = capsys.readouterr().err
    assert "out of space" in err
    assert "Traceback" not in err


def test_the_cli_reports_an_unreachable_database_in_one_line(tmp_path, capsys):
    url = "postgresql+asyncpg://execlens:execlens@127.0.0.1:1/nowhere"
    settings = Settings(data_dir=tmp_path, database_url=url)

    with pytest.raises(typer.Exit):
        run_with_database(upgrade, settings)

    err = capsys.readouterr().err
    assert "unreachable" in err
    assert len(err.strip().splitlines()) == 1


async def test_a_database_locked_by_another_writer_answers_503_then_the_cli_one_line(
    tmp_path, capsys
):
    path = tmp_path / "x.db"
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{path}",
        jwt_secret=JWT_SECRET,
        sqlite_busy_timeout_ms=50,
    )
    database = Database(settings.resolved_database_url, settings=settings)
    await upgrade(database)
    app = create_app(settings, database=database, migrate=False, worker=False)
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    # Another process holds SQLite's write lock, as a long import or a backup would.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as c:
            response = await c.post("/api/executions", json={"executions": big_batch(2)})

        async def work(db: Database) -> None:
            await import_lines(db, (json.dumps({"kind": "execution"} | e) for e in big_batch(2)))

        with pytest.raises(typer.Exit) as exit_:
            await asyncio.to_thread(run_with_database, work, settings)
    finally:
        other.rollback()
        other.close()
    async with database.read() as session:
        stored = (await session.execute(text("SELECT count(*) FROM executions"))).scalar()
    await database.dispose()

    assert response.status_code == 503
    assert "locked by another writer" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"
    assert exit_.value.exit_code == 1
    err = capsys.readouterr().err
    assert "locked by another writer" in err and "Traceback" not in err
    assert stored == 0


@pytest.mark.parametrize("credentials", ["jwt", "api_key"])
async def test_an_unreachable_database_answers_503_not_500(tmp_path, credentials):
    url = "postgresql+asyncpg://execlens:execlens@127.0.0.1:1/nowhere"
    settings = Settings(data_dir=tmp_path, database_url=url, jwt_secret=JWT_SECRET)
    database = Database(settings.resolved_database_url, settings=settings)
    app = create_app(settings, database=database, migrate=False, worker=False)
    headers = (
        {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
        if credentials == "jwt"
        else {"X-API-Key": "el_" + "x" * 40}
    )
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        response = await c.get("/api/executions")
    await database.dispose()

    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]
    assert response.headers["retry-after"]


def test_the_cli_reports_an_unexpected_database_error_in_one_line(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")

    async def work(database: Database) -> None:
        async with database.write() as session:
            await session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(typer.Exit) as exit_:
        run_with_database(work, settings)

    assert exit_.value.exit_code == 1
    err = capsys.readouterr().err
    assert "no_such_table" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
