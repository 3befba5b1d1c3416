"""Wiring for `flowscope serve`: store, live indexer and HTTP server in one process."""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

import uvicorn
from rich.console import Console
from rich.progress import Progress, TaskID

from flowscope.api.app import create_app
from flowscope.api.auth import AuthSettings, exposure_warning
from flowscope.api.context import AppContext
from flowscope.ingest.live import LiveIndexer
from flowscope.ingest.local_indexer import LocalIndexer, PassStats
from flowscope.ingest.locate import find_datastore
from flowscope.ingest.service_follow import ServiceFollower
from flowscope.ingest.sources import ServiceTaskDetails
from flowscope.service.v3_shapes import V3Change
from flowscope.service_mode import follower as service_follower
from flowscope.service_mode import is_service_database, open_service
from flowscope.store import Store

log = logging.getLogger(__name__)
STOP_THREADS_S = 10.0
MAX_REQUEST_HEAD_BYTES = 1 << 20
KEEP_ALIVE_S = 75


class Follower(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class FirstIndexReport:
    """What the terminal shows of the first pass (the local index, or the first sync of a
    metaflow-service database): a progress bar while it runs (on a terminal), then one
    line with how many runs it took in and how long that took."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.label = "indexing runs"

    def progress(self, done: int, total: int) -> None:
        if not self.out.isatty():
            return
        with self.lock:
            if self.bar is None or self.task is None:
                self.bar = Progress(console=Console(file=self.out), transient=True)
                self.task = self.bar.add_task(self.label, total=None)
                self.bar.start()
            self.bar.update(self.task, completed=done, total=total)

    def done(self, stats: PassStats) -> None:
        self._finish("indexed", stats.runs_seen, stats.seconds, stats.errors)

    def synced(self, runs: int, seconds: float) -> None:
        self._finish("synced", runs, seconds, 0)

    def _finish(self, verb: str, runs: int, seconds: float, errors: int) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.stop()
                self.bar = self.task = None
        noun = "run" if runs == 1 else "runs"
        unread = f" ({errors:,} could not be read: see above)" if errors else ""
        print(
            f"flowscope: {verb} {runs:,} {noun} in {seconds:.1f} s{unread}",
            file=self.out,
            flush=True,
        )


@dataclass(frozen=True)
class MetadataService:
    """Serve metaflow-service's REST API under /metadata, writing the v3 tables of --db."""

    api_keys: tuple[str, ...] = ()


def build(
    root: str | None,
    db_url: str,
    base_path: str = "/",
    poll: bool = False,
    index_url: str | None = None,
    report: FirstIndexReport | None = None,
    metadata: MetadataService | None = None,
) -> tuple[AppContext, Follower | None]:
    if is_service_database(db_url):
        return _build_service(db_url, index_url, base_path, metadata, report)
    if metadata is not None:
        raise SystemExit(
            f"flowscope: --metadata-service needs a database with metaflow-service's tables; "
            f"make them first: flowscope db upgrade --db {db_url}"
        )
    store = Store(db_url)
    ctx = AppContext(store=store, base_path=base_path)
    datastore = find_datastore(root)
    if datastore is None or (root is None and not datastore.is_dir()):
        # Nothing to index: serve what the store already holds.
        ctx.index.ready.set()
        return ctx, None
    ctx.root = str(datastore)
    live = LiveIndexer(
        LocalIndexer(store, datastore),
        ctx.index.ready,
        poll=poll,
        first_pass_progress=report.progress if report else None,
        on_first_pass=report.done if report else None,
    )
    return ctx, live


def _build_service(
    db_url: str,
    index_url: str | None,
    base_path: str,
    metadata: MetadataService | None,
    report: FirstIndexReport | None,
) -> tuple[AppContext, Follower]:
    mode = open_service(db_url, index_url)
    ctx = AppContext(store=mode.store, base_path=base_path, database=mode.location)
    ctx.register_details("service", mode.location, ServiceTaskDetails(mode.v3_engine))
    if report is not None:
        report.label = "syncing runs"
    follow = service_follower(
        mode,
        ctx.index.ready,
        on_synced=report.synced if report else None,
        on_progress=report.progress if report else None,
    )
    ctx.index.sync = follow.progress
    if metadata is not None:
        from flowscope.api.metadata import create_metadata_app

        def changed(change: V3Change) -> None:
            # Heartbeats move liveness only, which the follower re-checks every second.
            if change.what != "heartbeat":
                follow.touch(change.flow_id, change.run_number)

        ctx.metadata_app = create_metadata_app(
            mode.v3_engine, on_change=changed, api_keys=metadata.api_keys
        )
    return ctx, follow


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before anything is printed or started, so a
    taken port is reported in our words instead of uvicorn's traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # The protocol is named, not left 0: asyncio turns Nagle's algorithm off only on
    # sockets that say they are TCP. With it on, a response written as headers and then a
    # body waits for the client's delayed ACK: 40 ms on every keep-alive request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # As uvicorn does: a restart may reuse a port whose old connections linger (TIME_WAIT);
    # a port another server listens on still fails.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _free_port_near(host: str, port: int) -> int | None:
    for candidate in range(port + 1, min(port + 20, 65535) + 1):
        try:
            listen(host, candidate).close()
        except OSError:
            continue
        return candidate
    return None


def listen_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        free = _free_port_near(host, port)
        example = f"--port {free}" if free else "--port <another port>"
        return (
            f"flowscope: port {port} on {host} is already in use (another flowscope, or "
            f"another server, is listening there).\n"
            f"Stop that server, or choose another port: {example}"
        )
    if exc.errno == errno.EACCES:
        return (
            f"flowscope: not allowed to listen on port {port} (ports below 1024 need root).\n"
            f"Choose another port, e.g. --port 8083"
        )
    reason = exc.strerror or str(exc)
    return (
        f"flowscope: cannot listen on {host}:{port}: {reason}.\n"
        f"Check --host (127.0.0.1 serves this machine only) and --port."
    )


def serve(
    root: str | None,
    db_url: str,
    host: str,
    port: int,
    base_path: str = "/",
    poll: bool = False,
    index_url: str | None = None,
    metadata: MetadataService | None = None,
    auth: AuthSettings | None = None,
) -> int:
    try:
        sock = listen(host, port)
    except OSError as exc:
        print(listen_error(host, port, exc), file=sys.stderr)
        return 1
    auth = auth or AuthSettings()
    report = FirstIndexReport(sys.stderr)
    ctx, live = build(root, db_url, base_path, poll, index_url, report, metadata)
    app = create_app(ctx, auth)
    if live is not None:
        print(f"flowscope: indexing {ctx.root or ctx.database}", file=sys.stderr)
    else:
        print("flowscope: no Metaflow datastore here; serving the existing index", file=sys.stderr)
    shown_host = f"[{host}]" if ":" in host else host
    if ctx.metadata_app is not None:
        print(
            f"flowscope: metadata service at http://{shown_host}:{port}{ctx.base_path}metadata "
            "(METAFLOW_DEFAULT_METADATA=service METAFLOW_SERVICE_URL=<that URL>)",
            file=sys.stderr,
        )
    if auth.enabled:
        print(f"flowscope: sign-in required: {auth.describe()}", file=sys.stderr)
    warning = exposure_warning(host, auth, metadata_open=ctx.metadata_app is not None)
    if warning:
        print(warning, file=sys.stderr)
    print(f"flowscope: open http://{shown_host}:{port}{ctx.base_path}", file=sys.stderr, flush=True)
    if live is not None:
        live.start()
    # Streams end at shutdown (_Server.shutdown); any other request gets 2 s to finish.
    # A request line of up to 1 MB is parsed (h11 stops at 16 KB by default and drops the
    # connection): the longest request the OpenAPI spec allows, and a little past it, gets
    # a real answer, a 422 for the latter (issue 12, found by schemathesis).
    # Idle kept-alive connections stay open 75 s, longer than clients and load balancers
    # keep theirs (httpx 5 s, an AWS load balancer 60 s): a server that closes first races
    # a request sent on the connection just then, which fails with a reset (uvicorn's 5 s
    # default equals httpx's; the soak saw it as read errors).
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=2,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
    )
    try:
        _Server(config).run(sockets=[sock])
    finally:
        _close(ctx, live)
        sock.close()
    return 0


class _Server(uvicorn.Server):
    """uvicorn, stopping on SIGTERM or SIGINT as usual, but without raising the signal again
    once it has stopped (what uvicorn does, so that the process dies of it): flowscope still
    has its indexer to stop and its database to close, and then exits with status 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Event streams never end by themselves: end them first, so that uvicorn's graceful
        # shutdown finds no request left to cancel.
        hub = getattr(getattr(self.config.app, "state", None), "hub", None)
        if hub is not None:
            hub.close_streams()
        await super().shutdown(sockets)


def _close(ctx: AppContext, live: Follower | None) -> None:
    """After the HTTP server stopped: the indexer or follower thread, then the databases."""
    if live is not None:
        live.stop(STOP_THREADS_S)
        thread = getattr(live, "thread", None)
        if thread is not None and thread.is_alive():
            log.warning("the indexer did not stop within %.0f s; closing anyway", STOP_THREADS_S)
    if isinstance(live, ServiceFollower):
        live.source.v3_engine.dispose()
    ctx.store.close()
