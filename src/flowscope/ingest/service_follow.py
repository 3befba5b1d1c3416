"""Keeping the index current with a metaflow-service database while `flowscope serve` runs.

One sync, newest runs first (served as it goes), then a follow loop: woken by LISTEN
where metaflow-service's `notify` triggers exist, by flowscope's own `/metadata` writes
in the same process, and otherwise every `POLL_EVERY_S`. Where several flowscope servers
share one index, a PostgreSQL advisory lock makes one of them the writer; the others
serve what it writes and take over if it stops.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flowscope.ingest.service_source import ServiceSource
from flowscope.service import v3_reads

log = logging.getLogger(__name__)

POLL_EVERY_S = 1.0
LEADER_RETRY_S = 5.0
# Any fixed number names flowscope's sync lock; one index has one writer.
SYNC_LOCK_KEY = 0x666C6F77  # "flow"
KEEP_EVENTS = 200_000


@dataclass
class SyncProgress:
    """What `/api/v1/health` shows while the first sync runs."""

    runs_done: int = 0
    runs_total: int | None = None
    phase: str = "starting"  # starting, syncing, following, standby
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, done: int, total: int) -> None:
        with self.lock:
            self.runs_done, self.runs_total = done, total


class ServiceFollower:
    def __init__(
        self,
        source: ServiceSource,
        ready: threading.Event,
        index_engine: Engine | None = None,
        on_synced: Callable[[int, float], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.source = source
        self.ready = ready
        self.progress = SyncProgress()
        self.stop_event = threading.Event()
        self._touched: queue.Queue[tuple[str, int]] = queue.Queue()
        # The index's engine when it is PostgreSQL (and so may be shared by replicas).
        self._lock_engine = index_engine if _is_postgres(index_engine) else None
        self._on_synced = on_synced
        self._on_progress = on_progress
        self.thread = threading.Thread(target=self._run, name="flowscope-service", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self._touched.put(("", -1))  # wake the loop
        self.thread.join(timeout)

    def touch(self, flow_id: str, run_number: int) -> None:
        """A run changed (flowscope's own /metadata wrote it): sync it now."""
        self._touched.put((flow_id, run_number))

    # ---- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                with self._leadership() as leading:
                    if not leading:
                        self.progress.phase = "standby"
                        self.ready.set()  # another replica writes; this one serves
                        self.stop_event.wait(LEADER_RETRY_S)
                        continue
                    self._sync_then_follow()
            except _Stopped:
                return
            except Exception:  # the database went away, a bad row: retry, never die
                log.exception("following the metaflow-service database failed; retrying")
                self.stop_event.wait(LEADER_RETRY_S)

    def _sync_then_follow(self) -> None:
        self.progress.phase = "syncing"
        started = time.monotonic()
        # Serve from the start: the newest runs are in within the first batch.
        self.ready.set()
        stats = self.source.catch_up(self._sync_progress)
        log.info("synced %d runs in %.1fs", stats.runs_seen, time.monotonic() - started)
        if self._on_synced is not None:
            self._on_synced(stats.runs_seen, time.monotonic() - started)
        self.progress.phase = "following"
        listener = _Listener.open(self.source.v3_engine)
        last_prune = time.monotonic()
        try:
            while not self.stop_event.is_set():
                runs = self._wait_for_changes(listener)
                if self.stop_event.is_set():
                    return
                self.source.follow_once(runs)
                if time.monotonic() - last_prune > 60:
                    self.source.store.prune_events(KEEP_EVENTS)
                    last_prune = time.monotonic()
        finally:
            if listener is not None:
                listener.close()

    def _sync_progress(self, done: int, total: int) -> None:
        # Called between batches (each written in its own transaction): a first sync of a
        # million runs must not hold up shutdown.
        if self.stop_event.is_set():
            raise _Stopped
        self.progress.update(done, total)
        if self._on_progress is not None:
            self._on_progress(done, total)

    def _wait_for_changes(self, listener: _Listener | None) -> set[tuple[str, int]]:
        runs: set[tuple[str, int]] = set()
        deadline = time.monotonic() + POLL_EVERY_S
        if listener is not None:
            runs.update(listener.wait(POLL_EVERY_S))
        while True:
            left = deadline - time.monotonic()
            try:
                key = self._touched.get(timeout=max(0.0, left) if not runs else 0)
            except queue.Empty:
                break
            if key[1] >= 0:
                runs.add(key)
                # Writes come in bursts (a task registers a dozen metadata rows): gather
                # what arrives in the next moment into the same follow.
                deadline = min(deadline, time.monotonic() + 0.05)
        return runs

    def _leadership(self) -> contextlib.AbstractContextManager[bool]:
        return _sync_lock(self._lock_engine)


class _Stopped(Exception):
    """Raised from the sync's progress callback when the server stops."""


@contextlib.contextmanager
def _sync_lock(engine: Engine | None) -> Iterator[bool]:
    """Whether this process is the index's writer, for as long as the block runs. A
    session-level advisory lock: it goes with the connection if the process dies."""
    if engine is None:
        yield True
        return
    with engine.connect() as conn:
        leading = bool(
            conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": SYNC_LOCK_KEY}).scalar()
        )
        conn.commit()
        try:
            yield leading
        finally:
            if leading:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": SYNC_LOCK_KEY})
                conn.commit()


class _Listener:
    """LISTEN on metaflow-service's `notify` channel, where its triggers exist."""

    def __init__(self, raw: object) -> None:
        self.raw = raw

    @classmethod
    def open(cls, engine: Engine) -> _Listener | None:
        if not _is_postgres(engine):
            return None
        with engine.connect() as conn:
            if not v3_reads.notify_triggers_exist(conn):
                return None
        import psycopg

        url = engine.url.set(drivername="postgresql")
        raw = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        raw.execute("LISTEN notify")
        log.info("following metaflow-service's notify triggers (LISTEN notify)")
        return cls(raw)

    def wait(self, timeout: float) -> set[tuple[str, int]]:
        runs: set[tuple[str, int]] = set()
        for note in self.raw.notifies(timeout=timeout, stop_after=1000):  # type: ignore[attr-defined]
            try:
                data = orjson.loads(note.payload).get("data") or {}
                flow_id, run_number = data.get("flow_id"), data.get("run_number")
                if isinstance(flow_id, str) and run_number is not None:
                    runs.add((flow_id, int(run_number)))
            except (orjson.JSONDecodeError, ValueError, TypeError):
                continue
        return runs

    def close(self) -> None:
        self.raw.close()  # type: ignore[attr-defined]


def _is_postgres(engine: Engine | None) -> bool:
    return engine is not None and engine.dialect.name == "postgresql"
