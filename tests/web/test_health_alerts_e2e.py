"""The Alerts page lists evaluator-health alerts, in Chromium, against a server with no worker."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.trends.monitor import Monitor
from tests.conftest import JWT_SECRET
from tests.jobs.conftest import run, store
from tests.local_server import ThreadedServer, free_port
from tests.web.conftest import LiveServer
from tests.web.test_dashboard_e2e import browser, page, shot, sign_in  # noqa: F401  (fixtures)


async def _prepare(settings: Settings) -> None:
    database = Database.from_settings(settings)
    try:
        await upgrade(database)
        await store(database, [run(1), run(2)])
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Serve the dashboard without a worker (SQLite): a job started here is never judged."""
    root = tmp_path_factory.mktemp("health-dashboard")
    port = free_port()
    settings = Settings(
        data_dir=root,
        database_url=f"sqlite+aiosqlite:///{root / 'execlens.db'}",
        jwt_secret=JWT_SECRET,
        openai_api_key=SecretStr("sk-fake"),
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
        local_model_enabled=False,
        judge_model="gpt-4.1-mini",
        serve_worker=False,
        port=port,
    )
    asyncio.run(_prepare(settings))
    server = ThreadedServer(create_app(settings), port=port, lifespan="on")
    server.start(seconds=30)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.stop(seconds=15)


async def test_alerts_page_lists_a_stalled_job_and_links_to_it(
    page: Page,  # noqa: F811
    live_server: LiveServer,
):
    base = live_server.base_url
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    async with httpx2.AsyncClient(base_url=base, headers=headers) as api:
        started = await api.post("/api/analytics/jobs", json={"graph_id": "g-blog"})
    job_id = started.json()["job_id"]
    database = Database.from_settings(live_server.settings)
    try:
        later = datetime.now(UTC) + timedelta(hours=1)
        [check] = await Monitor(database, live_server.settings).check_health(now=later)
    finally:
        await database.dispose()
    assert check.action == "opened"

    await sign_in(page, base, "/alerts")
    rows = page.locator("#health-table tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("job stalled")
    await expect(rows.first).to_contain_text("The job has judged nothing for 60 min")
    await expect(rows.first.locator(".badge")).to_have_text("open")
    await expect(page.locator("#alerts-empty")).to_be_visible()
    await shot(page, "alerts-health")

    await page.select_option("#alerts-state", "resolved")
    await expect(rows).to_have_count(0)
    await expect(page.locator("#health-empty")).to_be_visible()
    await page.select_option("#alerts-state", "open")
    await expect(rows).to_have_count(1)
    await rows.first.get_by_role("link", name=f"job {job_id[:8]} of Blog writer").click()
    await expect(page).to_have_url(f"{base}/jobs/{job_id}")
