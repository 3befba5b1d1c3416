"""Authentication of a team server (issue 8 §4): every surface (the UI, /api/v1 with its
event stream, docs and OpenAPI, /metadata) answers 401 without credentials and 200 with
each kind (access token, login session, trusted identity header, the Metaflow client's
x-api-key); the load balancer's health endpoints stay open and tell nothing; no secret
reaches a log. Real uvicorn servers on loopback, a real Metaflow run through /metadata.
"""

from __future__ import annotations

import html
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.metadata_service import client_call, run_flow, service_env, serving
from tests.serve_process import flowscope_serve

from flowscope.api.app import create_app
from flowscope.api.auth import (
    SESSION_COOKIE,
    AuthSettings,
    exposure_warning,
    session_is_valid,
    session_value,
)
from flowscope.api.context import AppContext
from flowscope.api.metadata import create_metadata_app
from flowscope.service import v3_ddl
from flowscope.store import Store
from flowscope.store.database import create_engine

TOKEN = "tok-7f3a9c1e5b2d4f60"
OTHER_TOKEN = "tok-second-0a1b2c3d"
METADATA_KEY = "mdkey-55aa66bb77cc"
USER_HEADER = "X-Forwarded-User"
UI_MARK = "<!-- the flowscope test UI -->"

UI_PAGES = ["", "runs", "flows/LinearFlow/runs/1"]
API_PATHS = ["api/v1/health", "api/v1/runs", "api/v1/flows", "api/v1/openapi.json", "api/v1/docs"]
METADATA_PATHS = ["metadata/ping", "metadata/flows"]
GUARDED = [*UI_PAGES, *API_PATHS, *METADATA_PATHS, "assets/app.js"]
EVENTS = "api/v1/events"


@dataclass
class Served:
    url: str
    ctx: AppContext


def _ui_dir(tmp_path: Path) -> Path:
    """A stand-in UI build (the real one is built by npm; the auth layer is what's tested)."""
    ui = tmp_path / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text(f'<html><head><base href="/" /></head>{UI_MARK}</html>')
    (ui / "api-docs.html").write_text('<html><head><base href="/" /></head>docs</html>')
    (ui / "assets" / "app.js").write_text("console.log('app')")
    return ui


@contextmanager
def team_server(
    tmp_path: Path,
    auth: AuthSettings,
    metadata_keys: tuple[str, ...] = (),
    base_path: str = "/",
) -> Iterator[Served]:
    """A real server: an empty SQLite index, /metadata over a SQLite v3 database."""
    engine = create_engine(f"sqlite:///{tmp_path / 'team.sqlite'}")
    v3_ddl.upgrade(engine)
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(
        store=store,
        base_path=base_path,
        ui_dir=_ui_dir(tmp_path),
        metadata_app=create_metadata_app(engine, api_keys=metadata_keys),
    )
    ctx.index.ready.set()
    try:
        with serving(create_app(ctx, auth)) as url:
            yield Served(url, ctx)
    finally:
        store.close()
        engine.dispose()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = AuthSettings(tokens=(TOKEN, OTHER_TOKEN))
    with team_server(tmp_path_factory.mktemp("token"), settings) as served:
        yield served


@pytest.fixture(scope="module")
def header_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = AuthSettings(identity_header=USER_HEADER)
    with team_server(tmp_path_factory.mktemp("header"), settings) as served:
        yield served


def _get(url: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{url}/{path}", timeout=30, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def _events_status(url: str, **kwargs: object) -> tuple[int, str]:
    """The event stream's status and content type (the stream itself never ends)."""
    with httpx.stream("GET", f"{url}/{EVENTS}", timeout=30, **kwargs) as response:  # type: ignore[arg-type]
        return response.status_code, response.headers.get("content-type", "").split(";")[0]


def _login(url: str, token: str, next_path: str = "/runs") -> httpx.Response:
    return httpx.post(
        f"{url}/login", data={"token": token, "next": next_path}, follow_redirects=False, timeout=30
    )


def _assert_ok(response: httpx.Response, path: str) -> None:
    assert response.status_code == 200, (path, response.status_code, response.text[:200])
    if path in UI_PAGES:
        assert UI_MARK in response.text
    if path == "metadata/ping":
        assert response.text == "pong"


# ---- without credentials: 401 everywhere but the open health endpoints --------------------


@pytest.mark.parametrize("path", GUARDED)
def test_every_surface_refuses_a_request_without_credentials(
    token_server: Served, header_server: Served, path: str
) -> None:
    for served in (token_server, header_server):
        response = _get(served.url, path)
        assert response.status_code == 401, (path, response.status_code)
        assert "authentication required" in response.json()["error"]
        if not path.startswith("metadata"):
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_event_stream_refuses_a_request_without_credentials(
    token_server: Served, header_server: Served
) -> None:
    for served in (token_server, header_server):
        status, content_type = _events_status(served.url)
        assert status == 401 and content_type == "application/json"


def test_a_browser_without_a_session_is_sent_to_the_login_page(token_server: Served) -> None:
    response = _get(token_server.url, "runs?status=failed", headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fruns%3Fstatus%3Dfailed"
    page = _get(token_server.url, "login?next=%2Fruns%3Fstatus%3Dfailed")
    assert page.status_code == 200 and 'name="token"' in page.text
    assert 'value="/runs?status=failed"' in page.text
    assert "https://" not in page.text and "http://" not in page.text  # no CDN, same origin
    css = _get(token_server.url, "login.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Cookie": f"{SESSION_COOKIE}=1999999999.deadbeef"},
        {"x-api-key": TOKEN},  # a key is for /metadata only
        {USER_HEADER: "alice"},  # this server trusts no header
    ],
)
def test_wrong_credentials_are_refused(token_server: Served, headers: dict[str, str]) -> None:
    assert _get(token_server.url, "api/v1/runs", headers=headers).status_code == 401


# ---- with each kind of credential: 200 ----------------------------------------------------


@pytest.mark.parametrize("token", [TOKEN, OTHER_TOKEN])
def test_a_bearer_token_opens_every_surface(token_server: Served, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    for path in GUARDED:
        _assert_ok(_get(token_server.url, path, headers=bearer), path)
    assert _events_status(token_server.url, headers=bearer) == (200, "text/event-stream")
    assert _get(token_server.url, "api/v1/health", headers=bearer).json()["auth"] == "token"


def test_signing_in_sets_a_session_cookie_that_opens_every_surface(token_server: Served) -> None:
    signed_in = _login(token_server.url, TOKEN)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/runs"
    cookie_header = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=strict" in cookie_header
    assert "Path=/" in cookie_header
    assert TOKEN not in cookie_header  # the cookie is derived from the token, not the token
    cookies = {SESSION_COOKIE: signed_in.cookies[SESSION_COOKIE]}
    for path in GUARDED:
        _assert_ok(_get(token_server.url, path, cookies=cookies), path)
    assert _events_status(token_server.url, cookies=cookies) == (200, "text/event-stream")
    assert _get(token_server.url, "api/v1/health", cookies=cookies).json()["auth"] == "session"


def test_a_wrong_token_on_the_login_page_sets_no_cookie(token_server: Served) -> None:
    refused = _login(token_server.url, "not-the-token")
    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    assert "not right" in refused.text


def test_signing_out_clears_the_cookie(token_server: Served) -> None:
    with httpx.Client(base_url=token_server.url, timeout=30) as browser:
        browser.post("/login", data={"token": TOKEN, "next": "/"})
        assert browser.get("/api/v1/runs").status_code == 200
        out = browser.get("/logout", follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert browser.get("/api/v1/runs").status_code == 401


def test_signing_in_again_returns_to_the_page_the_app_was_on(token_server: Served) -> None:
    # The UI sends a browser whose session ended to `login?next=` with its whole location
    # (ui/src/api/client.ts), fragment included; signing in must land there.
    here = "/LinearFlow/12/middle/2?attempt=1&section=logs#L40"
    page = _get(token_server.url, "login", params={"next": here})
    assert f'name="next" value="{html.escape(here, quote=True)}"' in page.text
    assert _login(token_server.url, TOKEN, here).headers["location"] == here


def test_login_never_redirects_off_the_server(token_server: Served) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "runs"):
        assert _login(token_server.url, TOKEN, target).headers["location"] == "/"


def test_a_session_is_bound_to_the_token_and_expires() -> None:
    value = session_value(TOKEN, now=1_000_000)
    assert session_is_valid(value, (TOKEN,), now=1_000_001)
    assert not session_is_valid(value, (OTHER_TOKEN,), now=1_000_001)  # token changed
    assert not session_is_valid(value, (TOKEN,), now=1_000_000 + 8 * 24 * 3600)  # expired
    expires, _, signature = value.partition(".")
    later = str(int(expires) + 10**6)
    assert not session_is_valid(f"{later}.{signature}", (TOKEN,), now=1_000_001)  # tampered
    assert not session_is_valid("garbage", (TOKEN,), now=1_000_001)


def test_a_trusted_identity_header_opens_every_surface(header_server: Served) -> None:
    alice = {USER_HEADER: "alice@example.com"}
    for path in GUARDED:
        _assert_ok(_get(header_server.url, path, headers=alice), path)
    assert _events_status(header_server.url, headers=alice) == (200, "text/event-stream")
    health = _get(header_server.url, "api/v1/health", headers=alice).json()
    assert health["auth"] == "identity-header" and health["user"] == "alice@example.com"
    assert _get(header_server.url, "api/v1/runs", headers={USER_HEADER: ""}).status_code == 401
    # Without tokens, a bearer token means nothing here.
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert _get(header_server.url, "api/v1/runs", headers=bearer).status_code == 401


def test_token_and_identity_header_together_accept_either(tmp_path: Path) -> None:
    settings = AuthSettings(tokens=(TOKEN,), identity_header=USER_HEADER)
    with team_server(tmp_path, settings) as served:
        assert _get(served.url, "api/v1/runs").status_code == 401
        assert _get(served.url, "api/v1/runs", headers={USER_HEADER: "bob"}).status_code == 200
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert _get(served.url, "api/v1/runs", headers=bearer).status_code == 200


# ---- /metadata: the client's x-api-key, composed with the access tokens --------------------


def test_metadata_takes_the_access_tokens_as_api_keys(token_server: Served) -> None:
    for path in METADATA_PATHS:
        _assert_ok(_get(token_server.url, path, headers={"x-api-key": TOKEN}), path)
        assert _get(token_server.url, path, headers={"x-api-key": "nope"}).status_code == 401


def test_metadata_keys_when_given_are_the_only_way_into_metadata(tmp_path: Path) -> None:
    settings = AuthSettings(tokens=(TOKEN,), metadata_has_keys=True)
    with team_server(tmp_path, settings, metadata_keys=(METADATA_KEY,)) as served:
        keyed = {"x-api-key": METADATA_KEY}
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert _get(served.url, "metadata/ping", headers=keyed).text == "pong"
        assert _get(served.url, "metadata/ping").status_code == 401
        assert _get(served.url, "metadata/ping", headers=bearer).status_code == 401
        assert _get(served.url, "metadata/ping", headers={"x-api-key": TOKEN}).status_code == 401
        # ... and a metadata key opens nothing else.
        assert _get(served.url, "api/v1/runs", headers=keyed).status_code == 401
        assert _get(served.url, "api/v1/runs", headers=bearer).status_code == 200


def test_a_real_flow_runs_through_metadata_with_the_token_as_its_auth_key(
    token_server: Served, tmp_path: Path
) -> None:
    """METAFLOW_SERVICE_AUTH_KEY=<access token>: the unmodified client writes and reads back;
    without it the client is turned away."""
    sysroot = tmp_path / "sysroot"
    (sysroot / ".metaflow").mkdir(parents=True)
    keyed = service_env(sysroot, f"{token_server.url}/metadata", METAFLOW_SERVICE_AUTH_KEY=TOKEN)
    run_id = run_flow(keyed, "tags_flow.py", "--tag", "through-auth")
    read_tags = (
        "import sys\nfrom metaflow import Run, namespace\nnamespace(None)\n"
        "print(','.join(sorted(Run(sys.argv[1]).user_tags)))\n"
    )
    assert client_call(keyed, read_tags, f"TagsFlow/{run_id}").strip() == "through-auth"
    unkeyed = service_env(sysroot, f"{token_server.url}/metadata", METAFLOW_SERVICE_RETRY_COUNT="1")
    with pytest.raises(AssertionError, match="401"):
        client_call(unkeyed, read_tags, f"TagsFlow/{run_id}")


# ---- open health endpoints ------------------------------------------------------------------


def test_live_and_ready_are_open_and_tell_nothing(token_server: Served) -> None:
    live = _get(token_server.url, "api/v1/health/live")
    assert live.status_code == 200 and live.json() == {"status": "live"}
    ready = _get(token_server.url, "api/v1/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "reason": None}


def test_ready_is_503_with_a_reason_until_the_index_serves(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store, root=str(tmp_path / "secret-project" / ".metaflow"))
    with TestClient(create_app(ctx)) as api:
        starting = api.get("/api/v1/health/ready")
        assert starting.status_code == 503 and starting.headers["retry-after"]
        assert starting.json() == {"ready": False, "reason": "the first index pass is running"}
        assert api.get("/api/v1/health/live").status_code == 200
        ctx.index.ready.set()
        assert api.get("/api/v1/health/ready").status_code == 200
        store.close()  # the index's database gone: not ready, without saying where it was
        store.engine.pool.dispose()
        (tmp_path / "index.sqlite").unlink()
        (tmp_path / "index.sqlite").mkdir()  # cannot be reopened as a database
        gone = api.get("/api/v1/health/ready")
        assert gone.status_code == 503
        assert gone.json()["reason"] == "the index database does not answer"
        assert str(tmp_path) not in gone.text


def test_auth_works_under_a_base_path(tmp_path: Path) -> None:
    with team_server(tmp_path, AuthSettings(tokens=(TOKEN,)), base_path="/flowscope") as served:
        assert _get(served.url, "flowscope/api/v1/runs").status_code == 401
        assert _get(served.url, "flowscope/api/v1/health/live").status_code == 200
        page = _get(served.url, "flowscope/runs", headers={"Accept": "text/html"})
        assert page.headers["location"] == "/flowscope/login?next=%2Fflowscope%2Fruns"
        signed_in = _login(served.url + "/flowscope", TOKEN, "/flowscope/runs")
        assert signed_in.headers["location"] == "/flowscope/runs"
        assert "Path=/flowscope/" in signed_in.headers["set-cookie"]
        cookies = {SESSION_COOKIE: signed_in.cookies[SESSION_COOKIE]}
        assert _get(served.url, "flowscope/api/v1/runs", cookies=cookies).status_code == 200


# ---- secrets stay out of logs; a warning when exposed ---------------------------------------


def test_no_secret_reaches_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = AuthSettings(tokens=(TOKEN,))
    with team_server(tmp_path, settings) as served:
        _login(served.url, "wrong-" + TOKEN)
        signed_in = _login(served.url, TOKEN)
        cookie = signed_in.cookies[SESSION_COOKIE]
        _get(served.url, "api/v1/runs", headers={"Authorization": f"Bearer {TOKEN}"})
        _get(served.url, "api/v1/runs", headers={"Authorization": f"Bearer x{TOKEN}"})
        _get(served.url, "api/v1/runs", cookies={SESSION_COOKIE: cookie + "0"})
        _get(served.url, "metadata/ping", headers={"x-api-key": "bad" + TOKEN})
    # The server's side (flowscope, uvicorn, starlette); httpx and httpcore are this test's
    # own client, whose debug log shows the headers it sent and received.
    server_log = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "refused" in server_log and "signed in" in server_log  # the log did record
    assert TOKEN not in server_log
    assert cookie.partition(".")[2] not in server_log


def test_serve_keeps_secrets_out_of_its_output_and_help(tmp_path: Path) -> None:
    """A real `flowscope -v serve` given its token and metadata key by environment."""
    secrets = {"FLOWSCOPE_AUTH_TOKEN": TOKEN, "FLOWSCOPE_METADATA_API_KEYS": METADATA_KEY}
    with flowscope_serve(tmp_path, env=secrets, verbose=True) as served:
        served.wait_ready()
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert _get(served.url, "api/v1/runs", headers=bearer).status_code == 200
        assert _get(served.url, "api/v1/runs").status_code == 401
        _login(served.url, TOKEN)
        _login(served.url, TOKEN[:-1])
        assert served.stop(signal.SIGTERM) == 0
        output = served.text()
    assert "sign-in required: 1 access token" in output
    assert "refused" in output  # -v logs refusals
    assert TOKEN not in output and METADATA_KEY not in output
    help_text = subprocess.run(
        [sys.executable, "-m", "flowscope.cli", "serve", "--help"],
        env={**os.environ, **secrets},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "FLOWSCOPE_AUTH_TOKEN" in help_text and TOKEN not in help_text


def test_binding_beyond_loopback_without_auth_warns(tmp_path: Path) -> None:
    with flowscope_serve(tmp_path, host="0.0.0.0") as served:
        served.wait_ready()
        assert served.stop() == 0
    assert "WARNING: listening on 0.0.0.0 with no authentication" in served.text()
    with flowscope_serve(
        tmp_path / "guarded", host="0.0.0.0", env={"FLOWSCOPE_AUTH_TOKEN": TOKEN}
    ) as served:
        served.wait_ready()
        assert served.stop() == 0
    assert "WARNING" not in served.text()


def test_exposure_warning_names_what_is_open() -> None:
    none = AuthSettings()
    assert exposure_warning("127.0.0.1", none, metadata_open=True) is None
    assert exposure_warning("::1", none, metadata_open=True) is None
    assert exposure_warning("localhost", none, metadata_open=True) is None
    both = exposure_warning("0.0.0.0", none, metadata_open=True)
    assert both is not None and "/api/v1" in both and "/metadata (read and write)" in both
    keyed = exposure_warning("::", AuthSettings(metadata_has_keys=True), metadata_open=True)
    assert keyed is not None and "/metadata (read and write)" not in keyed
    assert exposure_warning("10.0.0.5", AuthSettings(tokens=(TOKEN,)), metadata_open=True) is None
    header = AuthSettings(identity_header=USER_HEADER)
    assert exposure_warning("flowscope.internal", header, metadata_open=True) is None


def test_metadata_keys_without_a_metadata_service_open_nothing(tmp_path: Path) -> None:
    """`--metadata-api-key` without `--metadata-service`: no /metadata is mounted, so its
    paths are the UI's like any other and need a credential."""
    secrets = {"FLOWSCOPE_AUTH_TOKEN": TOKEN, "FLOWSCOPE_METADATA_API_KEYS": METADATA_KEY}
    with flowscope_serve(tmp_path, env=secrets) as served:
        served.wait_ready()
        assert _get(served.url, "metadata/ping").status_code == 401
        keyed = {"x-api-key": METADATA_KEY}
        assert _get(served.url, "metadata/ping", headers=keyed).status_code == 401
        assert served.stop() == 0
