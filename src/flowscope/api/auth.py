"""Who may use a team server: the UI, `/api/v1` (its event stream and docs included) and
`/metadata`.

Three kinds of credential, any one of which lets a request in (issue 8 §4):

- an access token (`flowscope serve --auth-token`): `Authorization: Bearer TOKEN` for
  scripts; for browsers, the login page at `<base>login` trades it for a session cookie
  (HttpOnly, SameSite=Strict), so the UI's fetches and its EventSource need no change. The
  token doubles as the team's password: the login page asks for it, and any string works
  as a token, so a separate password option would only be a second name for it;
- an identity header set by an authenticating reverse proxy
  (`--trust-identity-header X-Forwarded-User`): present and non-empty, the request is that
  user's. Only safe when the proxy is the one way in (it must also strip the header from
  what clients send);
- on `/metadata`, the Metaflow client's `x-api-key` (METAFLOW_SERVICE_AUTH_KEY). With
  `--metadata-api-key` given, `/metadata` takes only those keys (its own guard,
  `api/metadata/auth.py`); without, it takes the access tokens as keys.

`/api/v1/health/live` and `/api/v1/health/ready` stay open for load balancers; they tell
nothing but whether the process serves. Comparisons are constant-time; no token, key,
cookie or password is ever logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import logging
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, quote

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

SESSION_COOKIE = "flowscope_session"
SESSION_SECONDS = 7 * 24 * 3600
# Unauthenticated paths (relative to the base path): what a load balancer probes and what
# a browser needs to log in.
OPEN_PATHS = frozenset({"api/v1/health/live", "api/v1/health/ready", "login.css"})
LOGIN_PATH = "login"
LOGOUT_PATH = "logout"
MAX_FORM_BYTES = 16 * 1024
# A wrong credential costs its sender a second: guessing a short token one request at a
# time becomes slow, and nothing is held while waiting.
REFUSAL_DELAY_S = 1.0
MAX_IDENTITY_CHARS = 256

Method = Literal["none", "token", "session", "identity-header", "api-key"]


@dataclass(frozen=True)
class AuthSettings:
    """What `flowscope serve` was told: access tokens, a trusted identity header, and
    whether /metadata checks its own keys (then it is left to that guard)."""

    tokens: tuple[str, ...] = ()
    identity_header: str | None = None
    metadata_has_keys: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.tokens or self.identity_header)

    def describe(self) -> str:
        """One line for the terminal, naming no secret."""
        kinds = []
        if self.tokens:
            count = len(self.tokens)
            kinds.append(f"{count} access token{'s' if count > 1 else ''}")
        if self.identity_header:
            kinds.append(f"the {self.identity_header} header from a trusted proxy")
        return " or ".join(kinds) if kinds else "nothing"


@dataclass(frozen=True)
class Identity:
    """Who a request is from, as the app sees it (`request.state.identity`)."""

    method: Method
    user: str | None = None


ANONYMOUS = Identity("none")


def tokens_from(given: list[str] | None, env_value: str | None) -> tuple[str, ...]:
    """Tokens from repeated --auth-token and FLOWSCOPE_AUTH_TOKEN (comma-separated)."""
    tokens = [t.strip() for t in (given or ())]
    tokens += [t.strip() for t in (env_value or "").split(",")]
    return tuple(dict.fromkeys(t for t in tokens if t))


def _matches_any(given: str, secrets: tuple[str, ...]) -> bool:
    # Every secret is compared, so the time taken does not tell which one (or none) matched.
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))
    return found


def _session_signature(token: str, expires: int) -> str:
    # Derived from the token: every replica checks it without shared state, and changing
    # the token signs every browser out.
    message = f"flowscope-session:{expires}".encode()
    return hmac.new(token.encode("utf-8"), message, hashlib.sha256).hexdigest()


def session_value(token: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + SESSION_SECONDS)
    return f"{expires}.{_session_signature(token, expires)}"


def session_is_valid(value: str, tokens: tuple[str, ...], now: float | None = None) -> bool:
    expires_text, _, signature = value.partition(".")
    if not expires_text.isdigit() or int(expires_text) < (time.time() if now is None else now):
        return False
    expires = int(expires_text)
    return _matches_any(signature, tuple(_session_signature(t, expires) for t in tokens))


class AuthGate:
    """ASGI middleware in front of the whole app (UI, /api/v1, /metadata)."""

    def __init__(self, app: ASGIApp, settings: AuthSettings, base_path: str = "/") -> None:
        self.app = app
        self.settings = settings
        self.base_path = base_path
        header = settings.identity_header
        self._identity_header = header.lower() if header else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.settings.enabled:
            await self.app(scope, receive, send)
            return
        path = self._relative(scope["path"])
        if path in OPEN_PATHS and scope["type"] == "http":
            if path == "login.css":
                await _LOGIN_CSS(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if path == LOGIN_PATH and scope["type"] == "http":
            await self._login(scope, receive, send)
            return
        if path == LOGOUT_PATH and scope["type"] == "http":
            await self._logout(scope, receive, send)
            return
        is_metadata = path == "metadata" or path.startswith("metadata/")
        if is_metadata and self.settings.metadata_has_keys:
            await self.app(scope, receive, send)  # its own x-api-key guard decides
            return
        headers = Headers(scope=scope)
        identity, offered = self._identify(headers, api_key=is_metadata)
        if identity is None:
            await self._refuse(scope, receive, send, path, headers, offered)
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)

    def _relative(self, path: str) -> str:
        if path.startswith(self.base_path):
            return path[len(self.base_path) :]
        return path.lstrip("/")

    def _identify(self, headers: Headers, api_key: bool) -> tuple[Identity | None, bool]:
        """Who sent these headers, and whether they offered any credential at all."""
        offered = False
        if self._identity_header is not None:
            user = headers.get(self._identity_header, "").strip()
            if user:
                shown = "".join(c for c in user[:MAX_IDENTITY_CHARS] if c.isprintable())
                return Identity("identity-header", shown), True
        tokens = self.settings.tokens
        if not tokens:
            return None, offered
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            offered = True
            if _matches_any(credential.strip(), tokens):
                return Identity("token"), True
        cookie = _cookie(headers, SESSION_COOKIE)
        if cookie:
            offered = True
            if session_is_valid(cookie, tokens):
                return Identity("session"), True
        key = headers.get("x-api-key")
        if api_key and key:
            offered = True
            if _matches_any(key, tokens):
                return Identity("api-key"), True
        return None, offered

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: str,
        headers: Headers,
        offered: bool,
    ) -> None:
        client = _client(scope)
        # The path only: a query string is the user's to fill, and could carry anything.
        log.info(
            "refused %s /%s from %s: %s",
            scope.get("method", "WEBSOCKET"),
            path,
            client,
            "wrong credentials" if offered else "no credentials",
        )
        if offered:
            await asyncio.sleep(REFUSAL_DELAY_S)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        wants_page = (
            scope.get("method") in ("GET", "HEAD")
            and "text/html" in headers.get("accept", "")
            and not path.startswith("metadata")
        )
        response: Response
        if wants_page:
            target = scope["path"] + (
                "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
            )
            response = RedirectResponse(
                f"{self.base_path}{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303
            )
        else:
            response = JSONResponse(
                {"error": self._how_to_authenticate(path)},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="flowscope"'},
            )
        await response(scope, receive, send)

    def _how_to_authenticate(self, path: str) -> str:
        ways = []
        if self.settings.tokens:
            ways.append(
                "an x-api-key header (METAFLOW_SERVICE_AUTH_KEY)"
                if path.startswith("metadata")
                else "an Authorization: Bearer header"
            )
            ways.append(f"a session from {self.base_path}{LOGIN_PATH}")
        if self.settings.identity_header:
            ways.append(f"the {self.settings.identity_header} header of the trusted proxy")
        return "authentication required: " + ", or ".join(ways)

    # ---- the login page ----------------------------------------------------------------

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "POST":
            body = await _bounded_body(request)
            form = parse_qs(body.decode("utf-8", "replace")) if body is not None else {}
            token = (form.get("token") or [""])[0]
            target = self._safe_next((form.get("next") or [""])[0])
            if token and self.settings.tokens and _matches_any(token, self.settings.tokens):
                log.info("signed in from %s", _client(scope))
                response: Response = RedirectResponse(target, status_code=303)
                response.set_cookie(
                    SESSION_COOKIE,
                    session_value(token),
                    max_age=SESSION_SECONDS,
                    path=self.base_path,
                    httponly=True,
                    samesite="strict",
                    secure=scope.get("scheme") == "https",
                )
                await response(scope, receive, send)
                return
            log.warning("refused a sign-in from %s: wrong token", _client(scope))
            await asyncio.sleep(REFUSAL_DELAY_S)
            page = self._login_page(target, "That token is not right.")
            await HTMLResponse(page, status_code=401, headers=_NO_STORE)(scope, receive, send)
            return
        if request.method not in ("GET", "HEAD"):
            await Response(status_code=405, headers={"Allow": "GET, POST"})(scope, receive, send)
            return
        target = self._safe_next(request.query_params.get("next", ""))
        await HTMLResponse(self._login_page(target), headers=_NO_STORE)(scope, receive, send)

    async def _logout(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = RedirectResponse(f"{self.base_path}{LOGIN_PATH}", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=self.base_path, httponly=True)
        await response(scope, receive, send)

    def _safe_next(self, target: str) -> str:
        """Where to go after signing in: a path of this server only (no open redirect)."""
        if target.startswith(self.base_path) and not target.startswith("//") and "\\" not in target:
            return target
        return self.base_path

    def _login_page(self, target: str, error: str | None = None) -> str:
        base = html.escape(self.base_path, quote=True)
        message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        token_form = ""
        if self.settings.tokens:
            token_form = f"""<form method="post" action="{base}{LOGIN_PATH}">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{html.escape(target, quote=True)}">
<button type="submit">Sign in</button></form>"""
        else:
            token_form = "<p>Sign in through your organisation's proxy.</p>"
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · flowscope</title><link rel="stylesheet" href="{base}login.css"></head>
<body><main><h1>flowscope</h1>{message}{token_form}</main></body></html>"""


_NO_STORE = {"Cache-Control": "no-store"}
_LOGIN_CSS = Response(
    """body{font-family:system-ui,sans-serif;background:#f6f7f9;color:#1d2430;margin:0}
main{max-width:22rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{margin-top:0;font-size:1.4rem}
label{display:block;margin-bottom:.4rem;font-weight:600}
input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;
border:1px solid #9aa3af;border-radius:4px}
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem;border:0;border-radius:4px;
background:#1f5fbf;color:#fff;cursor:pointer}.error{color:#a3161b}""",
    media_type="text/css",
    headers={"Cache-Control": "no-cache"},
)


async def _bounded_body(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def guard(app: FastAPI, settings: AuthSettings | None, base_path: str) -> FastAPI:
    """The app behind an AuthGate when any authentication is configured."""
    if settings is not None and settings.enabled:
        app.add_middleware(AuthGate, settings=settings, base_path=base_path)
    return app


def identity_of(request: Request) -> Identity:
    """Who the request is from (set by AuthGate; anonymous when auth is off)."""
    identity = request.scope.get("state", {}).get("identity")
    return identity if isinstance(identity, Identity) else ANONYMOUS


def is_loopback(host: str) -> bool:
    """Whether binding `host` serves this machine only."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: could resolve anywhere


def exposure_warning(host: str, settings: AuthSettings, metadata_open: bool) -> str | None:
    """What to say when the server is reachable from other machines with nothing guarding
    it (UI/API without auth, or /metadata without keys or tokens)."""
    if is_loopback(host):
        return None
    open_parts = []
    if not settings.enabled:
        open_parts.append("the UI and /api/v1")
    # With tokens or a trusted header, /metadata is guarded too (see AuthGate).
    if metadata_open and not settings.enabled and not settings.metadata_has_keys:
        open_parts.append("/metadata (read and write)")
    if not open_parts:
        return None
    return (
        f"flowscope: WARNING: listening on {host} with no authentication on "
        f"{' and '.join(open_parts)}: anyone who can reach this port can use it. "
        "Pass --auth-token (or FLOWSCOPE_AUTH_TOKEN), --trust-identity-header behind an "
        "authenticating proxy, --metadata-api-key for /metadata, or --host 127.0.0.1."
    )
