"""Health: the full picture for people (`/health`, behind auth like the rest of the API),
and liveness and readiness for load balancers (`/health/live`, `/health/ready`: open, and
saying nothing but whether this process serves and whether its index answers)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from flowscope.api.auth import identity_of
from flowscope.api.deps import Ctx
from flowscope.api.models import Health, HealthLive, HealthReady
from flowscope.api.responses import FastJSON

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health", response_model=Health)
def health(ctx: Ctx, request: Request) -> FastJSON:
    identity = identity_of(request)
    body: dict[str, object] = {
        "status": "ok",
        "ready": ctx.index.ready.is_set(),
        "root": ctx.root,
        "database": ctx.database,
        "sync": None,
        "auth": identity.method,
        "user": identity.user,
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


@router.get("/health/live", response_model=HealthLive)
def live() -> FastJSON:
    return FastJSON({"status": "live"})


@router.get(
    "/health/ready",
    response_model=HealthReady,
    responses={503: {"model": HealthReady, "description": "Not ready: `reason` says why"}},
)
def ready(ctx: Ctx) -> FastJSON:
    if not ctx.index.ready.is_set():
        reason = (
            "the first sync of the metaflow-service database has not started"
            if ctx.index.sync is not None
            else "the first index pass is running"
        )
        return _not_ready(reason)
    try:
        ctx.store.event_bounds()  # one indexed read: the index database answers
    except Exception:
        # The details (host names, driver messages) go to the log, not to the open endpoint.
        log.exception("readiness check: the index database does not answer")
        return _not_ready("the index database does not answer")
    return FastJSON({"ready": True, "reason": None})


def _not_ready(reason: str) -> FastJSON:
    return FastJSON(
        {"ready": False, "reason": reason}, status_code=503, headers={"Retry-After": "2"}
    )
