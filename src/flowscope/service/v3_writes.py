"""Writes into the v3 tables: the POST and PATCH side of flowscope's `/metadata`.

Each write is one transaction, with metaflow-service's semantics (what gets stored, which
id is assigned, what conflicts). After it commits, `on_change` hears which run changed, so
flowscope's index can re-read that run at once instead of waiting for its next look.

Ids: PostgreSQL assigns run numbers, task ids and metadata ids from the tables' own
sequences (shared with a metaflow-service on the same database). SQLite has no sequences
on composite keys, so flowscope assigns them, max + 1 inside the writing transaction, and
writes one at a time (a process-wide lock: a one-process team server).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row

from flowscope.service.metadata_reads import (
    find_task,
    flow_body,
    run_body,
    run_key,
    run_row,
    step_body,
    task_body,
)
from flowscope.service.v3_schema import (
    artifact_v3,
    flows_v3,
    metadata_v3,
    runs_v3,
    steps_v3,
    tasks_v3,
)
from flowscope.service.v3_shapes import (
    FlowBody,
    RunBody,
    RunIds,
    StepBody,
    TaskBody,
    TaskIds,
    V3Change,
    heartbeat_capable,
    is_number,
)

log = logging.getLogger(__name__)

OnChange = Callable[[V3Change], None]
# The columns metaflow-service declares VARCHAR(255); a longer value cannot be stored
# there, and the service drops such a row (one failed insert) while keeping the others.
MAX_NAME = 255
SMALLINT_MAX = 32767
# Seconds the client waits between heartbeats, as the service tells it.
HEARTBEAT_WAIT_S = 10


class NotFound(Exception):
    """The flow, run, step or task a write names does not exist."""


class Conflict(Exception):
    """The object exists already (the client then reads it instead)."""


class BadRequest(Exception):
    """The request is well-formed JSON but not something the service accepts."""


class Unprocessable(Exception):
    """A well-formed request the rules refuse (removing a system tag)."""


def now_ms() -> int:
    return int(time.time() * 1000)


def now_s() -> int:
    return int(time.time())


def _name_ok(*values: Any) -> bool:
    return all(v is None or (isinstance(v, str) and len(v) <= MAX_NAME) for v in values)


class V3Writes:
    def __init__(self, engine: Engine, on_change: OnChange | None = None) -> None:
        self.engine = engine
        self.on_change = on_change
        self._postgres = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self._postgres:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._lock, self.engine.begin() as conn:
            yield conn

    def _changed(self, run: RunIds, what: str) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(V3Change(run.flow_id, run.run_number, run.run_id, what))
        except Exception:  # the write is committed; a listener's failure must not undo it
            log.exception("on_change listener failed for %s/%s", run.flow_id, run.run_number)

    def _run(self, conn: Connection, flow_id: str, run: str, lock: bool = False) -> Row[Any]:
        found = run_row(conn, flow_id, run)
        if found is None:
            raise NotFound(f"run {flow_id}/{run} not found")
        if lock and self._postgres:
            # Serialises read-modify-write of the run's tags across servers.
            conn.execute(
                sa.select(runs_v3.c.run_number)
                .where(runs_v3.c.flow_id == flow_id, runs_v3.c.run_number == found.run_number)
                .with_for_update()
            )
            found = run_row(conn, flow_id, run)
            assert found is not None
        return found

    def _task(self, conn: Connection, run: Row[Any], step_name: str, task: str) -> TaskIds:
        found = find_task(conn, run_key(run), step_name, task)
        if found is None:
            raise NotFound(f"task {run.flow_id}/{run.run_number}/{step_name}/{task} not found")
        return found

    def _next_id(self, conn: Connection, column: sa.Column[Any]) -> int:
        return (
            int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(column), 0))).scalar_one()) + 1
        )

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        if self._postgres:
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()

    # -- flows, runs, steps, tasks -------------------------------------------------

    def create_flow(self, flow_id: str, body: dict[str, Any]) -> FlowBody:
        if not _name_ok(flow_id, body.get("user_name")):
            raise BadRequest("flow_id and user_name are at most 255 characters")
        with self._transaction() as conn:
            exists = conn.execute(
                sa.select(flows_v3.c.flow_id).where(flows_v3.c.flow_id == flow_id)
            ).first()
            if exists is not None:
                raise Conflict(f"flow {flow_id} exists")
            row = conn.execute(
                sa.insert(flows_v3)
                .values(
                    flow_id=flow_id,
                    user_name=body.get("user_name"),
                    ts_epoch=now_ms(),
                    tags=body.get("tags"),
                    system_tags=body.get("system_tags"),
                )
                .returning(*flows_v3.c)
            ).one()
        return flow_body(row)

    def create_run(self, flow_id: str, body: dict[str, Any]) -> RunBody:
        run_id = body.get("run_number")
        if run_id is not None and not isinstance(run_id, str):
            run_id = str(run_id)
        if run_id is not None and is_number(run_id):
            raise BadRequest("provided run_id may not be a numeric")
        if run_id == "":
            run_id = None
        if not _name_ok(run_id, body.get("user_name")):
            raise BadRequest("run_id and user_name are at most 255 characters")
        system_tags = body.get("system_tags")
        values: dict[str, Any] = {
            "flow_id": flow_id,
            "user_name": body.get("user_name"),
            "ts_epoch": now_ms(),
            "tags": body.get("tags"),
            "system_tags": system_tags,
            "run_id": run_id,
            "last_heartbeat_ts": now_s() if heartbeat_capable(system_tags) else None,
        }
        with self._transaction() as conn:
            if (
                conn.execute(
                    sa.select(flows_v3.c.flow_id).where(flows_v3.c.flow_id == flow_id)
                ).first()
                is None
            ):
                raise NotFound(f"flow {flow_id} not found")
            if run_id is not None and run_row(conn, flow_id, run_id) is not None:
                raise Conflict(f"run {flow_id}/{run_id} exists")
            if not self._postgres:
                values["run_number"] = self._next_id(conn, runs_v3.c.run_number)
            try:
                row = conn.execute(sa.insert(runs_v3).values(**values).returning(*runs_v3.c)).one()
            except sa.exc.IntegrityError as exc:  # a concurrent create of the same run_id
                raise Conflict(f"run {flow_id}/{run_id} exists") from exc
        self._changed(run_key(row), "run")
        return run_body(row)

    def create_step(self, flow_id: str, run: str, step_name: str, body: dict[str, Any]) -> StepBody:
        if not _name_ok(step_name, body.get("user_name")):
            raise BadRequest("step_name and user_name are at most 255 characters")
        with self._transaction() as conn:
            found = self._run(conn, flow_id, run)
            exists = conn.execute(
                sa.select(steps_v3.c.step_name).where(
                    steps_v3.c.flow_id == flow_id,
                    steps_v3.c.run_number == found.run_number,
                    steps_v3.c.step_name == step_name,
                )
            ).first()
            if exists is not None:
                raise Conflict(f"step {flow_id}/{run}/{step_name} exists")
            try:
                row = conn.execute(
                    sa.insert(steps_v3)
                    .values(
                        flow_id=flow_id,
                        run_number=found.run_number,
                        run_id=found.run_id,
                        step_name=step_name,
                        user_name=body.get("user_name", ""),
                        ts_epoch=now_ms(),
                        tags=body.get("tags"),
                        system_tags=body.get("system_tags"),
                    )
                    .returning(*steps_v3.c)
                ).one()
            except sa.exc.IntegrityError as exc:
                raise Conflict(f"step {flow_id}/{run}/{step_name} exists") from exc
        self._changed(run_key(found), "step")
        return step_body(row, found)

    def create_task(self, flow_id: str, run: str, step_name: str, body: dict[str, Any]) -> TaskBody:
        task_name = body.get("task_id")
        if task_name is not None and not isinstance(task_name, str):
            task_name = str(task_name)
        if task_name is not None and is_number(task_name):
            raise BadRequest("provided task_name may not be a numeric")
        if task_name == "":
            task_name = None
        if not _name_ok(task_name, body.get("user_name")):
            raise BadRequest("task_id and user_name are at most 255 characters")
        system_tags = body.get("system_tags")
        beats = heartbeat_capable(system_tags)
        with self._transaction() as conn:
            found = self._run(conn, flow_id, run)
            step = conn.execute(
                sa.select(steps_v3.c.step_name).where(
                    steps_v3.c.flow_id == flow_id,
                    steps_v3.c.run_number == found.run_number,
                    steps_v3.c.step_name == step_name,
                )
            ).first()
            if step is None:
                raise NotFound(f"step {flow_id}/{run}/{step_name} not found")
            if task_name is not None and find_task(conn, run_key(found), step_name, task_name):
                raise Conflict(f"task {flow_id}/{run}/{step_name}/{task_name} exists")
            try:
                row = conn.execute(
                    sa.insert(tasks_v3)
                    .values(
                        flow_id=flow_id,
                        run_number=found.run_number,
                        run_id=found.run_id,
                        step_name=step_name,
                        task_name=task_name,
                        user_name=body.get("user_name"),
                        ts_epoch=now_ms(),
                        tags=body.get("tags"),
                        system_tags=system_tags,
                        last_heartbeat_ts=now_s() if beats else None,
                    )
                    .returning(*tasks_v3.c)
                ).one()
            except sa.exc.IntegrityError as exc:
                raise Conflict(f"task {flow_id}/{run}/{step_name}/{task_name} exists") from exc
            if beats:  # a new task is a sign of life of its run too
                self._beat_run(conn, found)
        self._changed(run_key(found), "task")
        return task_body(row, found)

    # -- metadata and artifacts ----------------------------------------------------

    def add_metadata(
        self, flow_id: str, run: str, step_name: str, task: str, items: Sequence[Any]
    ) -> int:
        """Store a task's metadata entries; the number stored (the service skips, one by
        one, what it cannot store)."""
        with self._transaction() as conn:
            found = self._run(conn, flow_id, run)
            task_key = self._task(conn, found, step_name, task)
            rows = []
            ts = now_ms()
            for item in items:
                row = _metadata_row(item, task_key, ts)
                if row is None:
                    log.warning("skipped a metadata entry that cannot be stored")
                    continue
                rows.append(row)
            if rows and not self._postgres:
                first = self._next_id(conn, metadata_v3.c.id)
                for offset, row in enumerate(rows):
                    row["id"] = first + offset
            if rows:
                conn.execute(sa.insert(metadata_v3), rows)
        if rows:
            self._changed(run_key(found), "metadata")
        return len(rows)

    def add_artifacts(
        self, flow_id: str, run: str, step_name: str, task: str, items: Sequence[Any]
    ) -> int:
        """Store a task's artifact records; the number stored (a record whose key exists
        already is not stored again, as in the service)."""
        with self._transaction() as conn:
            found = self._run(conn, flow_id, run)
            task_key = self._task(conn, found, step_name, task)
            rows = []
            ts = now_ms()
            for item in items:
                row = _artifact_row(item, task_key, ts)
                if row is None:
                    log.warning("skipped an artifact record that cannot be stored")
                    continue
                rows.append(row)
            stored = 0
            if rows:
                # Counted from RETURNING: executemany's rowcount is not reliable everywhere.
                result = conn.execute(
                    self._insert_ignoring_duplicates(artifact_v3).returning(artifact_v3.c.name),
                    rows,
                )
                stored = len(result.all())
        if stored:
            self._changed(run_key(found), "artifacts")
        return stored

    # -- heartbeats and tags ---------------------------------------------------------

    def _beat_run(self, conn: Connection, run: Row[Any]) -> None:
        conn.execute(
            sa.update(runs_v3)
            .where(runs_v3.c.flow_id == run.flow_id, runs_v3.c.run_number == run.run_number)
            .values(last_heartbeat_ts=now_s())
        )

    def heartbeat_run(self, flow_id: str, run: str) -> int:
        """Record that the run is alive; seconds until the next heartbeat."""
        with self._transaction() as conn:
            found = self._run(conn, flow_id, run)
            self._beat_run(conn, found)
        self._changed(run_key(found), "heartbeat")
        return HEARTBEAT_WAIT_S

    def heartbeat_task(self, flow_id: str, run: str, step_name: str, task: str) -> int:
        """Record that the task, and so its run, is alive."""
        with self._transaction() as conn:
            found = self._run(conn, flow_id, run)
            self._beat_run(conn, found)
            task_key = self._task(conn, found, step_name, task)
            conn.execute(
                sa.update(tasks_v3)
                .where(tasks_v3.c.task_id == task_key.task_id)
                .values(last_heartbeat_ts=now_s())
            )
        self._changed(run_key(found), "heartbeat")
        return HEARTBEAT_WAIT_S

    def mutate_run_tags(
        self, flow_id: str, run: str, to_add: Sequence[str], to_remove: Sequence[str]
    ) -> list[str]:
        """Remove, then add, user tags of a run; its user tags after. System tags cannot
        be removed, and a tag that is a system tag is not added as a user tag."""
        add, remove = set(to_add), set(to_remove)
        if not _name_ok(*add):
            raise BadRequest("tags are at most 255 characters")
        with self._transaction() as conn:
            found = self._run(conn, flow_id, run, lock=True)
            tags = set(found.tags or [])
            system_tags = set(found.system_tags or [])
            if remove & system_tags:
                raise Unprocessable(
                    f"Cannot remove tags that are existing system tags {sorted(remove & system_tags)}"
                )
            after = (tags - remove) | (add - system_tags)
            if after == tags:
                return sorted(after)
            conn.execute(
                sa.update(runs_v3)
                .where(runs_v3.c.flow_id == flow_id, runs_v3.c.run_number == found.run_number)
                .values(tags=sorted(after))
            )
        self._changed(run_key(found), "tags")
        return sorted(after)


def _text(value: Any, default: str) -> str | None:
    """A string column's value as the service stores it (a missing one is `default`)."""
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def _metadata_row(item: Any, task: TaskIds, ts: int) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    field_name = _text(item.get("field_name"), " ")
    value = item.get("value", " ")
    value = value if isinstance(value, str) else json.dumps(value)
    type_ = _text(item.get("type"), " ")
    user_name = item.get("user_name")
    if field_name is None or type_ is None or not _name_ok(field_name, type_, user_name):
        return None
    return {
        "flow_id": task.run.flow_id,
        "run_number": task.run.run_number,
        "run_id": task.run.run_id,
        "step_name": task.step_name,
        "task_id": task.task_id,
        "task_name": task.task_name,
        "field_name": field_name,
        "value": value,
        "type": type_,
        "user_name": user_name,
        "ts_epoch": ts,
        "tags": item.get("tags"),
        "system_tags": item.get("system_tags"),
    }


def _artifact_row(item: Any, task: TaskIds, ts: int) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    try:
        attempt_id = int(item.get("attempt_id", 0))
    except (TypeError, ValueError):
        return None
    if not 0 <= attempt_id <= SMALLINT_MAX:
        return None
    columns = {
        key: _text(item.get(key), " ")
        for key in ("name", "location", "ds_type", "sha", "type", "content_type", "user_name")
    }
    if any(v is None for v in columns.values()) or not _name_ok(*columns.values()):
        return None
    return {
        "flow_id": task.run.flow_id,
        "run_number": task.run.run_number,
        "run_id": task.run.run_id,
        "step_name": task.step_name,
        "task_id": task.task_id,
        "task_name": task.task_name,
        **columns,
        "attempt_id": attempt_id,
        "ts_epoch": ts,
        "tags": item.get("tags"),
        "system_tags": item.get("system_tags"),
    }
