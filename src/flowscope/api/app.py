"""The ASGI application: the public API under /api/v1 and the single-page UI at /."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi.routing
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Match, Mount

from flowscope import __version__
from flowscope.api.auth import AuthSettings, guard
from flowscope.api.context import AppContext
from flowscope.api.live import EventHub
from flowscope.api.responses import FastJSON
from flowscope.api.routes import (
    artifacts,
    cards,
    events,
    health,
    logs,
    records,
    runs,
    tasks,
    timeline,
)
from flowscope.api.security_headers import SecurityHeaders
from flowscope.datastore import (
    DatastoreError,
    DatastoreUnavailable,
    DatastoreUnsupported,
    NotFoundError,
)
from flowscope.store import BadCursor

API_PREFIX = "/api/v1"
METADATA_PREFIX = "/metadata"
UI_DIR = Path(__file__).resolve().parent.parent / "web" / "dist"
BASE_HREF = re.compile(rb'<base href="[^"]*"\s*/?>')

NO_UI_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>flowscope</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>flowscope</h1><p>The API is running at <a href="{base}api/v1/health">{base}api/v1/</a>,
but this installation has no web UI build.</p>
<p>Build it from a clone of flowscope with Node.js 20+:</p>
<pre>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>or reinstall with <code>pip install .</code>, which builds it for you.</p></body></html>"""


def create_api(ctx: AppContext) -> FastAPI:
    hub = EventHub(ctx.store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # This app's routes, also when it is mounted under a base path (then `_app` is the
        # outer app, whose only route is that mount).
        _prepare_routes(api)
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    api = FastAPI(
        lifespan=lifespan,
        title="flowscope",
        version=__version__,
        description="Monitoring API for Metaflow runs. See docs/API.md.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        # Served from the UI build instead (api_docs below): FastAPI's page loads Swagger UI
        # from a CDN, a blank page offline.
        docs_url=None,
        redoc_url=None,
        # Short, stable operation ids (the handler's name): OpenAPI links refer to them.
        generate_unique_id_function=lambda route: route.name,
    )
    api.state.ctx = ctx
    api.state.hub = hub
    # Big JSON (a 100,000-task run's lists) shrinks ~10x; event streams are left alone.
    api.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    for module in (health, runs, records, timeline, tasks, artifacts, logs, cards, events):
        api.include_router(module.router, prefix=API_PREFIX)

    @api.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> Response:
        return FastJSON({"error": str(exc.detail)}, status_code=exc.status_code)

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return FastJSON({"error": f"invalid request: {problems}"}, status_code=422)

    @api.exception_handler(BadCursor)
    async def bad_cursor(_request: Request, exc: BadCursor) -> Response:
        return FastJSON({"error": str(exc)}, status_code=400)

    @api.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> Response:
        return FastJSON({"error": str(exc) or "not found"}, status_code=404)

    @api.exception_handler(DatastoreUnavailable)
    async def unavailable(_request: Request, exc: DatastoreUnavailable) -> Response:
        # The index still has the run; only what lives in its datastore is out of reach.
        return FastJSON({"error": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @api.exception_handler(DatastoreUnsupported)
    async def unsupported(_request: Request, exc: DatastoreUnsupported) -> Response:
        return FastJSON({"error": str(exc)}, status_code=501)

    @api.exception_handler(DatastoreError)
    async def datastore_error(_request: Request, exc: DatastoreError) -> Response:
        return FastJSON({"error": f"cannot read the run's datastore: {exc}"}, status_code=500)

    @api.get(API_PREFIX + "/docs", include_in_schema=False)
    async def api_docs() -> Response:
        return _ui_page(ctx, "api-docs.html")

    @api.api_route(
        API_PREFIX + "/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def unknown_api(request: Request, rest: str) -> Response:
        # A real endpoint asked with a method it does not have is a 405, saying which it has.
        allowed = sorted(
            {
                method
                for route in api.router.routes
                if isinstance(route, APIRoute) and route.path != request.scope["route"].path
                if route.matches(request.scope)[0] == Match.PARTIAL
                for method in route.methods or ()
            }
        )
        if allowed:
            return FastJSON(
                {"error": f"{request.method} is not allowed here: use {', '.join(allowed)}"},
                status_code=405,
                headers={"Allow": ", ".join(allowed)},
            )
        return FastJSON({"error": f"no such endpoint: {API_PREFIX}/{rest}"}, status_code=404)

    if ctx.metadata_app is not None:
        # Before the UI's catch-all; a separate app, so not in the public OpenAPI spec.
        api.router.routes.append(Mount(METADATA_PREFIX, app=ctx.metadata_app))
    _mount_ui(api, ctx)
    return api


def _prepare_routes(app: FastAPI) -> None:
    """Every route made ready to answer before the first request. FastAPI 0.137 and later
    build an included router's routes (their parameters' pydantic schemas) when a request
    first walks past them: the first page load, matched after every API router, waited
    half a second for all of them. Older versions build them at include time."""
    iter_route_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_route_contexts is not None:
        for _ in iter_route_contexts(app.routes):
            pass


def _ui_page(ctx: AppContext, name: str) -> Response:
    """A page of the UI build, its <base href> set to where flowscope is served."""
    page = (ctx.ui_dir or UI_DIR) / name
    if not page.is_file():
        return HTMLResponse(
            NO_UI_PAGE.format(base=ctx.base_path), headers={"Cache-Control": "no-store"}
        )
    html = BASE_HREF.sub(f'<base href="{ctx.base_path}" />'.encode(), page.read_bytes())
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _mount_ui(api: FastAPI, ctx: AppContext) -> None:
    ui_dir = ctx.ui_dir or UI_DIR

    @api.get("/{path:path}", include_in_schema=False)
    async def ui(request: Request, path: str) -> Response:
        if not (ui_dir / "index.html").is_file():
            return _ui_page(ctx, "index.html")
        if path.startswith("assets/"):
            asset = (ui_dir / path).resolve()
            if asset.is_file() and asset.is_relative_to(ui_dir.resolve()):
                return _asset(asset, request.headers.get("accept-encoding", ""))
            return FastJSON({"error": "not found"}, status_code=404)
        top = (ui_dir / path).resolve()
        if path and "/" not in path and top.is_file() and top.is_relative_to(ui_dir.resolve()):
            return FileResponse(top, headers={"Cache-Control": "no-cache"})
        return _ui_page(ctx, "index.html")


def _asset(asset: Path, accept_encoding: str) -> Response:
    """A file of the UI build; its gzipped copy (made by the build, ui/vite.config.ts) to
    a client that takes gzip, so the server does not compress the same bytes per visit."""
    # Hashed names: a new build gets new names, so these never go stale.
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}
    packed = asset.with_name(asset.name + ".gz")
    if "gzip" in accept_encoding and packed.is_file():
        return FileResponse(
            packed,
            media_type=mimetypes.guess_type(asset.name)[0],
            headers={**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return FileResponse(asset, headers=headers)


def create_app(ctx: AppContext, auth: AuthSettings | None = None) -> FastAPI:
    """The app, mounted under `ctx.base_path` when flowscope sits behind a path prefix,
    and behind `auth` (api/auth.py) when that asks for any."""
    ctx.base_path = "/" + ctx.base_path.strip("/") + "/" if ctx.base_path.strip("/") else "/"
    inner = create_api(ctx)
    if ctx.base_path == "/":
        app = guard(inner, auth, ctx.base_path)
        app.add_middleware(SecurityHeaders)  # outermost: every response, 401s and errors too
        return app
    # A mounted app's lifespan does not run by itself: the outer app runs the inner one's.
    outer = FastAPI(
        openapi_url=None, docs_url=None, redoc_url=None, lifespan=inner.router.lifespan_context
    )
    outer.state.ctx = ctx
    outer.state.hub = inner.state.hub  # for the server's shutdown (server.py)
    prefix = ctx.base_path.rstrip("/")

    @outer.get(prefix, include_in_schema=False)
    async def to_slash() -> Response:
        return Response(status_code=307, headers={"Location": ctx.base_path})

    outer.router.routes.append(Mount(prefix, app=inner))
    app = guard(outer, auth, ctx.base_path)
    app.add_middleware(SecurityHeaders)
    return app
