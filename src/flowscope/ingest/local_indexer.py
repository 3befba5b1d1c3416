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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowscope.datastore.local import LocalDatastore
from flowscope.ingest.liveness import LocalLiveness
from flowscope.ingest.local_reader import (
    META,
    PARAMETERS_STEP,
    TaskSnapshot,
    mtime_ns,
    read_origin_run_id,
    read_run_extras,
    read_run_header,
    read_task,
    task_fingerprint,
)
from flowscope.status import (
    Reason,
    Status,
    Verdict,
    decide_attempt,
    decide_run,
    decide_task,
    is_caught,
    rollup,
)
from flowscope.store import Store
from flowscope.store.records import (
    AttemptRecord,
    RunRecord,
    RunSummary,
    StepRecord,
    StoredRun,
    TaskRecord,
)

log = logging.getLogger(__name__)

SOURCE_KIND = "local"
NOT_FLOWS = frozenset({"mf.cards", "mflog", "data"})
# A directory changed this recently may change again within the same mtime tick, so its
# fingerprint is not trusted yet: the next pass reads it again.
RACY_NS = 2_000_000_000
# A finished run is sealed (checked cheaply) once nothing moved in it for this long.
SEAL_AFTER_MS = 60_000
SMALL_VALUE_CACHE = 4096

ProgressCallback = Callable[[int, int], None]


@dataclass
class PassStats:
    runs_seen: int = 0
    runs_read: int = 0
    runs_pruned: int = 0
    tasks_read: int = 0
    errors: int = 0
    seconds: float = 0.0
    changed_flows: set[str] = field(default_factory=set)


class LocalIndexer:
    def __init__(self, store: Store, root: Path) -> None:
        self.store = store
        self.root = root
        self.datastore = LocalDatastore(root)
        self.source_id = store.source_id(SOURCE_KIND, str(root))
        self.liveness = LocalLiveness()
        # Artifacts are content-addressed, so `_success`/`_task_ok` of every task share a
        # handful of shas: decode each once.
        self._values: dict[tuple[str, str], Any] = {}

    # ---- passes -------------------------------------------------------------------

    def run_dirs(self) -> Iterable[tuple[str, Path]]:
        for flow in _subdirs(self.root):
            if flow.name in NOT_FLOWS or flow.name.startswith("."):
                continue
            if not (flow / META).is_dir() and not (flow / "data").is_dir():
                continue  # not a flow folder
            for run in _subdirs(flow):
                if run.name not in (META, "data"):
                    yield flow.name, run

    def index_once(self, progress: ProgressCallback | None = None) -> PassStats:
        started = time.monotonic()
        stats = PassStats()
        self.liveness.refresh()
        stored = self.store.stored_runs(self.source_id)
        on_disk = list(self.run_dirs())
        seen: set[tuple[str, str]] = set()
        for i, (flow_id, run_dir) in enumerate(on_disk):
            key = (flow_id, run_dir.name)
            seen.add(key)
            stats.runs_seen += 1
            self._index_run_safely(flow_id, run_dir, stored.get(key), stats, force=False)
            if progress is not None:
                progress(i + 1, len(on_disk))
        gone = [(key, run) for key, run in stored.items() if key not in seen]
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
        except Exception:  # one bad run must never stop the indexer
            stats.errors += 1
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
        header = read_run_header(run_dir, flow_id)
        if header is None:
            return False  # the run folder is being created; its record lands next
        extras = None
        if stored is None or not stored.has_graph:
            extras = read_run_extras(run_dir, flow_id, self._load_value)
        origin_run_id = read_origin_run_id(run_dir)
        now_ms = int(time.time() * 1000)

        with self.store.run_writer(self.source_id) as writer:
            run_pk = writer.ensure_run(flow_id, header.run_id, header.started_at)
            known_tasks = writer.stored_tasks(run_pk)
            changed: list[TaskRecord] = []
            seen: set[tuple[str, str]] = set()
            last_activity = (mtime_ns(run_dir / META / "_self.json") or 0) // 1_000_000
            for step_dir in _subdirs(run_dir):
                if step_dir.name in (META, PARAMETERS_STEP):
                    continue
                last_activity = max(last_activity, (mtime_ns(step_dir) or 0) // 1_000_000)
                for task_dir in _subdirs(step_dir):
                    if task_dir.name == META:
                        continue
                    key = (step_dir.name, task_dir.name)
                    seen.add(key)
                    known = known_tasks.get(key)
                    if (
                        known is not None
                        and known.status in ("completed", "failed")
                        and known.fingerprint is not None
                        and known.fingerprint == task_fingerprint(task_dir)
                    ):
                        continue
                    snapshot = read_task(task_dir, step_dir.name, flow_id, self._load_value)
                    if snapshot is None:
                        continue
                    stats.tasks_read += 1
                    last_activity = max(last_activity, snapshot.last_change_at)
                    changed.append(self._decide_task(snapshot, header.run_id))
            removed = [task.pk for key, task in known_tasks.items() if key not in seen]
            writer.write_tasks(run_pk, changed, known_tasks)
            writer.delete_tasks(removed)

            summary = writer.summarize(run_pk)
            graph = extras.graph if extras else None
            graph = graph if graph is not None else self._stored_graph(flow_id, header.run_id)
            end_step = str(graph.get("end_step", "end")) if graph else "end"
            end = writer.end_task(run_pk, end_step)
            script = graph.get("file") if graph else None
            alive = self.liveness.run_alive(
                header.run_id,
                _earliest(header.started_at, summary.first_started_at),
                script if isinstance(script, str) else None,
                last_activity,
            )
            any_running = any(s.counts.get("running", 0) for s in summary.steps.values())
            verdict = decide_run(
                Verdict(
                    Status(end.status), Reason(end.status_reason) if end.status_reason else None
                )
                if end is not None
                else None,
                any_running,
                summary.failure_reasons,
                alive,
            )
            run_over = verdict.status is not Status.RUNNING
            writer.write_steps(run_pk, _steps(graph, summary, run_over))
            finished_at = None
            if run_over:
                finished_at = (
                    end.finished_at
                    if end is not None and end.finished_at is not None
                    else summary.last_finished_at or last_activity or None
                )
            sealed = run_over and not alive and now_ms - last_activity > SEAL_AFTER_MS
            tags, system_tags = header.tags, header.system_tags
            record = RunRecord(
                flow_id=flow_id,
                run_id=header.run_id,
                user=header.user,
                status=verdict.status.value,
                status_reason=verdict.reason.value if verdict.reason else None,
                started_at=header.started_at,
                finished_at=finished_at,
                tags=[t for t in tags if t not in system_tags],
                system_tags=system_tags,
                project=_tag_value(system_tags, "project:"),
                branch=_tag_value(system_tags, "project_branch:"),
                parameters=extras.parameters if extras else None,
                graph=graph if extras else None,
                origin_run_id=origin_run_id,
                first_failure_step=summary.first_failure[0] if summary.first_failure else None,
                first_failure_task=summary.first_failure[1] if summary.first_failure else None,
                task_count=summary.task_count,
                last_activity_at=last_activity or None,
                fingerprint=quick,
                sealed=sealed,
            )
            writer.write_run(run_pk, record)
        return True

    def _decide_task(self, snapshot: TaskSnapshot, run_id: str) -> TaskRecord:
        alive = self.liveness.task_alive(run_id, snapshot.task_id, snapshot.last_change_at)
        facts = snapshot.attempts
        verdicts = [
            decide_attempt(f, superseded=i < len(facts) - 1, alive=alive)
            for i, f in enumerate(facts)
        ]
        task = decide_task(verdicts, snapshot.succeeded)
        attempts = []
        for i, (f, v) in enumerate(zip(facts, verdicts, strict=True)):
            finished = f.finished_at
            if finished is None and v.status is Status.FAILED:
                # A dead attempt never recorded its end: it ended when the next began,
                # or at its last sign of life.
                finished = (
                    facts[i + 1].started_at if i + 1 < len(facts) else snapshot.last_change_at
                )
            attempts.append(
                AttemptRecord(
                    attempt=f.attempt,
                    status=v.status.value,
                    status_reason=v.reason.value if v.reason else None,
                    started_at=f.started_at,
                    finished_at=finished,
                )
            )
        over = task.status in (Status.COMPLETED, Status.FAILED)
        fingerprint: str | None = snapshot.fingerprint
        if _is_racy(fingerprint):
            fingerprint = None
        return TaskRecord(
            step_name=snapshot.step_name,
            task_id=snapshot.task_id,
            status=task.status.value,
            status_reason=task.reason.value if task.reason else None,
            caught=is_caught(verdicts[-1] if verdicts else None, snapshot.succeeded),
            attempt=facts[-1].attempt if facts else 0,
            # As the client's Task.created_at: when the runtime registered the task.
            started_at=snapshot.created_at or (attempts[0].started_at if attempts else None),
            finished_at=attempts[-1].finished_at if attempts and over else None,
            foreach_label=snapshot.foreach_label,
            fingerprint=fingerprint,
            attempts=attempts,
        )

    def _stored_graph(self, flow_id: str, run_id: str) -> dict[str, Any] | None:
        ref = self.store.find_run(flow_id, run_id)
        return ref.graph if ref is not None else None

    def _load_value(self, flow_id: str, sha: str) -> Any:
        key = (flow_id, sha)
        if key in self._values:
            return self._values[key]
        value = self.datastore.load_artifact_value(flow_id, sha, max_bytes=1_000_000)
        if (
            isinstance(value, bool | int | float | str | type(None))
            and len(self._values) < SMALL_VALUE_CACHE
        ):
            self._values[key] = value
        return value


def _steps(graph: dict[str, Any] | None, summary: RunSummary, run_over: bool) -> list[StepRecord]:
    graph_steps: dict[str, Any] = (graph or {}).get("steps") or {}
    order = _graph_order(graph) if graph else []
    names = order + sorted(n for n in summary.steps if n not in order)
    records = []
    for position, name in enumerate(names):
        step = summary.steps.get(name)
        counts = step.counts if step else {}
        present = [status for status, n in counts.items() if n]
        status = rollup(present, run_over)
        info = graph_steps.get(name) or {}
        records.append(
            StepRecord(
                step_name=name,
                position=position,
                type=info.get("type") if isinstance(info, dict) else None,
                status=status.value,
                started_at=step.started_at if step else None,
                finished_at=step.finished_at
                if step and status in (Status.COMPLETED, Status.FAILED)
                else None,
                pending=counts.get("pending", 0),
                running=counts.get("running", 0),
                completed=counts.get("completed", 0),
                failed=counts.get("failed", 0),
            )
        )
    return records


def _graph_order(graph: dict[str, Any]) -> list[str]:
    """Steps in the order a reader follows the flow: breadth-first from the start step."""
    steps: dict[str, Any] = graph.get("steps") or {}
    start = graph.get("start_step") or "start"
    order: list[str] = []
    queue = [start] if start in steps else []
    while queue:
        name = queue.pop(0)
        if name in order:
            continue
        order.append(name)
        nxt = steps.get(name, {}).get("next") or []
        queue.extend(n for n in nxt if n in steps and n not in order)
    order.extend(sorted(n for n in steps if n not in order))
    return order


def _quick_fingerprint(run_dir: Path) -> str | None:
    parts = [mtime_ns(run_dir), mtime_ns(run_dir / META / "_self.json")]
    parts.extend(mtime_ns(step) for step in _subdirs(run_dir))
    fingerprint = ":".join(str(p) for p in parts)
    return None if _is_racy(fingerprint) else fingerprint


def _is_racy(fingerprint: str | None) -> bool:
    if fingerprint is None:
        return True
    now = time.time_ns()
    return any(p.isdigit() and now - int(p) < RACY_NS for p in fingerprint.split(":"))


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as it:
            return sorted(Path(e.path) for e in it if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _earliest(*times: int | None) -> int | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _tag_value(tags: list[str], prefix: str) -> str | None:
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


__all__ = ["LocalIndexer", "PassStats"]
