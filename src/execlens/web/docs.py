"""The interactive API docs (Swagger UI), served from this server under the pages' CSP."""

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from execlens.web.render import templates, with_page_headers

# Swagger UI's files as the fastapi-offline package ships them: no CDN, so the docs work
# offline and no third-party script runs on the dashboard's origin.
SWAGGER_UI_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/static/docs"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Show the API's interactive documentation."""
    response = templates.TemplateResponse(
        request, "docs.html", {"assets": ASSETS_PATH, "openapi_url": request.app.openapi_url}
    )
    return with_page_headers(response)


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its assets; call before the dashboard mounts /static."""
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=SWAGGER_UI_DIR), name="docs-assets")
