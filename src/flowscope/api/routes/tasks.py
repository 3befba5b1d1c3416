"""Tasks of a run: the paged list, and one task with its attempts, metadata and error."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from flowscope.api.answers import RUN, TASK, answers, merge, ok_links
from flowscope.api.deps import Ctx, Run, TaskRow, task_pathspec
from flowscope.api.models import TaskDetail, TaskPage
from flowscope.api.responses import FastJSON, page
from flowscope.api.routes.runs import Cursor
from flowscope.datastore import DatastoreError
from flowscope.datastore.base import Datastore, Stream
from flowscope.datastore.exceptions import find_exception
from flowscope.pathspec import Pathspec

router = APIRouter(tags=["tasks"])

TaskOrder = Literal[
    "task_id",
    "-task_id",
    "started_at",
    "-started_at",
    "finished_at",
    "-finished_at",
    "duration_ms",
    "-duration_ms",
]
TaskStatus = Literal["pending", "running", "completed", "failed"]


@router.get(
    "/flows/{flow_id}/runs/{run_id}/tasks",
    response_model=TaskPage,
    responses=merge(
        answers(404, 422),
        ok_links(
            first_task=(
                "get_task",
                {
                    **RUN,
                    "step_name": "$response.body#/items/0/step_name",
                    "task_id": "$response.body#/items/0/task_id",
                },
            ),
            next_page=("list_tasks", {**RUN, "cursor": "$response.body#/next_cursor"}),
        ),
    ),
)
def list_tasks(
    ctx: Ctx,
    ref: Run,
    step_name: str | None = None,
    status: TaskStatus | None = None,
    order: TaskOrder = "task_id",
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    cursor: Cursor = None,
) -> FastJSON:
    items, next_cursor = ctx.store.list_tasks(ref, step_name, status, order, limit, cursor)
    return page(items, next_cursor)


@router.get(
    "/flows/{flow_id}/runs/{run_id}/steps/{step_name}/tasks/{task_id}",
    response_model=TaskDetail,
    responses=merge(
        answers(404, 422),
        ok_links(
            artifacts=("list_artifacts", TASK),
            cards=("list_cards", TASK),
            stdout=("read_log", {**TASK, "stream": "stdout"}),
            stderr=("read_log", {**TASK, "stream": "stderr"}),
        ),
    ),
)
def get_task(ctx: Ctx, ref: Run, task: TaskRow) -> FastJSON:
    detail: dict[str, Any] = dict(task)
    detail["metadata"] = []
    detail["exception"] = None
    details = ctx.details_for(ref)
    if details is not None:
        detail["metadata"] = [vars(m) for m in details.task_metadata(task_pathspec(ref, task))]
    datastore = ctx.datastore_for(ref)
    if datastore is not None:
        # When the datastore cannot be read the page still renders from the index; the
        # log panel says why.
        with contextlib.suppress(DatastoreError):
            detail["exception"] = _exception(datastore, task_pathspec(ref, task), task)
    return FastJSON(detail)


def _exception(datastore: Datastore, pathspec: Pathspec, task: dict[str, Any]) -> Any:
    """The traceback of the latest failed attempt (or of the one @catch caught)."""
    failed = [a for a in task["attempts"] if a["status"] == "failed"]
    if task["caught"] and task["attempts"]:
        failed.append(task["attempts"][-1])
    if not failed:
        return None
    attempt = failed[-1]["attempt"]
    # @catch prints the traceback it caught to stdout; a raising task's goes to stderr.
    stream: Stream = "stdout" if task["caught"] else "stderr"
    lines = datastore.open_log(pathspec, attempt, stream).lines.lines()
    found = find_exception([line.text for line in lines])
    if found is None:
        return None
    return {
        "type": found.type,
        "message": found.message,
        "traceback": found.traceback,
        "attempt": attempt,
    }
