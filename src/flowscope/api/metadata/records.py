"""A task's metadata and artifact records under `/metadata`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from flowscope.api.metadata.common import (
    RequestError,
    attempt_number,
    json_body,
    not_found,
    reads,
    respond,
    writes,
)
from flowscope.api.metadata.objects import RUN, STEP, TASK
from flowscope.service.v3_writes import NotFound

router = APIRouter()
NOT_REGISTERED = "need to register run_id and task_id first"


@router.get(TASK + "/metadata")
async def task_metadata(
    request: Request, flow_id: str, run: str, step_name: str, task: str
) -> Response:
    return respond(await run_in_threadpool(reads(request).metadata, flow_id, run, step_name, task))


@router.get(RUN + "/metadata")
async def run_metadata(request: Request, flow_id: str, run: str) -> Response:
    return respond(await run_in_threadpool(reads(request).metadata, flow_id, run))


@router.post(TASK + "/metadata")
async def add_metadata(
    request: Request, flow_id: str, run: str, step_name: str, task: str
) -> Response:
    items = await json_body(request, list)
    try:
        count = await run_in_threadpool(
            writes(request).add_metadata, flow_id, run, step_name, task, items
        )
    except NotFound as exc:
        raise RequestError(400, NOT_REGISTERED) from exc
    return respond({"metadata_created": count})


@router.post(TASK + "/artifact")
async def add_artifacts(
    request: Request, flow_id: str, run: str, step_name: str, task: str
) -> Response:
    items = await json_body(request, list)
    try:
        count = await run_in_threadpool(
            writes(request).add_artifacts, flow_id, run, step_name, task, items
        )
    except NotFound as exc:
        raise RequestError(400, NOT_REGISTERED) from exc
    return respond({"artifacts_created": count})


@router.get(TASK + "/artifacts")
async def task_artifacts(
    request: Request, flow_id: str, run: str, step_name: str, task: str
) -> Response:
    return respond(await run_in_threadpool(reads(request).artifacts, flow_id, run, step_name, task))


@router.get(TASK + "/attempt/{attempt}/artifacts")
async def attempt_artifacts(
    request: Request, flow_id: str, run: str, step_name: str, task: str, attempt: str
) -> Response:
    number = attempt_number(attempt)
    return respond(
        await run_in_threadpool(reads(request).artifacts, flow_id, run, step_name, task, number)
    )


@router.get(TASK + "/artifacts/{name}")
async def get_artifact(
    request: Request, flow_id: str, run: str, step_name: str, task: str, name: str
) -> Response:
    found = await run_in_threadpool(
        reads(request).artifact, flow_id, run, step_name, task, name, None
    )
    return not_found(f"artifact {name}") if found is None else respond(found)


@router.get(TASK + "/artifacts/{name}/attempt/{attempt}")
async def get_artifact_attempt(
    request: Request, flow_id: str, run: str, step_name: str, task: str, name: str, attempt: str
) -> Response:
    number = attempt_number(attempt)
    found = await run_in_threadpool(
        reads(request).artifact, flow_id, run, step_name, task, name, number
    )
    return not_found(f"artifact {name} of attempt {number}") if found is None else respond(found)


@router.get(STEP + "/artifacts")
async def step_artifacts(request: Request, flow_id: str, run: str, step_name: str) -> Response:
    return respond(await run_in_threadpool(reads(request).artifacts, flow_id, run, step_name))


@router.get(RUN + "/artifacts")
async def run_artifacts(request: Request, flow_id: str, run: str) -> Response:
    return respond(await run_in_threadpool(reads(request).artifacts, flow_id, run))
