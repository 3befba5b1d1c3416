"""Task logs: paged by line range (tail first), searched server-side, downloaded whole.

The datastore caches opened logs and gives each a version, sent as the ETag: a page
asked again with `If-None-Match` of an unchanged log is a 304 without a body.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from flowscope.api.answers import DATASTORE, answers
from flowscope.api.deps import (
    Datastore,
    Run,
    TaskRow,
    pick_attempt,
    task_pathspec,
)
from flowscope.api.models import LogPage, LogSearch
from flowscope.api.responses import FastJSON
from flowscope.datastore.base import TaskLog

router = APIRouter(tags=["logs"])

Stream = Literal["stdout", "stderr"]
TASK = "/flows/{flow_id}/runs/{run_id}/steps/{step_name}/tasks/{task_id}"
# A page shows at most this much of one line (the download has it whole): a log that is
# one 2 GB line must not become a 2 GB JSON answer (issue 12).
LINE_CAP = 64 * 1024


def _etag(log: TaskLog, *parts: object) -> str:
    return '"' + "|".join(str(p) for p in (log.version, *parts)).replace('"', "'") + '"'


def _not_modified(request: Request, etag: str) -> Response | None:
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return None


@router.get(TASK + "/logs/{stream}", response_model=LogPage, responses=answers(304, *DATASTORE))
def read_log(
    request: Request,
    ref: Run,
    task: TaskRow,
    datastore: Datastore,
    stream: Stream,
    attempt: Annotated[int | None, Query(ge=0)] = None,
    start: Annotated[int | None, Query(ge=0, description="0-based index of the first line")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> Response:
    number = pick_attempt(task, attempt)
    log = datastore.open_log(task_pathspec(ref, task), number, stream)
    etag = _etag(log, start, limit)
    unchanged = _not_modified(request, etag)
    if unchanged is not None:
        return unchanged
    total = len(log)
    first = max(0, total - limit) if start is None else min(start, total)
    items = [
        {"n": first + i + 1, "ts": line.ts, "text": line.text}
        for i, line in enumerate(log.lines.lines(first, first + limit, LINE_CAP))
    ]
    earlier = str(max(0, first - limit)) if first > 0 else None
    body = {
        "items": items,
        "total": total,
        "start": first,
        "next_cursor": earlier,
        "omitted_bytes": log.omitted_bytes,
    }
    return FastJSON(body, headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.get(TASK + "/logs/{stream}/search", response_model=LogSearch, responses=answers(*DATASTORE))
def search_log(
    ref: Run,
    task: TaskRow,
    datastore: Datastore,
    stream: Stream,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    attempt: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> FastJSON:
    number = pick_attempt(task, attempt)
    lines = datastore.open_log(task_pathspec(ref, task), number, stream).lines.lines(
        max_line_bytes=LINE_CAP
    )
    needle = q.casefold()
    matches = [
        {"n": i + 1, "text": line.text}
        for i, line in enumerate(lines)
        if needle in line.text.casefold()
    ]
    return FastJSON({"items": matches[:limit], "total_matches": len(matches)})


@router.get(
    TASK + "/logs/{stream}/download",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **answers(*DATASTORE)},
)
def download_log(
    ref: Run,
    task: TaskRow,
    datastore: Datastore,
    stream: Stream,
    attempt: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    number = pick_attempt(task, attempt)
    log = datastore.open_log(task_pathspec(ref, task), number, stream)
    name = f"{ref.flow_id}_{ref.run_id}_{task['step_name']}_{task['task_id']}_{number}.{stream}.txt"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "ETag": _etag(log)}
    if log.omitted_bytes:
        # Only the tail of a log too big to fetch whole from remote storage.
        headers["X-Omitted-Bytes"] = str(log.omitted_bytes)
    # Streamed: a log of any size downloads in bounded memory.
    return StreamingResponse(
        log.lines.iter_bytes(), media_type="text/plain; charset=utf-8", headers=headers
    )
