"""Flows and runs: the lists a user starts from, and one run with its graph and steps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from flowscope.api.answers import RUN, answers, merge, ok_links
from flowscope.api.context import AppContext
from flowscope.api.deps import Ctx, Run
from flowscope.api.models import Dag, FlowPage, RunDetail, RunPage, StepPage
from flowscope.api.records.configs import split_configs
from flowscope.api.records.decorators import step_decorators
from flowscope.api.records.placement import run_code, run_scheduler
from flowscope.api.records.triggers import run_triggers
from flowscope.api.responses import FastJSON, page
from flowscope.datastore import NotFoundError
from flowscope.ingest.sources import MetadataEntry
from flowscope.pathspec import Pathspec
from flowscope.store import RunFilters, RunRef
from flowscope.store.paging import CURSOR_PATTERN

router = APIRouter(tags=["runs"])

RunOrder = Literal[
    "-started_at", "started_at", "-finished_at", "-duration_ms", "duration_ms", "finished_at"
]
Limit = Annotated[int, Query(ge=1, le=500)]
# The index's integers are 64-bit: a bigger bound made SQLite raise (schemathesis, issue 12).
INT64 = 2**63
# Every string this pattern allows is a position in the list (store/paging.py).
Cursor = Annotated[
    str | None,
    Query(pattern=CURSOR_PATTERN, description="the `next_cursor` of the previous page"),
]
FlowCursor = Annotated[
    str | None,
    Query(
        max_length=255,
        pattern=r"^[^\x00]+$",
        description="the `next_cursor` of the previous page: the last flow id shown",
    ),
]


@router.get(
    "/flows",
    response_model=FlowPage,
    responses=merge(
        answers(422), ok_links(next_page=("list_flows", {"cursor": "$response.body#/next_cursor"}))
    ),
)
def list_flows(ctx: Ctx, limit: Limit = 100, cursor: FlowCursor = None) -> FastJSON:
    items, next_cursor = ctx.store.list_flows(limit, cursor)
    return page(items, next_cursor)


@router.get(
    "/runs",
    response_model=RunPage,
    responses=merge(
        answers(422),
        ok_links(
            first_run=(
                "get_run",
                {
                    "flow_id": "$response.body#/items/0/flow_id",
                    "run_id": "$response.body#/items/0/run_id",
                },
            ),
            next_page=("list_runs", {"cursor": "$response.body#/next_cursor"}),
        ),
    ),
)
def list_runs(
    ctx: Ctx,
    flow_id: str | None = None,
    user: str | None = None,
    tag: Annotated[list[str], Query(description="repeatable; all must match")] = [],  # noqa: B006 (FastAPI copies it)
    status: Literal["running", "completed", "failed"] | None = None,
    started_after: Annotated[
        int | None, Query(ge=-INT64, le=INT64 - 1, description="epoch ms, inclusive")
    ] = None,
    started_before: Annotated[
        int | None, Query(ge=-INT64, le=INT64 - 1, description="epoch ms, exclusive")
    ] = None,
    project: str | None = None,
    branch: str | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="substring of flow or run id")
    ] = None,
    order: RunOrder = "-started_at",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> FastJSON:
    filters = RunFilters(
        flow_id=flow_id,
        user=user,
        tags=tag or (),
        status=status,
        started_after=started_after,
        started_before=started_before,
        project=project,
        branch=branch,
        q=q,
    )
    items, next_cursor = ctx.store.list_runs(filters, order, limit, cursor)
    return page(items, next_cursor)


@router.get(
    "/flows/{flow_id}/runs/{run_id}",
    response_model=RunDetail,
    responses=merge(
        answers(404, 422),
        ok_links(
            steps=("list_steps", RUN),
            dag=("get_dag", RUN),
            tasks=("list_tasks", RUN),
            timeline=("timeline", RUN),
            timeline_overview=("timeline_overview", RUN),
        ),
    ),
)
def get_run(ctx: Ctx, ref: Run) -> FastJSON:
    run = ctx.store.get_run(ref)
    if run is None:  # deleted between lookup and read
        raise HTTPException(404, f"run {ref.flow_id}/{ref.run_id} not found")
    run["parameters"], run["configs"] = split_configs(ref.graph, run.get("parameters") or {})
    start_metadata = _start_task_metadata(ctx, ref)
    run["scheduler"] = run_scheduler(run["system_tags"], start_metadata)
    run.update(run_code(start_metadata))
    run["triggers"] = run_triggers(
        start_metadata, lambda flow, run_id: ctx.store.find_run(flow, run_id) is not None
    )
    return FastJSON(run)


def _start_task_metadata(ctx: AppContext, ref: RunRef) -> list[MetadataEntry]:
    """The start task's metadata, where the run-level records live (read on demand)."""
    details = ctx.details_for(ref)
    if details is None:
        return []
    start = str((ref.graph or {}).get("start_step") or "start")
    tasks, _ = ctx.store.list_tasks(ref, start, None, "task_id", 1, None)
    if not tasks:
        return []
    try:
        return details.task_metadata(Pathspec(ref.flow_id, ref.run_id, start, tasks[0]["task_id"]))
    except NotFoundError:
        return []


@router.get("/flows/{flow_id}/runs/{run_id}/dag", response_model=Dag, responses=answers(404, 422))
def get_dag(ref: Run) -> FastJSON:
    if not ref.graph:
        raise HTTPException(404, f"run {ref.flow_id}/{ref.run_id} has no graph recorded yet")
    return FastJSON(dag_of(ref.graph))


def dag_of(graph: dict[str, Any]) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for name, info in (graph.get("steps") or {}).items():
        if not isinstance(info, dict):
            continue
        steps[name] = {
            "type": str(info.get("type", "linear")),
            "next": [str(n) for n in info.get("next") or []],
            "doc": str(info.get("doc") or ""),
            "foreach_artifact": info.get("foreach_artifact"),
            "matching_join": info.get("matching_join"),
            "switch_cases": info.get("switch_cases"),
            "decorators": step_decorators(graph, name),
            "num_parallel": info.get("num_parallel")
            if isinstance(info.get("num_parallel"), int)
            else None,
        }
    return {
        "steps": steps,
        "structure": graph.get("graph_structure") or [],
        "start_step": str(graph.get("start_step") or "start"),
        "end_step": str(graph.get("end_step") or "end"),
    }


@router.get(
    "/flows/{flow_id}/runs/{run_id}/steps", response_model=StepPage, responses=answers(404, 422)
)
def list_steps(ctx: Ctx, ref: Run) -> FastJSON:
    return page(ctx.store.list_steps(ref), None)
