"""What a browser's first visit asks of the server: every route ready before it comes,
and the UI's files sent as the build compressed them, not compressed again per visit."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from starlette.testclient import TestClient

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.store import Store

SCRIPT = "console.log('the app');\n" * 200  # big enough for the server to compress
STYLE = "body { color: black; }\n" * 200
# The build's copy, told apart from what the server would make by its header's time.
PACKED = gzip.compress(SCRIPT.encode(), mtime=1234567)


@pytest.fixture
def ui_dir(tmp_path: Path) -> Path:
    """A UI build as `npm run build` writes it: a gzipped copy beside the script; the
    stylesheet has none (a build from before the copies were made)."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><base href="/"><div id="root"></div>')
    (root / "assets" / "index-abc123.js").write_text(SCRIPT)
    (root / "assets" / "index-abc123.js.gz").write_bytes(PACKED)
    (root / "assets" / "index-abc123.css").write_text(STYLE)
    return root


@contextmanager
def serve(tmp_path: Path, ui_dir: Path, base_path: str = "/") -> Iterator[TestClient]:
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store, ui_dir=ui_dir, base_path=base_path)
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as made:  # `with`: the app's startup runs
        yield made
    store.close()


@pytest.fixture
def client(tmp_path: Path, ui_dir: Path) -> Iterator[TestClient]:
    with serve(tmp_path, ui_dir) as made:
        yield made


@pytest.mark.parametrize("base", ["/", "/flowscope/"])
def test_no_route_is_built_by_the_first_requests(
    tmp_path: Path, ui_dir: Path, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI 0.137+ reads a route's parameters (get_dependant) when a request first walks
    # past its router: the first page load, matched after all of them, paid for all.
    built: list[str] = []
    real = fastapi.routing.get_dependant

    def counted(**kwargs: Any) -> Any:
        built.append(kwargs["path"])
        return real(**kwargs)

    with serve(tmp_path, ui_dir, base) as client:
        monkeypatch.setattr(fastapi.routing, "get_dependant", counted)
        for path in ("", "SomeFlow/12", "api/v1/runs", "api/v1/flows/SomeFlow/runs/12/dag"):
            assert client.get(base + path).status_code in (200, 404), path
        assert built == []


def test_a_gzipped_copy_goes_to_a_client_that_takes_gzip(client: TestClient) -> None:
    headers = {"Accept-Encoding": "gzip"}
    with client.stream("GET", "/assets/index-abc123.js", headers=headers) as packed:
        assert packed.status_code == 200
        # The copy itself, byte for byte: not the script compressed again.
        assert b"".join(packed.iter_raw()) == PACKED
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["content-type"].split(";")[0] in (
        "text/javascript",
        "application/javascript",
    )
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["cache-control"] == "public, max-age=31536000, immutable"

    plain = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == SCRIPT


def test_a_file_without_a_copy_is_compressed_as_before(client: TestClient) -> None:
    answer = client.get("/assets/index-abc123.css", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["content-type"].startswith("text/css")
    assert answer.text == STYLE
