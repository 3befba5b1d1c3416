"""What a browser's first visit asks of the server: every route ready before it comes."""

from __future__ import annotations

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


@pytest.fixture
def ui_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    root.mkdir()
    (root / "index.html").write_text('<!doctype html><base href="/"><div id="root"></div>')
    return root


@contextmanager
def serve(tmp_path: Path, ui_dir: Path, base_path: str = "/") -> Iterator[TestClient]:
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store, ui_dir=ui_dir, base_path=base_path)
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as made:  # `with`: the app's startup runs
        yield made
    store.close()


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
