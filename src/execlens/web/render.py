"""Render the dashboard's templates with the headers every page carries."""

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from execlens import __version__
from execlens.web.session import csrf_token, set_csrf_cookie

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# Scripts and styles come only from our own /static files: no inline code, no CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def render(
    request: Request, template: str, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    """Return a page with its CSRF token embedded and the security headers set."""
    token = csrf_token(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"csrf_token": token, "version": __version__, **context},
        status_code=status_code,
    )
    set_csrf_cookie(request, response, token)
    return with_page_headers(response)


def with_page_headers(response: HTMLResponse) -> HTMLResponse:
    """Set the headers every HTML page carries: CSP, no framing, no referrer, no cache."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # The login URL may carry a token: never send a page's URL to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
