"""A run's timeline: the whole of it as JSON, or, for big runs, an overview packed in a
few bytes a task plus the detail of the rows on screen (issue 10).

Every response is built, serialised and compressed once per version of the run and
carries that version as its ETag, so a browser revalidating gets a 304 and no body.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import StringConstraints
from starlette.responses import Response

from flowscope.api.answers import answers
from flowscope.api.context import AppContext
from flowscope.api.deps import Ctx, Run
from flowscope.api.models import Timeline, TimelineDetail
from flowscope.api.responses import FastJSON
from flowscope.store import RunRef
from flowscope.store.timeline import DETAIL_LIMIT, TaskSelector
from flowscope.store.timeline_pack import GZIP_LEVEL, pack_overview

router = APIRouter(tags=["runs"])

# Unescaped in a URL, so that the longest request the spec allows fits the request line
# uvicorn accepts (about 128 KB; schemathesis found a bigger one cut the connection).
SELECTOR_PATTERN = r"^[A-Za-z0-9_.~-]+/[A-Za-z0-9_.~-]+$"
OVERVIEW_TYPE = "application/vnd.flowscope.timeline-overview"


@router.get(
    "/flows/{flow_id}/runs/{run_id}/timeline",
    response_model=Timeline,
    responses=answers(304, 404, 422),
)
def timeline(ctx: Ctx, ref: Run, request: Request) -> Response:
    def build(_version: str) -> tuple[bytes, bytes]:
        body = orjson.dumps(ctx.store.timeline(ref))
        return body, gzip.compress(body, compresslevel=6)

    return _cached(ctx, ref, request, "json", "application/json", build)


@router.get(
    "/flows/{flow_id}/runs/{run_id}/timeline/overview",
    response_class=Response,
    responses={
        200: {
            "description": "One aggregate per task, packed (see docs/API.md, timeline overview)",
            "content": {OVERVIEW_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
        **answers(304, 404, 422),
    },
)
def timeline_overview(ctx: Ctx, ref: Run, request: Request) -> Response:
    def build(version: str) -> tuple[bytes, bytes]:
        # A finished big run's pack was made when it was sealed (store/timeline_pack.py).
        kept = ctx.store.kept_timeline_pack(ref, version)
        if kept is not None:
            return gzip.decompress(kept), kept
        body = pack_overview(ctx.store.timeline_overview(ref))
        return body, gzip.compress(body, compresslevel=GZIP_LEVEL)

    return _cached(ctx, ref, request, "overview", OVERVIEW_TYPE, build)


@router.get(
    "/flows/{flow_id}/runs/{run_id}/timeline/detail",
    response_model=TimelineDetail,
    responses=answers(404, 422),
)
def timeline_detail(
    ctx: Ctx,
    ref: Run,
    task: Annotated[
        list[Annotated[str, StringConstraints(pattern=SELECTOR_PATTERN, max_length=240)]],
        Query(
            max_length=500,
            description="`step/task_id`, or `step/low-high` for every numeric id in between "
            f"(the answer holds at most {DETAIL_LIMIT} tasks, from the low end of a range). "
            "Ids of letters, digits and `_.~-`, which need no escaping in a URL: 500 of the "
            "longest still fit the server's 128 KB request line.",
        ),
    ],
) -> FastJSON:
    selectors = [_selector(value) for value in task]
    return FastJSON({"items": ctx.store.timeline_detail(ref, selectors)})


def _selector(value: str) -> TaskSelector:
    step, sep, rest = value.partition("/")
    if not sep or not step or not rest:
        raise HTTPException(422, f"invalid task {value!r}: expected step/task_id or step/low-high")
    low, dash, high = rest.partition("-")
    # Past 18 digits no task id fits the index's 64-bit integers: such a "range" can only
    # be a (non-existent) literal id.
    if dash and low.isdigit() and high.isdigit() and len(low) <= 18:
        # The store answers at most DETAIL_LIMIT tasks: a wider range is its low end.
        return TaskSelector(step, low=int(low), high=min(int(high), int(low) + DETAIL_LIMIT - 1))
    return TaskSelector(step, task_id=rest)


# ---- one build per version of the run ----------------------------------------------


class _Cache:
    def __init__(self, size: int = 6) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], tuple[bytes, bytes]] = OrderedDict()

    def get(
        self, key: tuple[str, str], build: Callable[[str], tuple[bytes, bytes]]
    ) -> tuple[bytes, bytes]:
        """The body and its gzipped copy at version `key[1]`, built by `build(version)`
        on a miss."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        made = build(key[1])
        with self._lock:
            self._entries[key] = made
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return made


_cache = _Cache()


def _cached(
    ctx: AppContext,
    ref: RunRef,
    request: Request,
    kind: str,
    media_type: str,
    build: Callable[[str], tuple[bytes, bytes]],
) -> Response:
    version = ctx.store.timeline_version(ref)
    etag = f'"{kind}-{version}"'
    headers = {"ETag": etag, "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    body, packed = _cache.get((kind, version), build)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            packed, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"}
        )
    return Response(body, media_type=media_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
