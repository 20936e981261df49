"""End to end in Debian's Chromium: sign in, run a job, read its results, see the trend.

One server (SQLite, the demo dataset, the fake LLM) serves the whole story; PostgreSQL is
covered by the API tests underneath, and a second browser run would double the time.
"""

import csv
import io
import re
from collections.abc import AsyncIterator

import httpx2
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from execlens.auth.service import issue_token
from tests.conftest import JWT_SECRET
from tests.factories import make_execution
from tests.web.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveServer

INBOX = "a3e9d4f2-1b7c-4e85-b6d0-2c9f8a1e5d47"  # the demo agent whose quality drops
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser, live_server: LiveServer) -> AsyncIterator[Page]:
    """A page that records console errors; the test fails on any of them."""
    context = await browser.new_context(viewport=LAPTOP, accept_downloads=True)
    await context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=live_server.base_url
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: _record(errors, m))
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    yield page
    await context.close()
    assert errors == [], errors


def _record(errors: list[str], message: ConsoleMessage) -> None:
    if message.type in ("error", "warning"):
        errors.append(f"{message.type}: {message.text} at {message.location}")


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


async def fits_width(page: Page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def sign_in(page: Page, base: str, next_path: str) -> None:
    await page.goto(f"{base}{next_path}")
    await expect(page).to_have_url(f"{base}/login?next={next_path.replace('/', '%2F')}")
    await shot(page, "login")
    await page.get_by_label("Token or API key").fill(issue_token(JWT_SECRET))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base}{next_path}")


async def test_run_a_job_read_its_results_and_export_csv(page: Page, live_server: LiveServer):
    base = live_server.base_url
    await sign_in(page, base, "/analytics")

    # The skip link is the first stop of the keyboard.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

    model = page.get_by_label("Model")
    await expect(model).to_have_value("gpt-4.1-mini")
    anthropic = model.locator("option", has_text="ANTHROPIC_API_KEY").first
    await expect(anthropic).to_be_disabled()

    await page.get_by_label("Agent (search by name or id)").fill("inbox triage assistant")
    await expect(page.locator("#graph-info")).to_contain_text("Inbox Triage Assistant")
    await page.get_by_text("Advanced options").click()
    await page.get_by_label("Concurrency (calls at once)").fill("8")
    prompt = page.get_by_label("System prompt")
    default_prompt = await prompt.input_value()
    await prompt.fill("Be terse.")
    await page.get_by_role("button", name="Reset to default").first.click()
    await expect(prompt).to_have_value(default_prompt)

    start = page.get_by_role("button", name="Start job")
    await expect(start).to_be_disabled()
    await page.get_by_role("button", name="Estimate cost").click()
    await expect(page.locator("#estimate")).to_contain_text("runs to judge")
    await expect(page.locator("#estimate-cost")).to_contain_text("$")
    await shot(page, "analytics")
    await start.click()

    await expect(page).to_have_url(re.compile(f"{base}/jobs/[0-9a-f-]+$"))
    await expect(page.locator("#job-status")).to_have_text("completed", timeout=90_000)
    await expect(page.locator("#job-percent")).to_have_text("100 %")
    assert await page.locator("#job-progress").evaluate("p => p.value") == 1
    await expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()
    rows = page.locator("#results-table tbody tr")
    await expect(rows.first).to_be_visible()
    await expect(page.locator("#results-count")).to_contain_text("results shown")
    await shot(page, "job")

    # Expand one result's summary.
    first_more = (
        page.locator("#results-table tbody").get_by_role("button", name="Show details").first
    )
    await first_more.click()
    await expect(page.locator("#results-table tr.detail").first).to_contain_text("Summary:")
    await expect(
        page.locator("#results-table tbody").get_by_role("button", name="Hide details").first
    ).to_have_attribute("aria-expanded", "true")

    # Copy an id: the full id lands on the clipboard, the cell shows 8 characters.
    code = page.locator("#results-table tbody tr").first.locator("code")
    full_id = await code.get_attribute("title")
    assert len((await code.inner_text()).strip()) == 8
    await (
        page.locator("#results-table tbody tr")
        .first.get_by_role("button", name="Copy execution id")
        .click()
    )
    assert await page.evaluate("navigator.clipboard.readText()") == full_id
    # The id links to the run's page.
    link = page.locator("#results-table tbody tr").first.locator("a:has(code)")
    assert await link.get_attribute("href") == f"/executions/{full_id}"

    # Filters and sorting.
    await page.get_by_label("Status").select_option("success")
    for badge in await page.locator(
        "#results-table tbody tr:not(.detail) .badge"
    ).all_inner_texts():
        assert badge == "success"
    await page.get_by_label("Score from").fill("0.5")
    await page.get_by_role("button", name="Score").click()
    await page.get_by_role("button", name="Score").click()
    await expect(
        page.locator("th", has=page.get_by_role("button", name="Score"))
    ).to_have_attribute("aria-sort", "descending")
    scores = [float(s) for s in await page.locator("#results-table .score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.5

    # CSV export of the successful results.
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Export CSV").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("execlens-job-")
    text = (await download.path()).read_text()
    table = list(csv.DictReader(io.StringIO(text)))
    assert {row["status"] for row in table} == {"success"}
    succeeded = int((await page.locator("#stat-succeeded").inner_text()).replace(",", ""))
    assert len(table) == succeeded > 0

    # The jobs list links to the job.
    await page.goto(f"{base}/jobs")
    await expect(page.locator("#jobs-table tbody tr")).to_have_count(1)
    await expect(page.locator("#jobs-table .badge").first).to_have_text("completed")
    await shot(page, "jobs")

    await page.set_viewport_size(PHONE)
    await page.go_back()
    await expect(page.locator("#job-status")).to_have_text("completed")
    assert await fits_width(page)
    await shot(page, "job-phone")


async def test_trends_chart_alert_and_overview(page: Page, live_server: LiveServer):
    base = live_server.base_url
    await sign_in(page, base, "/alerts")
    rows = page.locator("#alerts-table tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Inbox Triage Assistant")
    await expect(rows.first.locator(".badge")).to_have_text("open")
    await shot(page, "alerts")
    assert (await rows.first.get_by_role("link", name="runs", exact=True).get_attribute("href"))[
        : len(f"/executions?graph_id={INBOX}&created_after=")
    ] == f"/executions?graph_id={INBOX}&created_after="

    await rows.first.get_by_role("link", name="Inbox Triage Assistant").click()
    await expect(page).to_have_url(f"{base}/trends?graph_id={INBOX}")
    await expect(page.locator("body")).to_have_attribute("data-trend-loaded", INBOX)
    card = page.locator("#alert-card")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("below the 7-day average")
    datasets = await page.evaluate(
        "() => window.Chart.getChart('trend-chart').data.datasets.map(d => d.label)"
    )
    assert datasets == ["Daily score", "3-day average", "7-day average", "14-day average"]
    ymax = await page.evaluate("() => window.Chart.getChart('trend-chart').scales.y.max")
    assert ymax == 100
    await expect(page.locator("#count-coverage")).to_contain_text("%")
    overview = page.locator("#overview-table tbody tr")
    await expect(overview).to_have_count(4)
    inbox = overview.filter(has_text="Inbox Triage Assistant")
    await expect(inbox).to_contain_text("falling")
    await expect(inbox.locator(".badge")).to_contain_text("drop")
    await shot(page, "trends")

    # Another window: the form keeps its values in the URL.
    await page.get_by_label("Window").select_option("rows")
    await page.get_by_role("button", name="Show trend").click()
    await expect(page).to_have_url(re.compile("window=rows"))
    await expect(page.locator("body")).to_have_attribute("data-trend-loaded", INBOX)

    await page.set_viewport_size(PHONE)
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-trend-loaded", INBOX)
    assert await fits_width(page)
    await shot(page, "trends-phone")

    # A day's run count opens that agent's runs of that day.
    await page.get_by_text("Daily numbers").click()
    newest = page.locator("#trend-table tbody tr").first
    day = (await newest.locator("td").first.inner_text()).strip()
    await newest.locator("td").nth(5).get_by_role("link").click()
    await expect(page).to_have_url(re.compile(f"/executions\\?graph_id={INBOX}.*{day}"))
    runs = page.locator("#runs-table tbody tr")
    await expect(runs.first).to_contain_text("Inbox Triage")
    created = await page.locator("#runs-table tbody tr td:last-child").all_inner_texts()
    assert created and {c[:10] for c in created} == {day}

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{base}/login")
    await page.goto(f"{base}/trends")
    await expect(page).to_have_url(re.compile("/login\\?next="))


async def test_a_rule_judges_a_new_run_and_can_be_paused_and_deleted(
    page: Page, live_server: LiveServer
):
    base = live_server.base_url
    await sign_in(page, base, "/rules")
    await expect(page.locator("#rules-empty")).to_be_visible()
    await page.get_by_label("Agent (blank: every agent)").fill(INBOX)
    await page.get_by_label("Daily budget (USD)").fill("2")
    await page.get_by_role("button", name="Add rule").click()
    rows = page.locator("#rules-table tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("100%")
    await expect(rows.first.locator(".badge")).to_have_text("on")

    run = make_execution("rule-e2e-run", graph_id=INBOX, created_at="2026-12-01T00:00:00Z")
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET)}"}
    async with httpx2.AsyncClient(base_url=base, headers=headers) as client:
        stored = await client.post("/api/executions", json={"executions": [run]})
    assert stored.status_code == 200, stored.text
    # The page refreshes itself: the rule picks the run, the server's worker judges it.
    await expect(rows.first).to_contain_text("1 (0 failed)", timeout=30_000)
    await expect(rows.first).to_contain_text("$0.0002 of $2.00")
    await shot(page, "rules")

    await rows.first.get_by_role("button", name="Pause").click()
    await expect(rows.first.locator(".badge")).to_have_text("paused")
    await rows.first.get_by_role("button", name="Delete").click()
    await expect(rows).to_have_count(0)
    assert await fits_width(page)
