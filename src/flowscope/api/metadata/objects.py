"""Flows, runs, steps and tasks under `/metadata`, with heartbeats and tag mutation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from flowscope.api.metadata.common import (
    RequestError,
    json_body,
    not_found,
    reads,
    respond,
    writes,
)

router = APIRouter()
RUN = "/flows/{flow_id}/runs/{run}"
STEP = RUN + "/steps/{step_name}"
TASK = STEP + "/tasks/{task}"


def _heartbeat_answer(wait_s: int) -> Response:
    # The client reads this body as a JSON string holding JSON (json.loads(resp.json())),
    # which is what the service sends.
    return respond(f'{{"wait_time_in_seconds": {wait_s}}}')


@router.get("/flows")
async def list_flows(request: Request) -> Response:
    return respond(await run_in_threadpool(reads(request).flows))


@router.get("/flows/{flow_id}")
async def get_flow(request: Request, flow_id: str) -> Response:
    found = await run_in_threadpool(reads(request).flow, flow_id)
    return not_found(f"flow {flow_id}") if found is None else respond(found)


@router.post("/flows/{flow_id}")
async def create_flow(request: Request, flow_id: str) -> Response:
    body = await json_body(request)
    return respond(await run_in_threadpool(writes(request).create_flow, flow_id, body))


@router.get("/flows/{flow_id}/runs")
async def list_runs(request: Request, flow_id: str) -> Response:
    return respond(await run_in_threadpool(reads(request).runs, flow_id))


@router.get(RUN)
async def get_run(request: Request, flow_id: str, run: str) -> Response:
    found = await run_in_threadpool(reads(request).run, flow_id, run)
    return not_found(f"run {flow_id}/{run}") if found is None else respond(found)


@router.post("/flows/{flow_id}/run")
async def create_run(request: Request, flow_id: str) -> Response:
    body = await json_body(request)
    return respond(await run_in_threadpool(writes(request).create_run, flow_id, body))


@router.post(RUN + "/heartbeat")
async def run_heartbeat(request: Request, flow_id: str, run: str) -> Response:
    wait_s = await run_in_threadpool(writes(request).heartbeat_run, flow_id, run)
    return _heartbeat_answer(wait_s)


@router.patch(RUN + "/tag/mutate")
async def mutate_tags(request: Request, flow_id: str, run: str) -> Response:
    body = await json_body(request)
    to_add = body.get("tags_to_add", [])
    to_remove = body.get("tags_to_remove", [])
    if not isinstance(to_add, list):
        raise RequestError(400, "tags_to_add must be a list")
    if not isinstance(to_remove, list):
        raise RequestError(400, "tags_to_remove must be a list")
    if not all(isinstance(t, str) for t in (*to_add, *to_remove)):
        raise RequestError(400, "All tag values must be strings")
    tags = await run_in_threadpool(writes(request).mutate_run_tags, flow_id, run, to_add, to_remove)
    return respond({"tags": tags})


@router.get(RUN + "/steps")
async def list_steps(request: Request, flow_id: str, run: str) -> Response:
    return respond(await run_in_threadpool(reads(request).steps, flow_id, run))


@router.get(STEP)
async def get_step(request: Request, flow_id: str, run: str, step_name: str) -> Response:
    found = await run_in_threadpool(reads(request).steps, flow_id, run, step_name)
    return respond(found[0]) if found else not_found(f"step {flow_id}/{run}/{step_name}")


@router.post(STEP + "/step")
async def create_step(request: Request, flow_id: str, run: str, step_name: str) -> Response:
    body = await json_body(request)
    return respond(
        await run_in_threadpool(writes(request).create_step, flow_id, run, step_name, body)
    )


@router.get(STEP + "/tasks")
async def list_tasks(request: Request, flow_id: str, run: str, step_name: str) -> Response:
    return respond(await run_in_threadpool(reads(request).tasks, flow_id, run, step_name))


@router.get(STEP + "/filtered_tasks")
async def filtered_tasks(request: Request, flow_id: str, run: str, step_name: str) -> Response:
    field = request.query_params.get("metadata_field_name")
    pattern = request.query_params.get("pattern")
    try:
        found = await run_in_threadpool(
            reads(request).filtered_task_pathspecs, flow_id, run, step_name, field, pattern
        )
    except ValueError as exc:
        raise RequestError(400, str(exc)) from exc
    return respond(found)


@router.get(TASK)
async def get_task(request: Request, flow_id: str, run: str, step_name: str, task: str) -> Response:
    found = await run_in_threadpool(reads(request).tasks, flow_id, run, step_name, task)
    return respond(found[0]) if found else not_found(f"task {flow_id}/{run}/{step_name}/{task}")


@router.post(STEP + "/task")
async def create_task(request: Request, flow_id: str, run: str, step_name: str) -> Response:
    body = await json_body(request)
    return respond(
        await run_in_threadpool(writes(request).create_task, flow_id, run, step_name, body)
    )


@router.post(TASK + "/heartbeat")
async def task_heartbeat(
    request: Request, flow_id: str, run: str, step_name: str, task: str
) -> Response:
    wait_s = await run_in_threadpool(writes(request).heartbeat_task, flow_id, run, step_name, task)
    return _heartbeat_answer(wait_s)
