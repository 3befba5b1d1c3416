from __future__ import annotations

from fastapi import APIRouter

from flowscope.api.deps import Ctx
from flowscope.api.models import Health
from flowscope.api.responses import FastJSON

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(ctx: Ctx) -> FastJSON:
    return FastJSON({"status": "ok", "ready": ctx.index.ready.is_set(), "root": ctx.root})
