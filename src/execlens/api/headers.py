"""Headers every response carries, so browsers neither sniff nor keep what the API returns."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Versioned, public files (the dashboard's scripts and the docs' assets) may be cached.
CACHEABLE_PREFIXES = ("/static/",)


class SecurityHeaders:
    """Add ``X-Content-Type-Options: nosniff`` everywhere and ``Cache-Control: no-store``
    to everything but static files, unless a route set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if not cacheable:
                    # Responses hold run data and tokens' effects: no shared or disk cache.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
