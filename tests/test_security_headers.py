"""Security headers on every kind of response (issue 12, point 4), through the real app.

The app page, static files, JSON answers and errors (400, 404, 422, an unhandled 500),
the event stream, the metaflow-service API at /metadata (its 401 included) and a card
(which keeps its own, sandboxing policy, as the only one). The browser side, that the
policies hold and break nothing, is ui/e2e/security.spec.ts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.api.metadata import create_metadata_app
from flowscope.api.security_headers import APP_CSP
from flowscope.service import v3_ddl
from flowscope.store import Store
from flowscope.store.database import create_engine

COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def assert_app_headers(headers: Any, what: str) -> None:
    for name, value in COMMON.items():
        assert headers.get(name) == value, (what, name, dict(headers))
    assert headers.get_list("content-security-policy") == [APP_CSP], what


@pytest.fixture
def ui_dir(tmp_path: Path) -> Path:
    """A UI build with the files a real one has (the page, a hashed asset, a top file)."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><base href="/"><div id="root"></div>')
    (root / "api-docs.html").write_text('<!doctype html><base href="/"><div id="swagger-ui">')
    (root / "assets" / "index-abc123.js").write_text("console.log('app')")
    (root / "theme-init.js").write_text("/* theme */")
    return root


@pytest.fixture
def client(indexed_store: Store, ui_dir: Path) -> Iterator[TestClient]:
    ctx = AppContext(store=indexed_store, ui_dir=ui_dir)
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as made:
        yield made


def test_app_csp_allows_no_inline_script_and_no_framing() -> None:
    directives = dict(d.split(" ", 1) for d in APP_CSP.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-eval" not in APP_CSP


def test_pages_and_static_files(client: TestClient) -> None:
    for path in ("/", "/SomeFlow/12", "/api/v1/docs", "/assets/index-abc123.js", "/theme-init.js"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert_app_headers(answer.headers, path)
    missing = client.get("/assets/nope.js")
    assert missing.status_code == 404
    assert_app_headers(missing.headers, "missing asset")


def test_json_answers_and_every_error(client: TestClient, fixture_runs: dict[str, str]) -> None:
    flow, run = fixture_runs["linear"].split("/")
    answers = {
        "/api/v1/health": 200,
        "/api/v1/openapi.json": 200,
        "/api/v1/runs?limit=500": 200,  # big enough to be gzipped: headers survive that
        f"/api/v1/flows/{flow}/runs/{run}": 200,
        "/api/v1/runs?cursor=garbage": 422,
        "/api/v1/runs?cursor=v1_1": 200,
        "/api/v1/flows/NoFlow/runs/1": 404,
        "/api/v1/no/such/endpoint": 404,
        "/api/v1/runs?limit=0": 422,
    }
    for path, status in answers.items():
        answer = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == status, (path, answer.text)
        assert_app_headers(answer.headers, path)


def test_card_keeps_its_own_sandboxing_policy(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    flow, run = fixture_runs["card"].split("/")
    task = api.get(f"/api/v1/flows/{flow}/runs/{run}/tasks?step_name=start").json()["items"][0]
    base = f"/api/v1/flows/{flow}/runs/{run}/steps/start/tasks/{task['task_id']}/cards"
    card = api.get(base).json()["items"][0]
    answer = api.get(card["url"])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    # Exactly one policy: a second (the app's) would be intersected with it by the browser.
    (policy,) = answer.headers.get_list("content-security-policy")
    assert policy.startswith("sandbox allow-scripts")
    assert "allow-same-origin" not in policy
    assert "connect-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    for name, value in COMMON.items():
        assert answer.headers[name] == value
    missing = api.get(f"{base}/nosuchcard")
    assert missing.status_code == 404
    assert_app_headers(missing.headers, "missing card")


async def _response_start(app: Any, path: str, query: str = "") -> dict[str, Any]:
    """The `http.response.start` of a request to the ASGI app; then the client leaves
    (an event stream never ends by itself)."""
    started: dict[str, Any] = {}
    gone = anyio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
            gone.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    with anyio.fail_after(60):
        await app(scope, receive, send)
    return started


def test_event_stream(api: TestClient) -> None:
    assert api.portal is not None  # inside the session client's `with`: the hub runs
    start = api.portal.call(_response_start, api.app, "/api/v1/events")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["content-security-policy"] == APP_CSP
    for name, value in COMMON.items():
        assert headers[name] == value


def test_metadata_service_answers(indexed_store: Store, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'team.sqlite'}")
    v3_ddl.upgrade(engine)
    guarded = create_metadata_app(engine, api_keys=("the-key",))
    ctx = AppContext(store=indexed_store, metadata_app=guarded)
    with TestClient(create_app(ctx)) as client:
        refused = client.get("/metadata/ping")
        assert refused.status_code == 401
        assert_app_headers(refused.headers, "/metadata 401")
        for path, status in (("/metadata/ping", 200), ("/metadata/flows/NoFlow", 404)):
            answer = client.get(path, headers={"x-api-key": "the-key"})
            assert answer.status_code == status, path
            assert_app_headers(answer.headers, path)
    engine.dispose()


def test_an_unhandled_error_still_has_them(indexed_store: Store) -> None:
    ctx = AppContext(store=indexed_store)
    app = create_app(ctx)

    def broken() -> None:
        raise RuntimeError("a bug no handler knows")

    # Ahead of the UI's catch-all route, as any route of the app would be.
    app.router.routes.insert(0, APIRoute("/api/v1/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/broken")
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal server error"}
    assert "a bug no handler knows" not in answer.text
    assert_app_headers(answer.headers, "500")


def test_under_a_base_path(indexed_store: Store, ui_dir: Path) -> None:
    ctx = AppContext(store=indexed_store, ui_dir=ui_dir, base_path="/flowscope")
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        for path, status in (
            ("/flowscope", 307),
            ("/flowscope/", 200),
            ("/flowscope/api/v1/health", 200),
            ("/elsewhere", 404),
        ):
            answer = client.get(path)
            assert answer.status_code == status, path
            assert_app_headers(answer.headers, path)
