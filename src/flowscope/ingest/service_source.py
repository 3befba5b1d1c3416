"""A metaflow-service database as a source: synced once, then followed.

`sync()` reads every run, newest first, so a large archive is usable from its newest
runs on while the rest syncs. `follow_once()` then brings in only what changed: new runs,
tasks and metadata (the metadata and task ids only grow, so a high-water mark finds
them), heartbeats of runs still running, and tag changes. The v3 tables are only ever
read; everything written goes to flowscope's own index through the shared ingest loop.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import orjson
from sqlalchemy.engine import Connection, Engine

from flowscope.ingest.assembler import index_tags
from flowscope.ingest.heartbeats import HeartbeatLiveness
from flowscope.ingest.service_batches import (
    AssembledBatch,
    assemble_batch,
    pool_size,
    pooled_batches,
)
from flowscope.ingest.service_facts import (
    ArtifactLoader,
    RunRows,
    ValueCache,
    fingerprint,
    rows_of,
    run_facts,
    task_facts,
)
from flowscope.ingest.sync import Outcome, TaskChanges, ingest_run
from flowscope.service import v3_reads as v3
from flowscope.store import Store
from flowscope.store.records import StoredTask

log = logging.getLogger(__name__)

SOURCE_KIND = "service"
SYNC_BATCH = 1000
# Batches read before the sync asks for them: one in the queue, one being read.
READ_AHEAD = 1
# Runs are noticed by their ts_epoch (the client's clock): look back this far past the
# newest one seen, in case a client's clock runs behind.
NEW_RUN_LOOKBACK_MS = 10 * 60_000
# Tags change in place (no id moves): recent runs are checked on every follow, all runs
# on a slower sweep.
RECENT_TAGS_MS = 24 * 3600_000
TAG_SWEEP_EVERY_S = 300.0

ProgressCallback = Callable[[int, int], None]


@dataclass
class SyncStats:
    runs_seen: int = 0
    runs_written: int = 0
    tasks_read: int = 0
    owned_elsewhere: int = 0
    errors: int = 0
    seconds: float = 0.0
    changed_flows: set[str] = field(default_factory=set)


class ServiceSource:
    def __init__(
        self, store: Store, v3_engine: Engine, location: str, load: ArtifactLoader
    ) -> None:
        self.store = store
        self.v3_engine = v3_engine
        self.location = location
        self.source_id = store.source_id(SOURCE_KIND, location)
        self.liveness = HeartbeatLiveness()
        self.values = ValueCache(load)
        self.mark: v3.HighWater | None = None
        self._newest_ts = 0
        self._last_sweep = 0.0
        # Where this index's last sync or follow stopped, kept in the index itself: it is
        # only true of the index it was written with.
        self._mark_key = f"service-mark:{self.source_id}"
        self._saved: v3.HighWater | None = None

    # ---- the first pass --------------------------------------------------------------

    def catch_up(self, progress: ProgressCallback | None = None) -> SyncStats:
        """Bring the index up to date: from where the last sync or follow of this index
        stopped when it says (a restart reads what changed since, not the whole
        archive), else by a full sync."""
        saved = self._saved_mark()
        if saved is not None:
            mark, newest_ts = saved
            with self.v3_engine.connect() as conn:
                now = v3.high_water(conn)
            # ids only grow; a database whose ids are behind the mark is another one
            # (restored from a backup, recreated): sync it whole.
            if now.metadata_id >= mark.metadata_id and now.task_id >= mark.task_id:
                self.mark, self._newest_ts = mark, newest_ts
                self._last_sweep = time.monotonic()
                started = time.monotonic()
                stats = self.follow_once()
                stats.seconds = time.monotonic() - started
                return stats
        return self.sync(progress)

    def _saved_mark(self) -> tuple[v3.HighWater, int] | None:
        raw = self.store.get_state(self._mark_key)
        if raw is None:
            return None
        try:
            saved = orjson.loads(raw)
            return v3.HighWater(int(saved["metadata_id"]), int(saved["task_id"])), int(
                saved["newest_ts"]
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignoring an unreadable sync mark in the index; syncing in full")
            return None

    def _save_mark(self, mark: v3.HighWater) -> None:
        if mark == self._saved:
            return
        value = {"metadata_id": mark.metadata_id, "task_id": mark.task_id}
        self.store.set_state(
            self._mark_key, orjson.dumps({**value, "newest_ts": self._newest_ts}).decode()
        )
        self._saved = mark

    def sync(
        self,
        progress: ProgressCallback | None = None,
        batch: int = SYNC_BATCH,
        workers: int | None = None,
    ) -> SyncStats:
        """Every run of the database, newest first; runs gone from it are pruned.

        `workers`: processes that read and assemble batches (service_batches); None:
        as many as the machine has cores once the archive is large, else none."""
        started = time.monotonic()
        stats = SyncStats()
        with self.v3_engine.connect() as conn:
            total = v3.run_count(conn)
            # Taken first: whatever lands while the sync runs is after the mark, and the
            # first follow brings it in.
            mark = v3.high_water(conn)
        stored = self.store.stored_runs(self.source_id)
        seen: set[tuple[str, str]] = set()
        for assembled in self._batches(total, batch, workers):
            self.liveness.observe(assembled.db_now_ms)
            new: list[int] = []
            changed: list[v3.V3Run] = []
            for run, seen_as, at in zip(
                assembled.runs, assembled.fingerprints, assembled.positions, strict=True
            ):
                key = (run.flow_id, run.exposed_id)
                seen.add(key)
                known = stored.get(key)
                if known is None:
                    if at is None:
                        stats.errors += 1
                    else:
                        new.append(at)
                elif not (known.sealed and known.fingerprint == seen_as):
                    changed.append(run)
            if changed:
                with self.v3_engine.connect() as conn:
                    rows = rows_of(conn, changed)
                for run_rows in rows:
                    self._write(run_rows, None, stats)
            if new:
                written = self.store.insert_new_runs(self.source_id, assembled.new, new)
                stats.runs_written += len(written)
                stats.owned_elsewhere += len(new) - len(written)
                stats.tasks_read += sum(assembled.new.task_count(at) for at in new)
                stats.changed_flows.update(assembled.new.keys[at][0] for at in new)
            stats.runs_seen += len(assembled.runs)
            if assembled.runs:
                self._newest_ts = max(self._newest_ts, assembled.runs[0].ts_epoch)
            if progress is not None:
                progress(stats.runs_seen, max(total, stats.runs_seen))
        gone = [run.pk for key, run in stored.items() if key not in seen]
        if gone:
            self.store.delete_runs(gone)
        self.mark = mark
        self._save_mark(mark)
        self._last_sweep = time.monotonic()
        stats.seconds = time.monotonic() - started
        return stats

    def _batches(self, total: int, batch: int, workers: int | None) -> Iterator[AssembledBatch]:
        count = pool_size(total, self.values.load) if workers is None else workers
        if count >= 2:
            yield from pooled_batches(self.v3_engine, self.values.load, batch, count)
            return
        for read in _read_ahead(self.v3_engine, batch):
            yield assemble_batch(read.runs, read.rows, read.db_now_ms, self.values, self.liveness)

    # ---- following -------------------------------------------------------------------

    def follow_once(self, runs: Iterable[tuple[str, int]] = ()) -> SyncStats:
        """Bring in what changed since the last look; `runs` are known to have changed
        (a notification, or a write through flowscope's own /metadata)."""
        if self.mark is None:
            return self.sync()
        stats = SyncStats()
        with self.v3_engine.connect() as conn:
            touched = v3.changes_after(conn, self.mark)
            wanted: dict[tuple[str, int], set[int] | None] = dict(touched.runs)
            for key in runs:
                wanted[key] = None
            # Only the runs this look is about are looked up in the index: a follow must
            # cost what changed, not the size of the archive.
            recent = v3.runs_since(conn, self._newest_ts - NEW_RUN_LOOKBACK_MS)
            known = self.store.stored_runs(
                self.source_id, [(run.flow_id, run.exposed_id) for run in recent]
            )
            for run in recent:
                self._newest_ts = max(self._newest_ts, run.ts_epoch)
                if (run.flow_id, run.exposed_id) not in known:
                    wanted[run.key] = None  # new to the index: read all of it
            unsealed = self.store.unsealed_runs(self.source_id)
            for key in self._service_keys(conn, unsealed).values():
                wanted.setdefault(key, set())  # still running: liveness may have moved
            self._check_tags(conn, wanted)
            partial = {
                key: self._index_key(conn, key) for key, t in wanted.items() if t is not None
            }
            indexed = self.store.stored_runs(self.source_id, list(partial.values()))
            for key, index_key in partial.items():
                if index_key not in indexed:
                    wanted[key] = None
            self.liveness.observe(v3.db_now_ms(conn))
            for key, task_ids in wanted.items():
                found = v3.runs_by_key(conn, [key])
                if not found:
                    continue
                self._write(RunRows(found[0]), (conn, task_ids), stats)
            self.mark = touched.mark
        self._save_mark(self.mark)
        return stats

    def _service_keys(
        self, conn: Connection, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, int]]:
        found: dict[tuple[str, str], tuple[str, int]] = {}
        for flow_id, run_id in keys:
            run = v3.run_by_exposed_id(conn, flow_id, run_id)
            if run is not None:
                found[(flow_id, run_id)] = run.key
        return found

    def _index_key(self, conn: Connection, key: tuple[str, int]) -> tuple[str, str]:
        found = v3.runs_by_key(conn, [key])
        return (key[0], found[0].exposed_id if found else str(key[1]))

    def _check_tags(self, conn: Connection, wanted: dict[tuple[str, int], set[int] | None]) -> None:
        """Tag edits rewrite runs_v3 in place: compare the stored tags of recent runs on
        every look, and of all runs every TAG_SWEEP_EVERY_S."""
        sweep = time.monotonic() - self._last_sweep >= TAG_SWEEP_EVERY_S
        since = 0 if sweep else self._newest_ts - RECENT_TAGS_MS
        candidates = v3.runs_since(conn, since)
        if sweep:
            self._last_sweep = time.monotonic()
        known = self.store.run_tags(self.source_id, [(r.flow_id, r.exposed_id) for r in candidates])
        for run in candidates:
            have = known.get((run.flow_id, run.exposed_id))
            user, system = index_tags(run.tags, run.system_tags)
            if have is not None and have != (sorted(user), sorted(system)):
                wanted.setdefault(run.key, set())

    # ---- one run -------------------------------------------------------------------

    def _write(
        self,
        rows: RunRows,
        partial: tuple[Connection, set[int] | None] | None,
        stats: SyncStats,
    ) -> None:
        """Write one run. `partial`: read its tasks now, only those touched (None: all)
        and those the index still has running; without it, `rows` holds every task."""
        try:
            if partial is not None:
                conn, task_ids = partial
                facts = run_facts(_with_params(conn, rows), self.values)

                def read_tasks(known: Mapping[tuple[str, str], StoredTask]) -> TaskChanges:
                    return _changed_tasks(conn, rows, task_ids, known, self.values)
            else:
                facts = dataclasses.replace(
                    run_facts(rows, self.values), fingerprint=fingerprint(rows)
                )
                every = task_facts(rows, self.values)

                def read_tasks(known: Mapping[tuple[str, str], StoredTask]) -> TaskChanges:
                    changed = [
                        t
                        for t in every
                        if not _unchanged(known.get((t.step_name, t.task_id)), t.fingerprint)
                    ]
                    return TaskChanges(
                        changed=changed, present={(t.step_name, t.task_id) for t in every}
                    )

            written = ingest_run(
                self.store,
                self.source_id,
                facts,
                read_tasks,
                self.liveness,
                self.liveness.now_ms,
                seal_when_ended=partial is None,
            )
        except Exception:  # one bad run must never stop the sync
            stats.errors += 1
            log.exception("could not index %s/%s", rows.run.flow_id, rows.run.exposed_id)
            return
        if written.outcome is Outcome.OWNED_ELSEWHERE:
            stats.owned_elsewhere += 1
            return
        stats.runs_written += 1
        stats.tasks_read += written.tasks_read
        stats.changed_flows.add(rows.run.flow_id)


@dataclass
class _BatchRead:
    runs: list[v3.V3Run]
    rows: list[RunRows]
    db_now_ms: int


_END = object()


def _read_ahead(engine: Engine, batch: int) -> Iterator[_BatchRead]:
    """The runs of the database in batches, newest first, read by a thread that stays one
    batch ahead: the database answers the next batch's queries (and the driver decodes
    them, outside the GIL) while this thread assembles and writes the current one."""
    ready: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def read() -> None:
        cursor: v3.RunCursor | None = None
        try:
            while not stop.is_set():
                with engine.connect() as conn:
                    runs = v3.runs_newest_first(conn, cursor, batch)
                    if not runs:
                        break
                    last = runs[-1]
                    cursor = v3.RunCursor(last.ts_epoch, last.flow_id, last.run_number)
                    item = _BatchRead(runs, rows_of(conn, runs), v3.db_now_ms(conn))
                _put(item)
        except BaseException as exc:  # handed over, raised where the sync runs
            _put(exc)
        else:
            _put(_END)

    def _put(item: object) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    reader = threading.Thread(target=read, name="flowscope-v3-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, _BatchRead)
            yield item
    finally:
        stop.set()
        reader.join()


def _with_params(conn: Connection, rows: RunRows) -> RunRows:
    """The run's `_parameters` task rows (graph, parameters, where its data lives)."""
    params = v3.parameter_artifacts(conn, rows.run.key)
    origins = v3.origins_of(conn, [rows.run.key]).get(rows.run.key)
    return RunRows(rows.run, [], [], params, origins)


def _changed_tasks(
    conn: Connection,
    rows: RunRows,
    task_ids: set[int] | None,
    known: Mapping[tuple[str, str], StoredTask],
    values: ValueCache,
) -> TaskChanges:
    key = rows.run.key
    if task_ids is None:
        tasks = v3.tasks_of(conn, [key])
    else:
        running = [tid for (_, tid), t in known.items() if t.status in ("running", "pending")]
        tasks = v3.tasks_by_exposed_id(conn, key, [str(i) for i in task_ids] + running)
    if not tasks:
        return TaskChanges()
    ids = [t.task_id for t in tasks]
    subset = RunRows(
        rows.run,
        tasks,
        v3.attempts_of(conn, [key], ids),
        v3.status_artifacts_of(conn, [key], ids),
    )
    changed = [
        t
        for t in task_facts(subset, values)
        if not _unchanged(known.get((t.step_name, t.task_id)), t.fingerprint)
    ]
    seen = max((t.last_seen_at or 0 for t in changed), default=0)
    return TaskChanges(changed=changed, present=None, last_seen_at=seen or None)


def _unchanged(stored: StoredTask | None, fingerprint: str | None) -> bool:
    """A finished task whose rows did not move need not be read again; a running one is,
    since its liveness moves with the clock."""
    return (
        stored is not None
        and stored.status in ("completed", "failed")
        and fingerprint is not None
        and stored.fingerprint == fingerprint
    )
