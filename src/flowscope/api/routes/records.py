"""What Metaflow recorded about a run beyond its tasks' statuses (issue 9)."""

from __future__ import annotations

from fastapi import APIRouter

from flowscope.api.answers import answers
from flowscope.api.deps import Ctx, Run
from flowscope.api.models import ClonePage
from flowscope.api.records.clones import run_clones
from flowscope.api.responses import FastJSON

router = APIRouter(tags=["runs"])


@router.get(
    "/flows/{flow_id}/runs/{run_id}/clones", response_model=ClonePage, responses=answers(404, 422)
)
def list_clones(ctx: Ctx, ref: Run) -> FastJSON:
    """The tasks `resume` cloned from the origin run, each with the task it copies."""
    details = ctx.details_for(ref)
    run = ctx.store.get_run(ref)
    if details is None or run is None or not run.get("origin_run_id"):
        return FastJSON({"items": [], "truncated": False})
    items, truncated = run_clones(ctx.store, details, ref)
    return FastJSON({"items": items, "truncated": truncated})
