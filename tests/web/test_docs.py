"""The API docs come from this server, under the pages' strict CSP, and work offline."""

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import async_playwright, expect

from execlens.app import create_app
from execlens.config import Settings
from execlens.web.render import CONTENT_SECURITY_POLICY
from tests.conftest import JWT_SECRET
from tests.local_server import ThreadedServer
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


async def test_the_docs_page_loads_only_its_own_assets_under_the_csp(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<script>" not in page.text  # no inline code: every script has a src
    assets = ASSET.findall(page.text)
    assert len(assets) >= 4
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        served = await client.get(url)
        assert served.status_code == 200, url
    assert (await client.get("/redoc")).status_code == 404


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("docs")
    settings = Settings(
        data_dir=root,
        database_url=f"sqlite+aiosqlite:///{root / 'execlens.db'}",
        jwt_secret=JWT_SECRET,
        local_model_enabled=False,
        serve_worker=False,
    )
    server = ThreadedServer(create_app(settings), lifespan="on")
    server.start(seconds=30)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


async def test_swagger_ui_renders_in_chromium_without_any_other_origin(docs_server: str):
    elsewhere: list[str] = []
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))

        async def only_this_server(route) -> None:
            if route.request.url.startswith(docs_server):
                await route.continue_()
            else:
                elsewhere.append(route.request.url)
                await route.abort()

        await page.route("**/*", only_this_server)
        await page.goto(f"{docs_server}/docs")
        # Swagger UI read /openapi.json and lists the operations.
        await expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
        await expect(page.get_by_text("/api/executions", exact=True).first).to_be_visible()
        await browser.close()
    assert elsewhere == []
    assert problems == []  # a CSP violation is reported as a console error
