"""Security headers on every response the server sends (issue 12, point 4).

A pure ASGI middleware, so it also covers what BaseHTTPMiddleware handles badly: event
streams, file responses, the mounted metaflow-service app at /metadata. A response that
sets a header itself keeps its own value: a card (api/routes/cards.py) sends a stricter
`Content-Security-Policy` with `sandbox`, and two CSP headers would be intersected, not
replaced.

An exception no handler caught would otherwise reach Starlette's ServerErrorMiddleware,
which sits outside every user middleware and answers without these headers; so this
middleware answers that 500 itself (the same body shape as every other error) and then
re-raises, for the server to log the traceback.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowscope.api.responses import FastJSON

# The SPA and the API reference page are the only HTML flowscope writes. Both load only
# their own hashed bundles (no inline script: the theme bootstrap is ui/public/theme-init.js)
# and talk only to this server. Inline *style attributes* are allowed: React and Swagger UI
# set element styles, which carries no script. Cards come in frames from this origin.
APP_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", APP_CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


class SecurityHeaders:
    """Adds `DEFAULT_HEADERS` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                error = FastJSON({"error": "internal server error"}, status_code=500)
                await error(scope, receive, send_with_headers)
            raise
