"""/api/v1/docs is the UI build's own page (Swagger UI bundled from npm), so it works
offline; the browser test (ui/e2e/offline.spec.ts) checks that it renders with no
request leaving the server."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.store import Store


def test_docs_page_comes_from_the_ui_build_under_the_base_path(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'i.sqlite'}")
    ui = tmp_path / "dist"
    ui.mkdir()
    (ui / "index.html").write_text('<html><head><base href="/" /></head><body>app</body></html>')
    (ui / "api-docs.html").write_text(
        '<html><head><base href="/" /><script src="./assets/api-docs-1.js"></script></head>'
        '<body><div id="swagger-ui"></div></body></html>'
    )
    with TestClient(create_app(AppContext(store=store, base_path="/fs", ui_dir=ui))) as client:
        page = client.get("/fs/api/v1/docs")
        assert page.status_code == 200
        assert '<base href="/fs/" />' in page.text and 'id="swagger-ui"' in page.text
        assert "cdn" not in page.text.lower()
        # The spec it reads is still the app's own.
        assert client.get("/fs/api/v1/openapi.json").json()["info"]["title"] == "flowscope"
    bare = AppContext(store=store, ui_dir=tmp_path / "missing")
    with TestClient(create_app(bare)) as client:
        assert "npm run build" in client.get("/api/v1/docs").text
    store.close()
