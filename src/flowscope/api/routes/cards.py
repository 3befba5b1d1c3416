"""Cards: listed per task and served as sandboxed HTML (cards are user content)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import Response

from flowscope.api.deps import Datastore, Run, TaskRow
from flowscope.api.models import CardPage
from flowscope.api.responses import page
from flowscope.datastore import NotFoundError

router = APIRouter(tags=["cards"])

TASK = "/flows/{flow_id}/runs/{run_id}/steps/{step_name}/tasks/{task_id}"
# The card runs its own scripts, but in an opaque origin: no cookies, no same-origin API
# calls, no top navigation. It may not load anything from elsewhere.
CARD_CSP = (
    "sandbox allow-scripts allow-popups; default-src 'none'; "
    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
    "font-src data:; connect-src 'none'; frame-ancestors 'self'"
)


@router.get(TASK + "/cards", response_model=CardPage)
def list_cards(ref: Run, task: TaskRow, datastore: Datastore, request: Request) -> Response:
    cards = datastore.list_cards(ref.flow_id, ref.run_id, task["step_name"], task["task_id"])
    base = str(request.url.path).rstrip("/")
    items = [{"id": c.hash, "type": c.type, "url": f"{base}/{c.hash}"} for c in cards]
    return page(items, None)


@router.get(
    TASK + "/cards/{card_id}",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}},
)
def get_card(ref: Run, task: TaskRow, datastore: Datastore, card_id: str) -> Response:
    try:
        html = datastore.card_html(
            ref.flow_id, ref.run_id, task["step_name"], task["task_id"], card_id
        )
    except NotFoundError as exc:
        raise HTTPException(404, f"card {card_id} not found") from exc
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": CARD_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
