"""Path resolution shared by the routes: unknown flows, runs, steps and tasks are 404s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request

from flowscope.api.context import AppContext
from flowscope.datastore.base import Datastore as DatastoreReader
from flowscope.pathspec import Pathspec
from flowscope.store import RunRef


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(context)]


def run_ref(
    ctx: Ctx,
    flow_id: Annotated[str, Path(max_length=255)],
    run_id: Annotated[str, Path(max_length=255)],
) -> RunRef:
    ref = ctx.store.find_run(flow_id, run_id)
    if ref is None:
        raise HTTPException(404, f"run {flow_id}/{run_id} not found")
    return ref


Run = Annotated[RunRef, Depends(run_ref)]


def task_row(
    ctx: Ctx,
    ref: Run,
    step_name: Annotated[str, Path(max_length=255)],
    task_id: Annotated[str, Path(max_length=255)],
) -> dict[str, Any]:
    task = ctx.store.get_task(ref, step_name, task_id)
    if task is None:
        if not ctx.store.step_exists(ref, step_name):
            raise HTTPException(404, f"step {ref.flow_id}/{ref.run_id}/{step_name} not found")
        raise HTTPException(404, f"task {ref.flow_id}/{ref.run_id}/{step_name}/{task_id} not found")
    return task


TaskRow = Annotated[dict[str, Any], Depends(task_row)]


def datastore(ctx: Ctx, ref: Run) -> DatastoreReader:
    found = ctx.datastore_for(ref)
    if found is None:
        raise HTTPException(404, "this run's metadata does not say where its data is")
    return found


Datastore = Annotated[DatastoreReader, Depends(datastore)]
# What routes reading a run's datastore may answer besides 200 and 404 (see api/app.py).
DATASTORE_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"description": "The run's datastore cannot be reached now (`error` says why)"},
    501: {"description": "The run's datastore is of a kind flowscope cannot read yet"},
}


def task_pathspec(ref: RunRef, task: dict[str, Any]) -> Pathspec:
    return Pathspec(ref.flow_id, ref.run_id, task["step_name"], task["task_id"])


def pick_attempt(task: dict[str, Any], attempt: int | None) -> int:
    """The attempt asked for, or the latest; 404 for one the task never had."""
    if attempt is None:
        return int(task["attempt"])
    known = {a["attempt"] for a in task["attempts"]}
    if attempt not in known and attempt != task["attempt"]:
        raise HTTPException(404, f"attempt {attempt} not found")
    return attempt
