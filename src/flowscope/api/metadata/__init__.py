"""flowscope as metaflow-service: the REST API the Metaflow client calls, under `/metadata`.

`create_metadata_app(engine, on_change, api_keys)` builds it as an ASGI app of its own, kept
out of flowscope's public API and its OpenAPI spec; `flowscope.api.app` mounts it at
`/metadata` when `AppContext.metadata_app` is set. Point the client at it with
`METAFLOW_DEFAULT_METADATA=service METAFLOW_SERVICE_URL=http://HOST:PORT/metadata`.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from fastapi import FastAPI, Request
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowscope.api.metadata import objects, records
from flowscope.api.metadata.auth import ApiKeyGuard, api_keys_from
from flowscope.api.metadata.common import SERVICE_VERSION, VERSION_HEADER, RequestError, respond
from flowscope.service.metadata_reads import V3Reads
from flowscope.service.v3_writes import (
    BadRequest,
    Conflict,
    NotFound,
    OnChange,
    Unprocessable,
    V3Writes,
)

__all__ = ["SERVICE_VERSION", "api_keys_from", "create_metadata_app"]


class _VersionHeader:
    """Every answer names the service version, as metaflow-service's do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((VERSION_HEADER.encode(), SERVICE_VERSION.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_version)


def create_metadata_app(
    engine: Engine, on_change: OnChange | None = None, api_keys: Iterable[str] = ()
) -> ASGIApp:
    """The metadata service on the v3 tables of `engine`'s database (made by
    `flowscope db upgrade`). `on_change(V3Change)` is called after every committed write
    that changes a run (`what`: run, step, task, metadata, artifacts, tags, heartbeat), in
    the request's worker thread, before the answer is sent: it should only note the run
    (e.g. queue it for a re-sync), not do the work. With `api_keys`, requests need one of
    them in `x-api-key`."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.reads = V3Reads(engine)
    app.state.writes = V3Writes(engine, on_change)

    @app.get("/ping")
    async def ping() -> Response:
        return PlainTextResponse("pong")

    @app.get("/version")
    async def version() -> Response:
        return PlainTextResponse(SERVICE_VERSION)

    @app.get("/healthcheck")
    async def healthcheck() -> Response:
        def probe() -> None:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))

        try:
            await run_in_threadpool(probe)
        except sa.exc.DBAPIError:
            return respond({"status": "DOWN"}, 500)
        return respond({"status": "UP"})

    app.include_router(objects.router)
    app.include_router(records.router)

    @app.exception_handler(RequestError)
    async def request_error(_r: Request, exc: RequestError) -> Response:
        return respond({"message": exc.message}, exc.status)

    for error, status in (
        (NotFound, 404),
        (Conflict, 409),
        (BadRequest, 400),
        (Unprocessable, 422),
    ):

        async def handler(_r: Request, exc: Exception, status: int = status) -> Response:
            return respond({"message": str(exc)}, status)

        app.add_exception_handler(error, handler)

    @app.exception_handler(404)
    async def no_route(request: Request, _exc: Exception) -> Response:
        return respond({"message": f"no such endpoint: {request.url.path}"}, 404)

    guarded: ASGIApp = _VersionHeader(app)
    keys = tuple(api_keys)
    if keys:
        guarded = ApiKeyGuard(guarded, keys)
    return guarded
