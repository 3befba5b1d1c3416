"""Graceful shutdown (issue 8 §4): SIGTERM (what a service manager or Kubernetes sends)
stops uvicorn, the indexer or follower thread and closes the databases, and the process
exits 0. Real `flowscope serve` processes, over real Metaflow runs (SQLite) and over a
metaflow-service database (PostgreSQL) with /metadata; waits have deadlines, nothing is
timed.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx
import sqlalchemy as sa
from tests.pg import fresh_pg
from tests.serve_process import flowscope_serve

from flowscope.ingest.live import LiveIndexer
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.service import v3_ddl
from flowscope.store import Store
from flowscope.store.database import create_engine


def _open_event_stream(url: str) -> tuple[threading.Thread, list[int]]:
    """A subscriber that stays connected (an event stream never ends by itself)."""
    statuses: list[int] = []
    connected = threading.Event()

    def listen() -> None:
        try:
            with httpx.stream("GET", f"{url}/api/v1/events", timeout=None) as response:
                statuses.append(response.status_code)
                connected.set()
                for _ in response.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass  # the server went away: what this test does to it
        finally:
            connected.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(60), "the event stream did not connect"
    return thread, statuses


def test_sigterm_stops_a_local_server_cleanly(tmp_path: Path, fixture_root: Path) -> None:
    with flowscope_serve(tmp_path, "--root", str(fixture_root)) as served:
        served.wait_ready()
        runs = httpx.get(f"{served.url}/api/v1/runs", timeout=30).json()["items"]
        assert runs  # the fixture runs were indexed
        stream, statuses = _open_event_stream(served.url)
        assert statuses == [200]
        assert served.stop(signal.SIGTERM) == 0
        stream.join(30)
        assert not stream.is_alive()  # the server closed the stream on its way out
        output = served.text()
    assert "Traceback" not in output
    # SQLite removes the write-ahead log when its last connection closes cleanly; a process
    # that died with the indexer or a reader still connected leaves it behind.
    index = tmp_path / "index.sqlite"
    assert index.is_file()
    assert not Path(f"{index}-wal").exists()


def test_sigint_stops_it_the_same_way(tmp_path: Path) -> None:
    with flowscope_serve(tmp_path) as served:
        served.wait_ready()
        assert served.stop(signal.SIGINT) == 0
    assert "Traceback" not in served.text()


def test_sigterm_stops_a_metadata_service_on_postgresql(tmp_path: Path, pg_server: str) -> None:
    """The follower thread (its poll loop and the replicas' advisory lock) stops, the v3 and
    index engines close, and no request is cut off with a traceback."""
    url = fresh_pg(pg_server)
    engine = create_engine(url)
    v3_ddl.upgrade(engine)
    with flowscope_serve(tmp_path, "--db", url, "--metadata-service") as served:
        served.wait_ready()
        assert httpx.get(f"{served.url}/metadata/ping", timeout=30).text == "pong"
        assert httpx.post(f"{served.url}/metadata/flows/StopFlow", json={}, timeout=30).is_success
        stream, _ = _open_event_stream(served.url)
        assert served.stop(signal.SIGTERM) == 0
        stream.join(30)
        output = served.text()
    assert "Traceback" not in output
    schema = url.rsplit("%3D", 1)[1]
    try:
        with engine.connect() as conn:
            flows = conn.execute(sa.text(f'SELECT flow_id FROM "{schema}".flows_v3')).scalars()
            assert list(flows) == ["StopFlow"]  # the write before the signal is kept
    finally:
        engine.dispose()


def test_stopping_during_the_first_pass_ends_it_between_runs(
    tmp_path: Path, fixture_root: Path
) -> None:
    """A first pass over a big datastore must not hold up shutdown: stop() ends it after the
    run being written (each run is one transaction), and the index stays consistent."""
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer = LocalIndexer(store, fixture_root / ".metaflow")
    first_run_done = threading.Event()
    may_go_on = threading.Event()
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        first_run_done.set()
        assert may_go_on.wait(60)

    ready = threading.Event()
    live = LiveIndexer(indexer, ready, first_pass_progress=progress)
    live.start()
    assert first_run_done.wait(120)
    total = calls[0][1]
    assert total > 1  # the fixture datastore has many runs
    stopper = threading.Thread(target=live.stop, args=(30.0,))
    stopper.start()
    assert live.stop_event.wait(30)
    may_go_on.set()
    stopper.join(60)
    assert not live.thread.is_alive()
    assert calls == [(1, total)]  # stopped at the next run, not at the end of the pass
    assert not ready.is_set()
    # What it wrote is whole: a clean pass afterwards reads the rest without an error.
    stats = LocalIndexer(store, fixture_root / ".metaflow").index_once()
    assert stats.runs_seen == total and stats.errors == 0
    store.close()
