"""Cards: listed per task and served as sandboxed HTML (cards are user content)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, HTTPException, Request
from starlette.responses import Response

from flowscope.api.answers import DATASTORE, TASK, answers, merge, ok_links
from flowscope.api.deps import Ctx, Datastore, Run, TaskRow, task_pathspec
from flowscope.api.models import CardData, CardPage
from flowscope.api.responses import page
from flowscope.datastore import NotFoundError
from flowscope.datastore.base import Datastore as DatastoreReader
from flowscope.pathspec import Pathspec
from flowscope.store import RunRef

router = APIRouter(tags=["cards"])

TASK_PATH = "/flows/{flow_id}/runs/{run_id}/steps/{step_name}/tasks/{task_id}"
# The card runs its own scripts, but in an opaque origin: no cookies, no same-origin API
# calls, no top navigation. It may not load anything from elsewhere.
CARD_CSP = (
    "sandbox allow-scripts allow-popups; default-src 'none'; "
    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
    "font-src data:; connect-src 'none'; frame-ancestors 'self'"
)


def _card_task(
    ctx: Ctx, ref: RunRef, task: dict[str, object], datastore: DatastoreReader
) -> tuple[DatastoreReader, Pathspec]:
    """Where the task's cards are: like `get_cards(task)`, those of the task `resume`
    cloned it from, when it is a clone (in the origin run's datastore if indexed)."""
    pathspec = task_pathspec(ref, task)
    origin = ctx.origin_of(ref, pathspec)
    if origin is None or origin.run is None:
        return datastore, pathspec
    origin_ref = ctx.store.find_run(origin.flow, origin.run)
    found = ctx.datastore_for(origin_ref) if origin_ref is not None else None
    return found or datastore, origin


@router.get(
    TASK_PATH + "/cards",
    response_model=CardPage,
    responses=merge(
        answers(*DATASTORE),
        ok_links(first=("get_card", {**TASK, "card_id": "$response.body#/items/0/id"})),
    ),
)
def list_cards(
    ctx: Ctx, ref: Run, task: TaskRow, datastore: Datastore, request: Request
) -> Response:
    source, pathspec = _card_task(ctx, ref, task, datastore)
    cards = source.list_cards(pathspec)
    base = str(request.url.path).rstrip("/")
    items = [{"id": c.hash, "type": c.type, "url": f"{base}/{c.hash}"} for c in cards]
    return page(items, None)


# Metaflow's card viewer polls a card's data and calls the frame's
# `metaflow_card_update(data)` when the data's `reload_token` matches the card's
# METAFLOW_RELOAD_TOKEN, else reloads the frame (plugins/cards/card_viewer/viewer.html).
# Our frame is sandboxed without same-origin, so the page cannot call into it: this bridge,
# added to the card, takes the data by postMessage from the page that framed it, and
# tells that page its token. The card still fetches nothing itself (connect-src 'none').
UPDATE_BRIDGE = b"""<script>
(function () {
  var token = typeof METAFLOW_RELOAD_TOKEN === "string" ? METAFLOW_RELOAD_TOKEN : null;
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;
    var m = event.data;
    if (!m || m.type !== "flowscope-card-data") return;
    if (typeof window.metaflow_card_update === "function") window.metaflow_card_update(m.data);
  });
  window.parent.postMessage(
    {type: "flowscope-card-ready", token: token,
     updatable: typeof window.metaflow_card_update === "function"},
    "*"
  );
})();
</script>"""


def with_update_bridge(html: bytes) -> bytes:
    """The card with the bridge before `</body>` (after the card's own scripts)."""
    at = html.rfind(b"</body>")
    if at < 0:
        return html + UPDATE_BRIDGE
    return html[:at] + UPDATE_BRIDGE + html[at:]


@router.get(
    TASK_PATH + "/cards/{card_id}/data",
    response_model=CardData,
    responses=answers(*DATASTORE),
)
def get_card_data(
    ctx: Ctx, ref: Run, task: TaskRow, datastore: Datastore, card_id: str
) -> Response:
    """The newest data of a card that refreshes while its task runs (404: it has none)."""
    source, pathspec = _card_task(ctx, ref, task, datastore)
    try:
        raw = source.card_data(pathspec, card_id)
        payload = orjson.loads(raw)
    except NotFoundError as exc:
        raise HTTPException(404, f"card {card_id} has no runtime data") from exc
    except orjson.JSONDecodeError as exc:  # caught mid-write: the next poll gets it
        raise HTTPException(503, "card data is being rewritten") from exc
    if not isinstance(payload, dict):
        raise HTTPException(404, f"card {card_id} has no runtime data")
    body = {
        "reload_token": str(payload.get("reload_token"))
        if payload.get("reload_token") is not None
        else None,
        "data": payload.get("data"),
        "created_on": payload.get("created_on")
        if isinstance(payload.get("created_on"), int | float)
        else None,
    }
    return Response(
        orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@router.get(
    TASK_PATH + "/cards/{card_id}",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, **answers(*DATASTORE)},
)
def get_card(ctx: Ctx, ref: Run, task: TaskRow, datastore: Datastore, card_id: str) -> Response:
    source, pathspec = _card_task(ctx, ref, task, datastore)
    try:
        html = source.card_html(pathspec, card_id)
    except NotFoundError as exc:
        raise HTTPException(404, f"card {card_id} not found") from exc
    return Response(
        with_update_bridge(html),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": CARD_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
