"""Many new runs in one transaction: the first sync of a large archive.

The per-run writer (`writes.RunWriter`) reads what it replaces and emits an event per
task, which is right for a run that changes under a user's eyes and far too slow for a
million runs that are new to the index. Here runs the index has never seen are inserted
in batches of multi-row statements; only run-level events are written (`run_created`),
since nobody can be watching a run's tasks before the run existed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowscope.store import schema as s
from flowscope.store.items import run_record_item
from flowscope.store.records import WholeRun
from flowscope.store.writes import by_flow


def insert_new_runs(conn: Connection, source_id: int, runs: Sequence[WholeRun]) -> int:
    """Insert the runs whose pathspec the index does not hold yet; return how many.

    A run already present (from this source or another) is left alone: the caller writes
    changed runs through the per-run writer.
    """
    present = _present(conn, [(w.run.flow_id, w.run.run_id) for w in runs])
    fresh = [w for w in runs if (w.run.flow_id, w.run.run_id) not in present]
    if not fresh:
        return 0
    run_rows = [_run_row(source_id, w) for w in fresh]
    _insert_many(conn, s.runs, list(run_rows[0]), [tuple(r.values()) for r in run_rows])
    pk_of = _run_pks(conn, source_id, [(w.run.flow_id, w.run.run_id) for w in fresh])
    pks = [pk_of[(w.run.flow_id, w.run.run_id)] for w in fresh]
    task_rows: list[tuple[Any, ...]] = []
    step_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[Any, ...]] = []
    for pk, whole in zip(pks, fresh, strict=True):
        task_rows.extend(
            (
                pk,
                task.step_name,
                task.task_id,
                task.task_key,
                task.status,
                task.status_reason,
                task.caught,
                task.attempt,
                task.started_at,
                task.finished_at,
                task.duration_ms,
                task.foreach_label,
                task.fingerprint,
                task.unreadable,
            )
            for task in whole.tasks
        )
        step_rows.extend(
            (
                pk,
                step.step_name,
                step.position,
                step.type,
                step.status,
                step.started_at,
                step.finished_at,
                step.pending,
                step.running,
                step.completed,
                step.failed,
            )
            for step in whole.steps
        )
        user = set(whole.run.tags)
        tag_rows.extend(
            (tag, pk, tag not in user, whole.run.started_at, whole.run.flow_id)
            for tag in user | set(whole.run.system_tags)
        )
    _insert_many(conn, s.tasks, TASK_COLUMNS, task_rows)
    task_pk = _task_pks(conn, pks)
    attempt_rows = [
        (
            task_pk[(pk, task.step_name, task.task_id)],
            a.attempt,
            a.status,
            a.status_reason,
            a.started_at,
            a.finished_at,
        )
        for pk, whole in zip(pks, fresh, strict=True)
        for task in whole.tasks
        for a in task.attempts
    ]
    _insert_many(conn, s.attempts, ATTEMPT_COLUMNS, attempt_rows)
    _insert_many(conn, s.steps, STEP_COLUMNS, step_rows)
    _insert_many(
        conn, s.run_tags, ("tag", "run_pk", "is_system", "started_at", "flow_id"), tag_rows
    )
    _count_flows(conn, fresh, pks)
    now = int(time.time() * 1000)
    _insert_many(
        conn,
        s.events,
        ("ts", "kind", "flow_id", "run_id", "step_name", "task_id", "data"),
        [
            (
                now,
                "run_created",
                w.run.flow_id,
                w.run.run_id,
                None,
                None,
                orjson.dumps(run_record_item(w.run)).decode(),
            )
            for w in fresh
        ],
    )
    return len(fresh)


TASK_COLUMNS = (
    "run_pk",
    "step_name",
    "task_id",
    "task_key",
    "status",
    "status_reason",
    "caught",
    "attempt",
    "started_at",
    "finished_at",
    "duration_ms",
    "foreach_label",
    "fingerprint",
    "unreadable",
)
ATTEMPT_COLUMNS = ("task_pk", "attempt", "status", "status_reason", "started_at", "finished_at")
STEP_COLUMNS = (
    "run_pk",
    "step_name",
    "position",
    "type",
    "status",
    "started_at",
    "finished_at",
    "pending",
    "running",
    "completed",
    "failed",
)


def _insert_many(
    conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Plain rows straight to the driver: COPY on PostgreSQL, executemany on SQLite. At a
    million runs, building SQLAlchemy parameters per row costs more than the database."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', list(rows))


def _run_pks(
    conn: Connection, source_id: int, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    r = s.runs
    found: dict[tuple[str, str], int] = {}
    for flow_id, run_ids in by_flow(keys):
        for pk, run_id, owner in conn.execute(
            sa.select(r.c.pk, r.c.run_id, r.c.source_id).where(
                r.c.flow_id == flow_id, r.c.run_id.in_(run_ids)
            )
        ).all():
            if owner == source_id:
                found[(flow_id, run_id)] = int(pk)
    return found


def _task_pks(conn: Connection, run_pks: Sequence[int]) -> dict[tuple[int, str, str], int]:
    t = s.tasks
    found: dict[tuple[int, str, str], int] = {}
    for i in range(0, len(run_pks), 500):
        for pk, run_pk, step_name, task_id in conn.execute(
            sa.select(t.c.pk, t.c.run_pk, t.c.step_name, t.c.task_id).where(
                t.c.run_pk.in_(run_pks[i : i + 500])
            )
        ).all():
            found[(run_pk, step_name, task_id)] = pk
    return found


def _present(conn: Connection, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    r = s.runs
    found: set[tuple[str, str]] = set()
    for flow_id, run_ids in by_flow(keys):
        found.update(
            (flow_id, run_id)
            for (run_id,) in conn.execute(
                sa.select(r.c.run_id).where(r.c.flow_id == flow_id, r.c.run_id.in_(run_ids))
            ).all()
        )
    return found


def _run_row(source_id: int, whole: WholeRun) -> dict[str, Any]:
    run = whole.run
    return {
        "source_id": source_id,
        "flow_id": run.flow_id,
        "run_id": run.run_id,
        "user": run.user,
        "status": run.status,
        "status_reason": run.status_reason,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_ms": run.duration_ms,
        "tags": orjson.dumps(run.tags).decode(),
        "system_tags": orjson.dumps(run.system_tags).decode(),
        "project": run.project,
        "branch": run.branch,
        "parameters": orjson.dumps(run.parameters).decode() if run.parameters is not None else None,
        "graph": orjson.dumps(run.graph).decode() if run.graph is not None else None,
        "origin_run_id": run.origin_run_id,
        "ds_type": run.ds_type,
        "ds_root": run.ds_root,
        "first_failure_step": run.first_failure_step,
        "first_failure_task": run.first_failure_task,
        "task_count": run.task_count,
        "caught_count": run.caught_count,
        "current_steps": orjson.dumps(run.current_steps).decode(),
        "unreadable_tasks": run.unreadable_tasks,
        "last_activity_at": run.last_activity_at,
        "fingerprint": run.fingerprint,
        "sealed": run.sealed,
    }


def _count_flows(conn: Connection, fresh: Sequence[WholeRun], pks: Sequence[int]) -> None:
    """Each flow's run count and newest run move with its runs, in the same transaction."""
    f = s.flows
    per_flow: dict[str, list[tuple[int | None, int]]] = defaultdict(list)
    for whole, pk in zip(fresh, pks, strict=True):
        per_flow[whole.run.flow_id].append((whole.run.started_at, pk))
    for flow_id, started in per_flow.items():
        newest_at, newest_pk = max(started, key=lambda x: (x[0] or 0, x[1]))
        known = conn.execute(
            sa.select(f.c.run_count, f.c.last_started_at).where(f.c.flow_id == flow_id)
        ).first()
        if known is None:
            conn.execute(
                sa.insert(f).values(
                    flow_id=flow_id,
                    run_count=len(started),
                    last_run_pk=newest_pk,
                    last_started_at=newest_at,
                )
            )
            continue
        values: dict[str, Any] = {"run_count": f.c.run_count + len(started)}
        if known.last_started_at is None or (newest_at or 0) >= known.last_started_at:
            values.update(last_run_pk=newest_pk, last_started_at=newest_at)
        conn.execute(sa.update(f).where(f.c.flow_id == flow_id).values(values))
