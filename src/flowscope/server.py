"""Wiring for `flowscope serve`: store, live indexer and HTTP server in one process."""

from __future__ import annotations

import sys
from typing import Protocol

import uvicorn

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.ingest.live import LiveIndexer
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.ingest.locate import find_datastore
from flowscope.ingest.sources import ServiceTaskDetails
from flowscope.service_mode import follower as service_follower
from flowscope.service_mode import is_service_database, open_service
from flowscope.store import Store


class Follower(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


def build(
    root: str | None,
    db_url: str,
    base_path: str = "/",
    poll: bool = False,
    index_url: str | None = None,
) -> tuple[AppContext, Follower | None]:
    if is_service_database(db_url):
        return _build_service(db_url, index_url, base_path)
    store = Store(db_url)
    ctx = AppContext(store=store, base_path=base_path)
    datastore = find_datastore(root)
    if datastore is None or (root is None and not datastore.is_dir()):
        # Nothing to index: serve what the store already holds.
        ctx.index.ready.set()
        return ctx, None
    ctx.root = str(datastore)
    live = LiveIndexer(LocalIndexer(store, datastore), ctx.index.ready, poll=poll)
    return ctx, live


def _build_service(
    db_url: str, index_url: str | None, base_path: str
) -> tuple[AppContext, Follower]:
    mode = open_service(db_url, index_url)
    ctx = AppContext(store=mode.store, base_path=base_path, database=mode.location)
    ctx.register_details("service", mode.location, ServiceTaskDetails(mode.v3_engine))
    follow = service_follower(mode, ctx.index.ready)
    ctx.index.sync = follow.progress
    return ctx, follow


def serve(
    root: str | None,
    db_url: str,
    host: str,
    port: int,
    base_path: str = "/",
    poll: bool = False,
    index_url: str | None = None,
) -> int:
    ctx, live = build(root, db_url, base_path, poll, index_url)
    app = create_app(ctx)
    if live is not None:
        live.start()
        print(f"flowscope: indexing {ctx.root or ctx.database}", file=sys.stderr)
    else:
        print("flowscope: no Metaflow datastore here; serving the existing index", file=sys.stderr)
    print(f"flowscope: open http://{host}:{port}{ctx.base_path}", file=sys.stderr)
    try:
        # Event streams never end by themselves: on shutdown, close them after 2 s.
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    finally:
        if live is not None:
            live.stop()
        ctx.store.close()
    return 0
