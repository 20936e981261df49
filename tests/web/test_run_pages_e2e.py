"""The runs list and a run's page in Chromium: filters, pages, timeline, digest, labels."""

import asyncio
import re
from collections.abc import Iterator

import httpx2
import pytest
from playwright.async_api import Browser, Page, expect
from pydantic import SecretStr

from execlens.app import create_app
from execlens.auth.service import issue_token
from execlens.config import Settings
from execlens.db.engine import Database
from execlens.db.migrate import upgrade
from execlens.labels.schemas import LabelIn
from execlens.labels.service import label_service
from tests.conftest import JWT_SECRET
from tests.labels.conftest import judge_runs, run, store
from tests.local_server import ThreadedServer, free_port
from tests.web.conftest import LiveServer
from tests.web.test_dashboard_e2e import PHONE, browser, fits_width, page, shot, sign_in  # noqa: F401

RUNS = 55  # more than one page of 50
HOSTILE = "<img src=x onerror=window.pwned=1>"
MODEL = "gpt-4.1-mini"


def hostile_run() -> dict:
    """A run whose node output is markup, with a long value and a failed step."""
    execution = run(99, created_at="2026-11-29T10:00:00Z")
    execution["node_executions"][0]["output"] = {"output": HOSTILE}
    execution["node_executions"] += [
        {
            "id": "run-099-search",
            "node_id": "search",
            "block_name": "SearchBlock",
            "status": "COMPLETED",
            "input": {"query": "refund policy"},
            "output": {"results": "result " * 200},
            "queued_at": "2026-11-29T10:00:01Z",
            "started_at": "2026-11-29T10:00:01Z",
            "ended_at": "2026-11-29T10:00:03.5Z",
        },
        {
            "id": "run-099-fail",
            "node_id": "mail",
            "block_name": "SendMailBlock",
            "status": "FAILED",
            "input": {"to": "customer"},
            "error": "SMTP refused the message",
            "queued_at": "2026-11-29T10:00:04Z",
        },
    ]
    return execution


async def _prepare(settings: Settings) -> None:
    database = Database.from_settings(settings)
    try:
        await upgrade(database)
        await store(database, [run(n) for n in range(1, RUNS + 1)] + [hostile_run()])
        scores = {f"run-{n:03d}": n / 10 for n in range(1, 11)} | {"run-099": 0.4}
        await judge_runs(database, scores, model=MODEL)
        async with database.write() as session:
            await label_service.set_label(
                session,
                database.dialect,
                execution_id="run-002",
                label=LabelIn(score=0),
                labeler="jwt:reviewer",
            )
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Serve the dashboard (SQLite) with stored runs, verdicts and one label; no worker."""
    root = tmp_path_factory.mktemp("run-pages")
    port = free_port()
    settings = Settings(
        data_dir=root,
        database_url=f"sqlite+aiosqlite:///{root / 'execlens.db'}",
        jwt_secret=JWT_SECRET,
        openai_api_key=SecretStr("sk-fake"),
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
        local_model_enabled=False,
        judge_model=MODEL,
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


async def test_runs_list_pages_and_filters(page: Page, live_server: LiveServer):  # noqa: F811
    base = live_server.base_url
    await sign_in(page, base, "/executions")
    rows = page.locator("#runs-table tbody tr")
    await expect(rows).to_have_count(50)
    await expect(rows.first).to_contain_text("run-099")
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(RUNS + 1)
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()

    await page.get_by_label("Score from").fill("0.75")
    await page.get_by_role("button", name="Show runs").click()
    await expect(rows).to_have_count(3)
    await expect(page).to_have_url(re.compile("score_min=0.75"))
    scores = [float(s) for s in await page.locator("#runs-table .score").all_inner_texts()]
    assert sorted(scores) == [0.8, 0.9, 1.0]

    await page.get_by_role("button", name="Clear filters").click()
    await expect(rows).to_have_count(50)
    await page.get_by_label("Labelled").select_option("true")
    await page.get_by_role("button", name="Show runs").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("run-002")

    await page.get_by_label("Labelled").select_option("false")
    await page.get_by_label("Judged by").fill(f"openai/{MODEL}")
    await page.get_by_label("Created from (UTC)").fill("2026-11-05")
    await page.get_by_role("button", name="Show runs").click()
    # Judged: run-001..010 (created 2026-11-02..11) and run-099; labelled: run-002.
    await expect(rows).to_have_count(8)
    await shot(page, "runs")

    # A bad value is answered by the API and shown, naming the field.
    await page.get_by_label("Score from").fill("0.9")
    await page.get_by_label("Score to").fill("0.1")
    await page.get_by_role("button", name="Show runs").click()
    await expect(page.locator("#filter-error")).to_contain_text("score_min")

    # The filters live in the address bar: a link opens the same list.
    await page.goto(f"{base}/executions?judged_by=rules")
    await expect(page.locator("#runs-count")).to_have_text("No runs match these filters.")
    await page.goto(f"{base}/executions?score_min=0.95")
    await expect(rows).to_have_count(1)
    await rows.first.get_by_role("link").click()
    await expect(page).to_have_url(f"{base}/executions/run-010")
    await expect(page.locator("#run-facts")).to_contain_text("Blog writer")


async def test_run_page_shows_timeline_digest_and_verdicts_as_text(
    page: Page,  # noqa: F811
    live_server: LiveServer,
):
    base = live_server.base_url
    await sign_in(page, base, "/executions/run-099")
    steps = page.locator("#timeline > li")
    await expect(steps).to_have_count(3)
    # Markup from a run is shown as text, never parsed.
    await expect(steps.nth(0)).to_contain_text(HOSTILE)
    assert await page.locator("#timeline img").count() == 0
    assert await page.evaluate("window.pwned") is None
    # The long output is collapsed; the failure is visible with its error.
    long_output = steps.nth(1).locator("details")
    await expect(long_output).to_have_count(1)
    assert await long_output.get_attribute("open") is None
    await expect(steps.nth(1)).to_contain_text("2.50 s")
    await expect(steps.nth(2)).to_have_class("failed")
    await expect(steps.nth(2)).to_contain_text("SMTP refused the message")

    await expect(page.locator("#digest-facts")).to_contain_text("evidence kept 100")
    await expect(page.locator("#digest-facts")).to_contain_text(MODEL)
    await expect(page.locator("#digest-text")).to_be_visible()
    await expect(page.locator("#digest-text")).to_contain_text("SMTP refused the message")
    await expect(page.locator("#verdicts-table tbody tr")).to_contain_text("0.40")
    await shot(page, "run")

    await page.set_viewport_size(PHONE)
    await page.reload()
    await expect(steps).to_have_count(3)
    assert await fits_width(page)

    await page.goto(f"{base}/executions/run-003")
    verdict = page.locator("#verdicts-table tbody tr")
    await expect(verdict).to_have_count(1)
    for text in (f"openai/{MODEL}", "0" * 16, "judge test", "10 / 5", "1 ms"):
        await expect(verdict).to_contain_text(text)


async def test_labelling_a_run_changes_the_agreement(
    page: Page,  # noqa: F811
    live_server: LiveServer,
):
    base = live_server.base_url
    agreement = page.locator("#agreement-table tbody tr")
    await sign_in(page, base, "/executions/run-003")
    await expect(agreement).to_have_count(1)
    await expect(agreement.locator("td").nth(1)).to_have_text("1")
    await expect(page.locator("#labels-list li")).to_have_count(0)

    await page.get_by_label("Note (optional)").fill("Wrong refund <b>amount</b>.")
    await page.get_by_role("button", name="Fail").click()
    await expect(agreement.locator("td").nth(1)).to_have_text("2")
    await expect(page.locator("#labels-list li")).to_contain_text("Wrong refund <b>amount</b>.")
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    async with httpx2.AsyncClient(base_url=base, headers=headers) as api:
        report = (await api.get("/api/judges/agreement")).json()
    assert report["labelled_runs"] == 2 and report["judges"][0]["n"] == 2

    # A score outside 0 to 1 is refused with the field named; nothing changes.
    await page.get_by_label("Score (0 to 1").fill("1.5")
    await page.get_by_role("button", name="Save label").click()
    await expect(page.locator("#label-error")).to_contain_text("score")
    await expect(page.locator("#labels-list li")).to_have_count(1)

    await page.get_by_role("button", name="Remove my label").click()
    await expect(agreement.locator("td").nth(1)).to_have_text("1")
    await expect(page.locator("#labels-empty")).to_be_visible()


async def test_unknown_run_says_not_found(browser: Browser, live_server: LiveServer):  # noqa: F811
    base = live_server.base_url
    context = await browser.new_context()
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    await sign_in(tab, base, "/executions/no-such-run")
    await expect(tab.locator("#run-missing")).to_contain_text('No run with id "no-such-run"')
    await expect(tab.locator("#run-body")).to_be_hidden()
    await context.close()
    # The API's 404 is the only error the browser reports.
    assert [e for e in errors if "404" not in e] == []
