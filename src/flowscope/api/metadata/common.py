"""What the `/metadata` routes share: the services, JSON in and out, error bodies."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from flowscope.service.metadata_reads import V3Reads
from flowscope.service.v3_writes import V3Writes

# The metaflow-service version flowscope answers as (header METADATA_SERVICE_VERSION).
# The client turns features on by it: heartbeats from 2.0.4, attempt reads from 2.0.6,
# tag mutation from 2.3.0, filtered_tasks from 2.5.0.
SERVICE_VERSION = "2.5.0"
VERSION_HEADER = "METADATA_SERVICE_VERSION"


class RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def reads(request: Request) -> V3Reads:
    found: V3Reads = request.app.state.reads
    return found


def writes(request: Request) -> V3Writes:
    found: V3Writes = request.app.state.writes
    return found


def respond(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def not_found(what: str) -> Response:
    return respond({"message": f"{what} not found"}, 404)


async def json_body(request: Request, kind: type = dict) -> Any:
    """The request's JSON body, which must be a `kind` (an empty body is an empty one)."""
    raw = await request.body()
    if not raw.strip():
        return kind()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(body, kind):
        raise RequestError(400, f"the body must be a JSON {'object' if kind is dict else 'array'}")
    return body


def attempt_number(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise RequestError(400, f"attempt must be a number, not {value!r}")
    return int(value)
