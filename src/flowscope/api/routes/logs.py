"""Task logs: paged by line range (tail first), searched server-side, downloaded whole."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from starlette.responses import Response

from flowscope.api.deps import Datastore, Run, TaskRow, pick_attempt
from flowscope.api.models import LogPage, LogSearch
from flowscope.api.responses import FastJSON
from flowscope.store import RunRef

if TYPE_CHECKING:
    from flowscope.datastore.local import LocalDatastore
    from flowscope.datastore.mflog import MergedLog

router = APIRouter(tags=["logs"])

Stream = Literal["stdout", "stderr"]
TASK = "/flows/{flow_id}/runs/{run_id}/steps/{step_name}/tasks/{task_id}"
OPEN_LOGS = 32


class _OpenLogs:
    """Recently opened logs, so paging a big log does not re-merge it per page.

    Keyed by the log files' sizes and mtimes: a log that grew is opened afresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: OrderedDict[tuple[Any, ...], MergedLog] = OrderedDict()

    def get(
        self,
        datastore: LocalDatastore,
        ref: RunRef,
        task: dict[str, Any],
        attempt: int,
        stream: str,
    ) -> MergedLog:
        where = (ref.flow_id, ref.run_id, task["step_name"], task["task_id"], attempt, stream)
        key = (str(datastore.root), *where, *(_stat(p) for p in datastore.log_paths(*where)))
        with self._lock:
            found = self._logs.get(key)
            if found is not None:
                self._logs.move_to_end(key)
                return found
        opened = datastore.open_log(*where)
        with self._lock:
            self._logs[key] = opened
            while len(self._logs) > OPEN_LOGS:
                self._logs.popitem(last=False)
        return opened


def _stat(path: os.PathLike[str]) -> tuple[int, int]:
    try:
        info = os.stat(path)
    except OSError:
        return (-1, -1)
    return (info.st_size, info.st_mtime_ns)


open_logs = _OpenLogs()


@router.get(TASK + "/logs/{stream}", response_model=LogPage)
def read_log(
    ref: Run,
    task: TaskRow,
    datastore: Datastore,
    stream: Stream,
    attempt: Annotated[int | None, Query(ge=0)] = None,
    start: Annotated[int | None, Query(ge=0, description="0-based index of the first line")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> FastJSON:
    number = pick_attempt(task, attempt)
    log = open_logs.get(datastore, ref, task, number, stream)
    total = len(log)
    first = max(0, total - limit) if start is None else min(start, total)
    items = [
        {"n": first + i + 1, "ts": line.ts, "text": line.text}
        for i, line in enumerate(log.lines(first, first + limit))
    ]
    earlier = str(max(0, first - limit)) if first > 0 else None
    return FastJSON({"items": items, "total": total, "start": first, "next_cursor": earlier})


@router.get(TASK + "/logs/{stream}/search", response_model=LogSearch)
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
    lines = open_logs.get(datastore, ref, task, number, stream).lines()
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
    responses={200: {"content": {"text/plain": {}}}},
)
def download_log(
    ref: Run,
    task: TaskRow,
    datastore: Datastore,
    stream: Stream,
    attempt: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    number = pick_attempt(task, attempt)
    text = datastore.log_text(
        ref.flow_id, ref.run_id, task["step_name"], task["task_id"], number, stream
    )
    if text is None:
        raise HTTPException(404, "no log")
    name = f"{ref.flow_id}_{ref.run_id}_{task['step_name']}_{task['task_id']}_{number}.{stream}.txt"
    return Response(
        text.encode("utf-8"),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
