from __future__ import annotations

from fastapi import APIRouter

from flowscope.api.deps import Ctx
from flowscope.api.models import Health
from flowscope.api.responses import FastJSON

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(ctx: Ctx) -> FastJSON:
    body: dict[str, object] = {
        "status": "ok",
        "ready": ctx.index.ready.is_set(),
        "root": ctx.root,
        "database": ctx.database,
        "sync": None,
    }
    sync = ctx.index.sync
    if sync is not None:
        with sync.lock:
            body["sync"] = {
                "phase": sync.phase,
                "runs_done": sync.runs_done,
                "runs_total": sync.runs_total,
            }
    return FastJSON(body)
