"""The local `.metaflow` indexer: incremental, idempotent, resumable.

Each pass compares what is on disk with what the store remembers (fingerprints made of
directory mtimes) and re-reads only what changed:
- a finished run ("sealed") costs a few stat() calls: its folder, its steps' folders and
  its `_meta/_self.json` (tags change there);
- an unfinished run is walked task by task, and only tasks whose folders changed, or that
  were not finished, are read again;
- runs gone from disk are pruned, but only those this datastore put in the store.
Every run is written in one transaction, so killing the indexer loses nothing but the
run it was writing, which the next pass redoes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowscope.datastore.base import Datastore
from flowscope.datastore.factory import Datastores
from flowscope.datastore.included_file import IncludedFileRef
from flowscope.datastore.local import LocalDatastore
from flowscope.ingest.facts import RunFacts, TaskFacts
from flowscope.ingest.liveness import LocalLiveness
from flowscope.ingest.local_reader import (
    META,
    PARAMETERS_STEP,
    RunOrigins,
    ValueLoader,
    is_racy,
    mtime_ns,
    read_run_extras,
    read_run_header,
    read_run_origins,
    read_task,
    task_fingerprint,
)
from flowscope.ingest.sync import Outcome, TaskChanges, ingest_run
from flowscope.local_files import Unreadable, list_dir
from flowscope.store import IndexUnusable, Store
from flowscope.store.records import StoredRun, StoredTask

log = logging.getLogger(__name__)

SOURCE_KIND = "local"
NOT_FLOWS = frozenset({"mf.cards", "mflog", "data"})
SMALL_VALUE_CACHE = 4096
# A run with this many tasks to read has them read by READ_THREADS threads.
PARALLEL_FROM_TASKS = 64
READ_THREADS = 16

ProgressCallback = Callable[[int, int], None]


@dataclass
class PassStats:
    runs_seen: int = 0
    runs_read: int = 0
    runs_pruned: int = 0
    tasks_read: int = 0
    # Runs skipped because another source already holds the same pathspec.
    owned_elsewhere: int = 0
    errors: int = 0
    # Run folders whose record (`_meta/_self.json`) exists but could not be read: not
    # shown, since nothing says whose run it is or when it started; counted and warned.
    unreadable_runs: int = 0
    seconds: float = 0.0
    changed_flows: set[str] = field(default_factory=set)


class LocalIndexer:
    def __init__(self, store: Store, root: Path, datastores: Datastores | None = None) -> None:
        self.store = store
        self.root = root
        self.datastore = LocalDatastore(root)
        # For runs whose data is elsewhere (`--datastore=s3`): their graph and outcomes.
        self._datastores = datastores or Datastores()
        self.source_id = store.source_id(SOURCE_KIND, str(root))
        self.liveness = LocalLiveness(datastore=self.root)
        self._warned_owned: set[tuple[str, str]] = set()
        self._warned_failed: set[tuple[str, str, str]] = set()
        # Artifacts are content-addressed, so `_success`/`_task_ok` of every task share a
        # handful of shas: decode each once.
        self._values: dict[tuple[str, str], Any] = {}

    # ---- passes -------------------------------------------------------------------

    def run_dirs(self, unlisted: set[str] | None = None) -> Iterable[tuple[str, Path]]:
        """(flow, run folder) of every run on disk. A flow folder that cannot be listed
        (no permission, an I/O error) goes into `unlisted`: its runs are not gone."""
        for flow in _subdirs(self.root, strict=True):
            if flow.name in NOT_FLOWS or flow.name.startswith("."):
                continue
            if not (flow / META).is_dir() and not (flow / "data").is_dir():
                continue  # not a flow folder
            try:
                runs = _subdirs(flow, strict=True)
            except Unreadable:
                if unlisted is not None:
                    unlisted.add(flow.name)
                continue
            for run in runs:
                if run.name not in (META, "data"):
                    yield flow.name, run

    def index_once(self, progress: ProgressCallback | None = None) -> PassStats:
        started = time.monotonic()
        stats = PassStats()
        self.liveness.refresh()
        stored = self.store.stored_runs(self.source_id)
        unlisted: set[str] = set()
        try:
            on_disk = list(self.run_dirs(unlisted))
        except Unreadable:
            # The root exists but cannot be listed: a permission or mount problem, not a
            # datastore emptied, so nothing is pruned (local_files warned once).
            stats.errors += 1
            stats.seconds = time.monotonic() - started
            return stats
        seen: set[tuple[str, str]] = set()
        for i, (flow_id, run_dir) in enumerate(on_disk):
            key = (flow_id, run_dir.name)
            seen.add(key)
            stats.runs_seen += 1
            self._index_run_safely(flow_id, run_dir, stored.get(key), stats, force=False)
            if progress is not None:
                progress(i + 1, len(on_disk))
        gone = [
            (key, run) for key, run in stored.items() if key not in seen and key[0] not in unlisted
        ]
        if gone:
            self.store.delete_runs([run.pk for _, run in gone])
            stats.runs_pruned = len(gone)
            stats.changed_flows.update(flow_id for (flow_id, _), _ in gone)
        stats.seconds = time.monotonic() - started
        return stats

    def index_runs(self, keys: Iterable[tuple[str, str]]) -> PassStats:
        """Re-read the given runs now (the watcher's path), however they look."""
        stats = PassStats()
        self.liveness.refresh()
        stored = self.store.stored_runs(self.source_id)
        removed: list[int] = []
        for flow_id, run_id in keys:
            run_dir = self.root / flow_id / run_id
            if not run_dir.is_dir():
                known = stored.get((flow_id, run_id))
                if known is not None:
                    removed.append(known.pk)
                    stats.changed_flows.add(flow_id)
                continue
            self._index_run_safely(
                flow_id, run_dir, stored.get((flow_id, run_id)), stats, force=True
            )
        if removed:
            self.store.delete_runs(removed)
        return stats

    def unsealed_runs(self) -> list[tuple[str, str]]:
        return [
            key for key, run in self.store.stored_runs(self.source_id).items() if not run.sealed
        ]

    # ---- one run ------------------------------------------------------------------

    def _index_run_safely(
        self,
        flow_id: str,
        run_dir: Path,
        stored: StoredRun | None,
        stats: PassStats,
        force: bool,
    ) -> None:
        try:
            if self._index_run(flow_id, run_dir, stored, stats, force):
                stats.runs_read += 1
                stats.changed_flows.add(flow_id)
        except IndexUnusable:
            raise  # the index cannot be written at all: stop the pass, not just this run
        except Exception as exc:  # one bad run must never stop the indexer
            stats.errors += 1
            # Once per run and kind of failure: the run is tried again on every pass.
            key = (flow_id, run_dir.name, type(exc).__name__)
            if key not in self._warned_failed:
                self._warned_failed.add(key)
                log.exception("could not index %s/%s", flow_id, run_dir.name)

    def _index_run(
        self,
        flow_id: str,
        run_dir: Path,
        stored: StoredRun | None,
        stats: PassStats,
        force: bool,
    ) -> bool:
        quick = _quick_fingerprint(run_dir)
        if not force and stored is not None and stored.sealed and quick == stored.fingerprint:
            return False
        try:
            header = read_run_header(run_dir, flow_id)
        except Unreadable:
            stats.unreadable_runs += 1
            return False  # kept as the store has it, if it has it
        if header is None:
            return False  # the run folder is being created; its record lands next
        origins = read_run_origins(run_dir)
        load = self._loader(origins)
        extras = None
        if stored is None or not stored.has_graph:
            extras = read_run_extras(run_dir, flow_id, load)
        run = RunFacts(
            flow_id=flow_id,
            run_id=header.run_id,
            user=header.user,
            created_at=header.started_at,
            tags=header.tags,
            system_tags=header.system_tags,
            graph=extras.graph if extras else None,
            parameters=extras.parameters if extras else None,
            origin_run_id=origins.origin_run_id,
            ds_type=origins.ds_type,
            ds_root=origins.ds_root,
            last_seen_at=(mtime_ns(run_dir / META / "_self.json") or 0) // 1_000_000 or None,
            fingerprint=quick,
        )
        written = ingest_run(
            self.store,
            self.source_id,
            run,
            lambda known: self._read_tasks(run_dir, flow_id, known, load),
            self.liveness,
            int(time.time() * 1000),
        )
        if written.outcome is Outcome.OWNED_ELSEWHERE:
            stats.owned_elsewhere += 1
            if (flow_id, header.run_id) not in self._warned_owned:
                self._warned_owned.add((flow_id, header.run_id))
                log.warning(
                    "%s/%s is already indexed from another source; this copy in %s is skipped",
                    flow_id,
                    header.run_id,
                    run_dir,
                )
            return False
        stats.tasks_read += written.tasks_read
        return True

    def _read_tasks(
        self,
        run_dir: Path,
        flow_id: str,
        known: Mapping[tuple[str, str], StoredTask],
        load: ValueLoader,
    ) -> TaskChanges:
        """The tasks whose folders changed since the store read them (or that may still
        change: not finished, or read within the same mtime tick)."""
        present: set[tuple[str, str]] = set()
        changes = TaskChanges(present=present)
        to_read: list[tuple[Path, str]] = []
        last_seen = 0
        for step_dir in _subdirs(run_dir):
            if step_dir.name in (META, PARAMETERS_STEP):
                continue
            last_seen = max(last_seen, (mtime_ns(step_dir) or 0) // 1_000_000)
            try:
                task_dirs = _subdirs(step_dir, strict=True)
            except Unreadable:
                # A step folder that cannot be listed: its tasks are not gone, keep them
                # as they were (local_files warned once).
                present.update(key for key in known if key[0] == step_dir.name)
                continue
            for task_dir in task_dirs:
                if task_dir.name == META:
                    continue
                key = (step_dir.name, task_dir.name)
                present.add(key)
                stored = known.get(key)
                if (
                    stored is not None
                    and stored.status in ("completed", "failed")
                    and stored.fingerprint is not None
                    and stored.fingerprint == task_fingerprint(task_dir)
                ):
                    continue
                to_read.append((task_dir, step_dir.name))
        for task in _read_all(to_read, flow_id, load):
            if task is None:
                continue
            last_seen = max(last_seen, task.last_seen_at or 0)
            changes.changed.append(task)
        changes.last_seen_at = last_seen or None
        return changes

    def _loader(self, origins: RunOrigins) -> ValueLoader:
        """Where a run's artifact values are read: this folder, or where its tasks'
        ds-type/ds-root say (metadata local, data in S3)."""
        if origins.ds_type in (None, "local"):
            return self._load_value
        found = self._datastores.for_run(
            origins.ds_type, origins.ds_root, SOURCE_KIND, str(self.root)
        )
        if found is None:
            return self._load_value
        return lambda flow_id, sha: self._value(found, flow_id, sha)

    def _load_value(self, flow_id: str, sha: str) -> Any:
        return self._value(self.datastore, flow_id, sha)

    def _value(self, datastore: Datastore, flow_id: str, sha: str) -> Any:
        key = (flow_id, sha)  # content-addressed: the same sha is the same value anywhere
        if key in self._values:
            return self._values[key]
        value = datastore.load_artifact(flow_id, sha, max_bytes=1_000_000)
        if isinstance(value, IncludedFileRef):
            # An IncludeFile parameter: its value is the file's content, as the client's.
            content = datastore.read_included_file(value, flow_id, max_bytes=1_000_000)
            value = content.text() if content.is_text else content.data
        if (
            isinstance(value, bool | int | float | str | type(None))
            and len(self._values) < SMALL_VALUE_CACHE
        ):
            self._values[key] = value
        return value


def _read_all(
    task_dirs: list[tuple[Path, str]], flow_id: str, load: ValueLoader
) -> Iterable[TaskFacts | None]:
    """The tasks' facts, in order. Many tasks are read by threads: a task is a dozen
    small files, and on a cold page cache each read waits on the disk, which answers
    several at once (the GIL is released while a thread waits)."""
    if len(task_dirs) < PARALLEL_FROM_TASKS:
        return (read_task(d, step, flow_id, load) for d, step in task_dirs)
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="flowscope-read") as pool:
        return list(pool.map(lambda job: read_task(job[0], job[1], flow_id, load), task_dirs))


def _quick_fingerprint(run_dir: Path) -> str | None:
    parts = [mtime_ns(run_dir), mtime_ns(run_dir / META / "_self.json")]
    parts.extend(mtime_ns(step) for step in _subdirs(run_dir))
    fingerprint = ":".join(str(p) for p in parts)
    return None if is_racy(fingerprint) else fingerprint


def _subdirs(path: Path, strict: bool = False) -> list[Path]:
    """The real folders in `path` (symlinks are not followed: a loop cannot trap a pass).
    `strict`: a folder that exists but cannot be listed raises Unreadable, else is empty."""
    try:
        entries = list_dir(path)
    except Unreadable:
        if strict:
            raise
        return []
    return sorted(Path(e.path) for e in entries if _is_real_dir(e))


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


__all__ = ["LocalIndexer", "PassStats"]
