"""`x-api-key` for `/metadata`: the header the Metaflow client sends from
`METAFLOW_SERVICE_AUTH_KEY`. With keys configured, every request under `/metadata` must
carry one of them; compared in constant time, and never logged."""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

KEYS_ENV = "FLOWSCOPE_METADATA_API_KEYS"
HEADER = b"x-api-key"
_REFUSAL = b'{"message":"this metadata service needs a valid x-api-key header"}'


def api_keys_from(
    given: Iterable[str] | None = None, environ: Mapping[str, str] = os.environ
) -> tuple[str, ...]:
    """The keys /metadata accepts: those given (e.g. repeated `--metadata-api-key`) and
    those in FLOWSCOPE_METADATA_API_KEYS (comma-separated). Empty: no key needed."""
    keys = [k.strip() for k in (given or ())]
    keys += [k.strip() for k in environ.get(KEYS_ENV, "").split(",")]
    return tuple(dict.fromkeys(k for k in keys if k))


class ApiKeyGuard:
    """ASGI middleware: 401 unless the request's x-api-key is one of the keys."""

    def __init__(self, app: ASGIApp, keys: Iterable[str]) -> None:
        self.app = app
        self._keys = tuple(k.encode("utf-8") for k in keys)

    def allows(self, given: bytes | None) -> bool:
        if given is None:
            return False
        # Every key is compared, so the time taken does not tell which one (or none) matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(given, key)
        return matched

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._keys:
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), None)
        if self.allows(given):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_REFUSAL)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _REFUSAL})
