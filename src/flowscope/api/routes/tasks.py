"""Tasks of a run: the paged list, and one task with its attempts, metadata and error."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from flowscope.api.answers import RUN, TASK, answers, merge, ok_links
from flowscope.api.deps import Ctx, Run, TaskRow, task_pathspec
from flowscope.api.models import TaskDetail, TaskPage
from flowscope.api.records.clones import task_origin
from flowscope.api.records.decorators import step_decorators
from flowscope.api.records.exceptions import attempt_exceptions
from flowscope.api.records.parallel import gang_member
from flowscope.api.records.placement import task_compute
from flowscope.api.responses import FastJSON, page
from flowscope.api.routes.runs import Cursor
from flowscope.datastore import DatastoreError
from flowscope.ingest.sources import distinct_metadata

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
    foreach: Annotated[
        str | None,
        Query(max_length=200, description="substring of the foreach path, any case"),
    ] = None,
) -> FastJSON:
    items, next_cursor = ctx.store.list_tasks(ref, step_name, status, order, limit, cursor, foreach)
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
    detail["decorators"] = step_decorators(ref.graph, task["step_name"])
    detail["exceptions"] = []
    details = ctx.details_for(ref)
    metadata = details.task_metadata(task_pathspec(ref, task)) if details is not None else []
    detail["metadata"] = [vars(m) for m in distinct_metadata(metadata)]
    detail["parallel"] = gang_member(task["task_id"], metadata, detail["decorators"])
    detail["origin"] = task_origin(metadata, ref.flow_id, task["step_name"])
    detail["compute"] = task_compute(metadata)
    datastore = ctx.datastore_for(ref)
    if datastore is not None:
        # When the datastore cannot be read the page still renders from the index; the
        # log panel says why.
        with contextlib.suppress(DatastoreError):
            detail["exceptions"] = attempt_exceptions(
                datastore, task_pathspec(ref, task), task, detail["decorators"]
            )
    # The latest failed attempt's (or the one @catch caught).
    detail["exception"] = detail["exceptions"][-1] if detail["exceptions"] else None
    return FastJSON(detail)
