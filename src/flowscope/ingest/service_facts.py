"""Rows of a metaflow-service database, turned into the facts every source hands over.

Statuses live nowhere in the v3 tables: attempts and outcomes are metadata rows
(`attempt`, `attempt-done`, `attempt_ok`, tagged `attempt_id:N`) and the `_task_ok` and
`_success` artifacts, whose values are pickles in the datastore. Those values are a
handful of distinct blobs (True and False), so each is loaded once and remembered by sha.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from flowscope.ingest.facts import AttemptFacts, RunFacts, TaskFacts
from flowscope.ingest.local_reader import foreach_label, parameter_repr
from flowscope.service import v3_reads
from flowscope.service.v3_reads import V3Artifact, V3Attempt, V3Origins, V3Run, V3Task

log = logging.getLogger(__name__)

SMALL_VALUE_CACHE = 4096
# Loads an artifact's value (safely, size-capped) from wherever its row says it lives.
ArtifactLoader = Callable[[V3Artifact], Any]


@dataclass
class RunRows:
    """Everything read of one run: its row and the status rows of its tasks."""

    run: V3Run
    tasks: list[V3Task] = field(default_factory=list)
    attempts: list[V3Attempt] = field(default_factory=list)
    artifacts: list[V3Artifact] = field(default_factory=list)
    origins: V3Origins | None = None


class ValueCache:
    """Artifact values by sha: `_success` and `_task_ok` of a million tasks are two blobs."""

    def __init__(self, load: ArtifactLoader) -> None:
        self.load = load
        self._values: dict[str, Any] = {}
        self._failed: set[str] = set()

    def value(self, artifact: V3Artifact | None) -> Any:
        if artifact is None or not artifact.sha:
            return None
        key = f"{artifact.flow_id}/{artifact.sha}"
        if key in self._values:
            return self._values[key]
        if key in self._failed:
            return None
        try:
            value = self.load(artifact)
        except Exception as exc:  # a missing or unsafe blob must not stop the sync
            if len(self._failed) < SMALL_VALUE_CACHE:
                self._failed.add(key)
            log.debug("cannot load %s of %s: %s", artifact.name, artifact.location, exc)
            return None
        if len(self._values) < SMALL_VALUE_CACHE:
            self._values[key] = value
        return value


def rows_of(conn: Connection, runs: list[v3_reads.V3Run]) -> list[RunRows]:
    """Every task, status metadata row and status artifact of a batch of runs."""
    by_key = {run.key: RunRows(run) for run in runs}
    keys = list(by_key)
    for task in v3_reads.tasks_of(conn, keys):
        by_key[(task.flow_id, task.run_number)].tasks.append(task)
    for attempt in v3_reads.attempts_of(conn, keys):
        by_key[(attempt.flow_id, attempt.run_number)].attempts.append(attempt)
    for key, origins in v3_reads.origins_of(conn, keys).items():
        by_key[key].origins = origins
    for artifact in v3_reads.status_artifacts_of(conn, keys):
        by_key[(artifact.flow_id, artifact.run_number)].artifacts.append(artifact)
    return list(by_key.values())


def fingerprint(rows: RunRows) -> str:
    """What a whole run's rows looked like: new metadata, tasks or artifacts, or edited
    tags, change it (heartbeats do not; a run still beating is never sealed anyway)."""
    run = rows.run
    newest = max((a.newest_id for a in rows.attempts), default=0)
    tags = hashlib.sha1(orjson.dumps([sorted(run.tags), sorted(run.system_tags)])).hexdigest()
    return f"v3:{newest}:{len(rows.tasks)}:{len(rows.artifacts)}:{tags[:12]}"


def run_facts(rows: RunRows, values: ValueCache) -> RunFacts:
    run = rows.run
    params = [a for a in rows.artifacts if a.step_name == "_parameters"]
    graph_artifact = next((a for a in params if a.name == "_graph_info"), None)
    graph = values.value(graph_artifact)
    graph = graph if isinstance(graph, dict) else None
    origins = rows.origins or V3Origins(None, None, None)
    task_seen = max((t.last_heartbeat_ts or 0 for t in rows.tasks), default=0) * 1000
    meta_seen = max((a.newest_ts for a in rows.attempts), default=0)
    return RunFacts(
        flow_id=run.flow_id,
        run_id=run.exposed_id,
        user=run.user_name,
        created_at=run.ts_epoch,
        tags=run.tags,
        system_tags=run.system_tags,
        graph=graph,
        parameters=_parameters(graph, params, values) if graph is not None else None,
        origin_run_id=origins.origin_run_id,
        ds_type=origins.ds_type,
        ds_root=origins.ds_root,
        last_seen_at=max(task_seen, meta_seen, run.ts_epoch) or None,
        heartbeat_at=run.last_heartbeat_ts * 1000 if run.last_heartbeat_ts else None,
        fingerprint=None,
    )


def task_facts(rows: RunRows, values: ValueCache) -> list[TaskFacts]:
    attempts: dict[int, list[V3Attempt]] = {}
    for attempt in rows.attempts:
        attempts.setdefault(attempt.task_id, []).append(attempt)
    artifacts: dict[int, list[V3Artifact]] = {}
    for artifact in rows.artifacts:
        artifacts.setdefault(artifact.task_id, []).append(artifact)
    return [
        _task(task, attempts.get(task.task_id, []), artifacts.get(task.task_id, []), values)
        for task in rows.tasks
        if task.step_name != "_parameters"
    ]


def _task(
    task: V3Task, rows: list[V3Attempt], artifacts: list[V3Artifact], values: ValueCache
) -> TaskFacts:
    by_attempt: dict[tuple[int, str], V3Artifact] = {(a.attempt_id, a.name): a for a in artifacts}
    stack: list[str] | None = None
    path: str | None = None
    attempts: list[AttemptFacts] = []
    for row in sorted((r for r in rows if r.attempt is not None), key=lambda r: r.attempt or 0):
        number = row.attempt or 0
        if row.foreach_stack is not None:
            stack = _array(row.foreach_stack)
        if row.foreach_path is not None:
            path = row.foreach_path
        if row.started_at is None and row.done_at is None and row.ok is None:
            continue  # only labels were recorded under this attempt
        outcome = None if row.ok is None else row.ok.lower() == "true"
        if outcome is None and row.done_at is not None:
            # attempt_ok is missing (older clients): the _task_ok artifact decides.
            value = values.value(by_attempt.get((number, "_task_ok")))
            outcome = value if isinstance(value, bool) else None
        attempts.append(
            AttemptFacts(
                attempt=number, started_at=row.started_at, finished_at=row.done_at, ok=outcome
            )
        )
    succeeded = None
    if attempts and attempts[-1].ok is True:
        value = values.value(by_attempt.get((attempts[-1].attempt, "_success")))
        succeeded = value if isinstance(value, bool) else None
    newest = max((r.newest_id for r in rows), default=0)
    heartbeat = task.last_heartbeat_ts * 1000 if task.last_heartbeat_ts else None
    seen = max(heartbeat or 0, max((r.newest_ts for r in rows), default=0))
    return TaskFacts(
        step_name=task.step_name,
        task_id=task.exposed_id,
        created_at=task.ts_epoch,
        attempts=attempts,
        succeeded=succeeded,
        foreach_label=foreach_label(stack, path),
        last_seen_at=seen or None,
        # New metadata or artifacts change the task; heartbeats alone do not.
        fingerprint=f"{newest}:{len(artifacts)}",
    )


def _parameters(
    graph: dict[str, Any], params: Iterable[V3Artifact], values: ValueCache
) -> dict[str, str]:
    declared = {p.get("name") for p in graph.get("parameters") or [] if isinstance(p, dict)} - {
        None
    }
    found: dict[str, str] = {}
    for artifact in params:
        if artifact.name in declared:
            value = values.value(artifact)
            found[artifact.name] = "<not previewable>" if value is None else parameter_repr(value)
    # By name: the database returns a run's artifact rows in no set order.
    return dict(sorted(found.items()))


def _array(value: str) -> list[str] | None:
    """`foreach-stack` as the service stores it: a PostgreSQL array literal, `{a=1,b=2}`
    (elements with commas or spaces are double-quoted), or JSON."""
    text = value.strip()
    if text.startswith("["):
        import orjson

        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        return [str(v) for v in parsed] if isinstance(parsed, list) else None
    if not (text.startswith("{") and text.endswith("}")):
        return None
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text[1:-1]:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if current or items:
        items.append("".join(current))
    return items
