"""Reads of the v3 tables that flowscope's metadata service (`/metadata`) answers with
(following a team's database as a source is `v3_reads`).

Each function answers one of metaflow-service's GET endpoints with the same body. A run is
named by its number or its string id, a task by its number or its name, exactly as the
service takes them (`is_number`). Lists under a run that does not exist are empty, as the
service answers them; single objects that do not exist are None (a 404).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from flowscope.service.v3_schema import (
    artifact_v3,
    flows_v3,
    metadata_v3,
    runs_v3,
    steps_v3,
    tasks_v3,
)
from flowscope.service.v3_shapes import (
    ArtifactBody,
    FlowBody,
    MetadataBody,
    RunBody,
    RunIds,
    StepBody,
    TaskBody,
    TaskIds,
    exposed_task_id,
    is_number,
)


def _run_is(run: str) -> sa.ColumnElement[bool]:
    return runs_v3.c.run_number == int(run) if is_number(run) else runs_v3.c.run_id == run


def _task_is(task: str) -> sa.ColumnElement[bool]:
    return tasks_v3.c.task_id == int(task) if is_number(task) else tasks_v3.c.task_name == task


def run_row(conn: Connection, flow_id: str, run: str) -> Row[Any] | None:
    return conn.execute(
        sa.select(runs_v3).where(runs_v3.c.flow_id == flow_id, _run_is(run))
    ).first()


def run_key(row: Row[Any]) -> RunIds:
    return RunIds(row.flow_id, int(row.run_number), row.run_id)


def find_run(conn: Connection, flow_id: str, run: str) -> RunIds | None:
    row = run_row(conn, flow_id, run)
    return None if row is None else run_key(row)


def find_task(conn: Connection, run: RunIds, step_name: str, task: str) -> TaskIds | None:
    found = conn.execute(
        sa.select(tasks_v3.c.task_id, tasks_v3.c.task_name).where(
            tasks_v3.c.flow_id == run.flow_id,
            tasks_v3.c.run_number == run.run_number,
            tasks_v3.c.step_name == step_name,
            _task_is(task),
        )
    ).first()
    return None if found is None else TaskIds(run, step_name, int(found[0]), found[1])


def flow_body(row: Row[Any]) -> FlowBody:
    return {
        "flow_id": row.flow_id,
        "user_name": row.user_name,
        "ts_epoch": row.ts_epoch,
        "tags": row.tags,
        "system_tags": row.system_tags,
    }


def run_body(row: Row[Any]) -> RunBody:
    return {
        "flow_id": row.flow_id,
        "run_number": run_key(row).exposed,
        "user_name": row.user_name,
        "ts_epoch": row.ts_epoch,
        "tags": row.tags,
        "system_tags": row.system_tags,
        "last_heartbeat_ts": row.last_heartbeat_ts,
    }


def step_body(row: Row[Any], run: Row[Any]) -> StepBody:
    return {
        "flow_id": row.flow_id,
        "run_number": run_key(run).exposed,
        "step_name": row.step_name,
        "user_name": row.user_name,
        "ts_epoch": row.ts_epoch,
        "tags": run.tags,
        "system_tags": run.system_tags,
    }


def task_body(row: Row[Any], run: Row[Any]) -> TaskBody:
    return {
        "flow_id": row.flow_id,
        "run_number": run_key(run).exposed,
        "step_name": row.step_name,
        "task_id": exposed_task_id(row.task_id, row.task_name),
        "user_name": row.user_name,
        "ts_epoch": row.ts_epoch,
        "tags": run.tags,
        "system_tags": run.system_tags,
        "last_heartbeat_ts": row.last_heartbeat_ts,
    }


def _metadata_body(row: Row[Any]) -> MetadataBody:
    return {
        "id": row.id,
        "flow_id": row.flow_id,
        "run_number": row.run_id if row.run_id is not None else row.run_number,
        "step_name": row.step_name,
        "task_id": exposed_task_id(row.task_id, row.task_name),
        "field_name": row.field_name,
        "value": row.value,
        "type": row.type,
        "user_name": row.user_name,
        "ts_epoch": row.ts_epoch,
        "tags": row.tags,
        "system_tags": row.system_tags,
    }


def _artifact_body(row: Row[Any], run: Row[Any]) -> ArtifactBody:
    return {
        "flow_id": row.flow_id,
        "run_number": run_key(run).exposed,
        "step_name": row.step_name,
        "task_id": exposed_task_id(row.task_id, row.task_name),
        "name": row.name,
        "location": row.location,
        "ds_type": row.ds_type,
        "sha": row.sha,
        "type": row.type,
        "content_type": row.content_type,
        "user_name": row.user_name,
        "attempt_id": row.attempt_id,
        "ts_epoch": row.ts_epoch,
        "tags": run.tags,
        "system_tags": run.system_tags,
    }


class V3Reads:
    """The GET side of `/metadata`, on whichever database holds the v3 tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def flow(self, flow_id: str) -> FlowBody | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(flows_v3).where(flows_v3.c.flow_id == flow_id)).first()
        return None if row is None else flow_body(row)

    def flows(self) -> list[FlowBody]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(flows_v3).order_by(flows_v3.c.flow_id)).all()
        return [flow_body(r) for r in rows]

    def run(self, flow_id: str, run: str) -> RunBody | None:
        with self.engine.connect() as conn:
            row = run_row(conn, flow_id, run)
        return None if row is None else run_body(row)

    def runs(self, flow_id: str) -> list[RunBody]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs_v3)
                .where(runs_v3.c.flow_id == flow_id)
                .order_by(runs_v3.c.run_number)
            ).all()
        return [run_body(r) for r in rows]

    def steps(self, flow_id: str, run: str, step_name: str | None = None) -> list[StepBody]:
        with self.engine.connect() as conn:
            found = run_row(conn, flow_id, run)
            if found is None:
                return []
            query = sa.select(steps_v3).where(
                steps_v3.c.flow_id == flow_id, steps_v3.c.run_number == found.run_number
            )
            if step_name is not None:
                query = query.where(steps_v3.c.step_name == step_name)
            rows = conn.execute(query.order_by(steps_v3.c.ts_epoch, steps_v3.c.step_name)).all()
        return [step_body(r, found) for r in rows]

    def tasks(
        self, flow_id: str, run: str, step_name: str, task: str | None = None
    ) -> list[TaskBody]:
        with self.engine.connect() as conn:
            found = run_row(conn, flow_id, run)
            if found is None:
                return []
            query = sa.select(tasks_v3).where(
                tasks_v3.c.flow_id == flow_id,
                tasks_v3.c.run_number == found.run_number,
                tasks_v3.c.step_name == step_name,
            )
            if task is not None:
                query = query.where(_task_is(task))
            rows = conn.execute(query.order_by(tasks_v3.c.task_id)).all()
        return [task_body(r, found) for r in rows]

    def metadata(
        self, flow_id: str, run: str, step_name: str | None = None, task: str | None = None
    ) -> list[MetadataBody]:
        """A task's metadata (or, without step and task, the whole run's), newest first."""
        with self.engine.connect() as conn:
            found = find_run(conn, flow_id, run)
            if found is None:
                return []
            query = sa.select(metadata_v3).where(
                metadata_v3.c.flow_id == flow_id, metadata_v3.c.run_number == found.run_number
            )
            if step_name is not None and task is not None:
                task_key = find_task(conn, found, step_name, task)
                if task_key is None:
                    return []
                query = query.where(
                    metadata_v3.c.step_name == step_name,
                    metadata_v3.c.task_id == task_key.task_id,
                )
            rows = conn.execute(
                query.order_by(metadata_v3.c.ts_epoch.desc(), metadata_v3.c.id.desc())
            ).all()
        return [_metadata_body(r) for r in rows]

    def artifacts(
        self,
        flow_id: str,
        run: str,
        step_name: str | None = None,
        task: str | None = None,
        attempt: int | None = None,
    ) -> list[ArtifactBody]:
        """Artifacts of a run, a step or a task: each task's latest attempt that has
        any, or the attempt asked for."""
        with self.engine.connect() as conn:
            found = run_row(conn, flow_id, run)
            if found is None:
                return []
            query = sa.select(artifact_v3).where(
                artifact_v3.c.flow_id == flow_id, artifact_v3.c.run_number == found.run_number
            )
            if step_name is not None:
                query = query.where(artifact_v3.c.step_name == step_name)
            if task is not None and step_name is not None:
                task_key = find_task(conn, run_key(found), step_name, task)
                if task_key is None:
                    return []
                query = query.where(artifact_v3.c.task_id == task_key.task_id)
            rows = conn.execute(
                query.order_by(
                    artifact_v3.c.task_id, artifact_v3.c.attempt_id.desc(), artifact_v3.c.name
                )
            ).all()
        if attempt is None:
            latest: dict[int, int] = {}
            for r in rows:
                latest[r.task_id] = max(latest.get(r.task_id, 0), r.attempt_id)
            rows = [r for r in rows if r.attempt_id == latest[r.task_id]]
        else:
            rows = [r for r in rows if r.attempt_id == attempt]
        return [_artifact_body(r, found) for r in rows]

    def artifact(
        self, flow_id: str, run: str, step_name: str, task: str, name: str, attempt: int | None
    ) -> ArtifactBody | None:
        """One artifact; without an attempt, of the latest attempt that stored `name` (the
        artifact every attempt stores), as the service picks it."""
        with self.engine.connect() as conn:
            found = run_row(conn, flow_id, run)
            if found is None:
                return None
            task_key = find_task(conn, run_key(found), step_name, task)
            if task_key is None:
                return None
            of_task = (
                artifact_v3.c.flow_id == flow_id,
                artifact_v3.c.run_number == found.run_number,
                artifact_v3.c.step_name == step_name,
                artifact_v3.c.task_id == task_key.task_id,
            )
            if attempt is None:
                attempt = (
                    conn.execute(
                        sa.select(sa.func.max(artifact_v3.c.attempt_id)).where(
                            *of_task, artifact_v3.c.name == "name"
                        )
                    ).scalar()
                    or 0
                )
            row = conn.execute(
                sa.select(artifact_v3).where(
                    *of_task, artifact_v3.c.name == name, artifact_v3.c.attempt_id == attempt
                )
            ).first()
        return None if row is None else _artifact_body(row, found)

    def filtered_task_pathspecs(
        self, flow_id: str, run: str, step_name: str, field_name: str | None, pattern: str | None
    ) -> list[str]:
        """Pathspecs of the step's tasks with a metadata value matching `pattern`
        (an unanchored regular expression search, as the service does)."""
        try:
            matcher = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ValueError(f"invalid pattern: {exc}") from exc
        with self.engine.connect() as conn:
            found = find_run(conn, flow_id, run)
            if found is None:
                return []
            query = sa.select(
                metadata_v3.c.task_id, metadata_v3.c.task_name, metadata_v3.c.value
            ).where(
                metadata_v3.c.flow_id == flow_id,
                metadata_v3.c.run_number == found.run_number,
                metadata_v3.c.step_name == step_name,
            )
            if field_name:
                query = query.where(metadata_v3.c.field_name == field_name)
            rows = conn.execute(query).all()
        tasks = sorted(
            {
                (int(task_id), task_name)
                for task_id, task_name, value in rows
                if matcher is None or matcher.search(value)
            }
        )
        run_part = found.exposed
        return [
            f"{flow_id}/{run_part}/{step_name}/{exposed_task_id(task_id, task_name)}"
            for task_id, task_name in tasks
        ]
