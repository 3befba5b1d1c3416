"""Read-side queries: every list the API serves, keyset-paged and index-backed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowscope.store import schema as s
from flowscope.store.items import attempt_item, run_item, step_item, task_item
from flowscope.store.paging import SortKey, decode_cursor, encode_cursor, fetch_page

RUN_ORDERS = {
    "-started_at": ("started_at", True, False),
    "started_at": ("started_at", False, False),
    "-finished_at": ("finished_at", True, True),
    "finished_at": ("finished_at", False, True),
    "-duration_ms": ("duration_ms", True, True),
    "duration_ms": ("duration_ms", False, True),
}
TASK_ORDERS = {
    "task_id": ("task_key", False, False),
    "-task_id": ("task_key", True, False),
    "started_at": ("started_at", False, True),
    "-started_at": ("started_at", True, True),
    "finished_at": ("finished_at", False, True),
    "-finished_at": ("finished_at", True, True),
    "duration_ms": ("duration_ms", False, True),
    "-duration_ms": ("duration_ms", True, True),
}

RECENT_RUNS = 20
r, t, a, st, rt, f, src = s.runs, s.tasks, s.attempts, s.steps, s.run_tags, s.flows, s.sources

RUN_COLUMNS = (
    r.c.pk,
    r.c.flow_id,
    r.c.run_id,
    r.c.user,
    r.c.status,
    r.c.status_reason,
    r.c.started_at,
    r.c.finished_at,
    r.c.duration_ms,
    r.c.tags,
    r.c.system_tags,
    r.c.project,
    r.c.branch,
    r.c.first_failure_step,
    r.c.first_failure_task,
)
TASK_COLUMNS = (
    t.c.pk,
    t.c.step_name,
    t.c.task_id,
    t.c.task_key,
    t.c.status,
    t.c.status_reason,
    t.c.caught,
    t.c.attempt,
    t.c.started_at,
    t.c.finished_at,
    t.c.duration_ms,
    t.c.foreach_label,
)


@dataclass
class RunFilters:
    flow_id: str | None = None
    user: str | None = None
    tags: Sequence[str] = ()
    status: str | None = None
    started_after: int | None = None
    started_before: int | None = None
    project: str | None = None
    branch: str | None = None
    q: str | None = None


@dataclass
class RunRef:
    pk: int
    flow_id: str
    run_id: str
    source_kind: str
    source_location: str
    graph: dict[str, Any] | None
    ds_type: str | None = None  # "local", "s3", ...: where logs, artifacts and cards live
    ds_root: str | None = None


def list_runs(
    conn: Connection, filters: RunFilters, order: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    field, descending, nullable = RUN_ORDERS[order]
    query = sa.select(*RUN_COLUMNS)
    if filters.flow_id is not None:
        query = query.where(r.c.flow_id == filters.flow_id)
    if filters.user is not None:
        query = query.where(r.c.user == filters.user)
    if filters.status is not None:
        query = query.where(r.c.status == filters.status)
    if filters.project is not None:
        query = query.where(r.c.project == filters.project)
    if filters.branch is not None:
        query = query.where(r.c.branch == filters.branch)
    if filters.started_after is not None:
        query = query.where(r.c.started_at >= filters.started_after)
    if filters.started_before is not None:
        query = query.where(r.c.started_at < filters.started_before)
    for tag in filters.tags:
        query = query.where(r.c.pk.in_(sa.select(rt.c.run_pk).where(rt.c.tag == tag)))
    if filters.q:
        pattern = (
            "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            sa.or_(r.c.run_id.like(pattern, escape="\\"), r.c.flow_id.like(pattern, escape="\\"))
        )
    column = r.c[field]
    rows, next_cursor = fetch_page(
        conn, query, SortKey(column, descending, nullable), r.c.pk, field, limit, cursor
    )
    return [run_item(row) for row in rows], next_cursor


def list_flows(
    conn: Connection, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = sa.select(f.c.flow_id, f.c.run_count, f.c.last_run_pk, f.c.flow_id.label("pk"))
    # Flows page alphabetically; flow ids are unique, so they are their own tie-breaker.
    after = None
    if cursor is not None:
        after = decode_cursor(cursor)[0]
        query = query.where(f.c.flow_id > after)
    rows = [
        dict(row._mapping) for row in conn.execute(query.order_by(f.c.flow_id).limit(limit + 1))
    ]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["flow_id"], 0, False)
    last_pks = [row["last_run_pk"] for row in rows if row["last_run_pk"] is not None]
    last_runs = {
        row["pk"]: run_item(row)
        for row in (
            dict(x._mapping)
            for x in conn.execute(sa.select(*RUN_COLUMNS).where(r.c.pk.in_(last_pks)))
        )
    }
    items = []
    for row in rows:
        recent = [
            dict(x._mapping)
            for x in conn.execute(
                sa.select(
                    r.c.run_id,
                    r.c.status,
                    r.c.status_reason,
                    r.c.started_at,
                    r.c.duration_ms,
                    r.c.user,
                )
                .where(r.c.flow_id == row["flow_id"])
                .order_by(r.c.started_at.desc(), r.c.pk.desc())
                .limit(RECENT_RUNS)
            )
        ]
        users = sorted({x.pop("user") for x in recent} - {None})
        items.append(
            {
                "flow_id": row["flow_id"],
                "run_count": row["run_count"],
                "last_run": last_runs.get(row["last_run_pk"]),
                "recent": recent,
                "users": users,
            }
        )
    return items, next_cursor


def find_run(conn: Connection, flow_id: str, run_id: str) -> RunRef | None:
    row = conn.execute(
        sa.select(
            r.c.pk,
            r.c.flow_id,
            r.c.run_id,
            r.c.graph,
            r.c.ds_type,
            r.c.ds_root,
            src.c.kind,
            src.c.location,
        )
        .join(src, src.c.id == r.c.source_id)
        .where(r.c.flow_id == flow_id, r.c.run_id == run_id)
    ).first()
    if row is None:
        return None
    return RunRef(
        pk=row.pk,
        flow_id=row.flow_id,
        run_id=row.run_id,
        source_kind=row.kind,
        source_location=row.location,
        graph=orjson.loads(row.graph) if row.graph else None,
        ds_type=row.ds_type,
        ds_root=row.ds_root,
    )


def get_run(conn: Connection, run_pk: int) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(*RUN_COLUMNS, r.c.parameters, r.c.origin_run_id, r.c.task_count, r.c.graph).where(
            r.c.pk == run_pk
        )
    ).first()
    if row is None:
        return None
    data = dict(row._mapping)
    item = run_item(data)
    item["parameters"] = orjson.loads(data["parameters"]) if data["parameters"] else {}
    item["origin_run_id"] = data["origin_run_id"]
    item["task_count"] = data["task_count"]
    graph = orjson.loads(data["graph"]) if data["graph"] else {}
    item["script_name"] = graph.get("file") if isinstance(graph.get("file"), str) else None
    return item


def list_steps(conn: Connection, run_pk: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(st).where(st.c.run_pk == run_pk).order_by(st.c.position, st.c.step_name)
    )
    return [step_item(row._mapping) for row in rows]


def step_exists(conn: Connection, run_pk: int, step_name: str) -> bool:
    return (
        conn.execute(
            sa.select(st.c.step_name).where(st.c.run_pk == run_pk, st.c.step_name == step_name)
        ).first()
        is not None
    )


def list_tasks(
    conn: Connection,
    ref: RunRef,
    step_name: str | None,
    status: str | None,
    order: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    field, descending, nullable = TASK_ORDERS[order]
    query = sa.select(*TASK_COLUMNS).where(t.c.run_pk == ref.pk)
    if step_name is not None:
        query = query.where(t.c.step_name == step_name)
    if status is not None:
        query = query.where(t.c.status == status)
    rows, next_cursor = fetch_page(
        conn, query, SortKey(t.c[field], descending, nullable), t.c.pk, field, limit, cursor
    )
    return [task_item(row, ref.flow_id, ref.run_id) for row in rows], next_cursor


def get_task(conn: Connection, ref: RunRef, step_name: str, task_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(*TASK_COLUMNS).where(
            t.c.run_pk == ref.pk, t.c.step_name == step_name, t.c.task_id == task_id
        )
    ).first()
    if row is None:
        return None
    item = task_item(row._mapping, ref.flow_id, ref.run_id)
    item["attempts"] = [
        attempt_item(at._mapping)
        for at in conn.execute(sa.select(a).where(a.c.task_pk == row.pk).order_by(a.c.attempt))
    ]
    return item


def timeline(conn: Connection, ref: RunRef) -> dict[str, Any]:
    """Every task and attempt of a run in columns: compact enough for 100,000 tasks.

    One ordered pass over tasks joined with their attempts, read as plain tuples: row
    objects cost more than the query at this size.
    """
    step_names = [
        row.step_name
        for row in conn.execute(
            sa.select(st.c.step_name)
            .where(st.c.run_pk == ref.pk)
            .order_by(st.c.position, st.c.step_name)
        )
    ]
    step_index = {name: i for i, name in enumerate(step_names)}
    task_step: list[int] = []
    task_ids: list[str] = []
    labels: list[str | None] = []
    task_status: list[str] = []
    at_task: list[int] = []
    at_number: list[int] = []
    at_status: list[str] = []
    at_started: list[int | None] = []
    at_finished: list[int | None] = []
    query = (
        sa.select(
            t.c.pk,
            t.c.step_name,
            t.c.task_id,
            t.c.foreach_label,
            t.c.status,
            a.c.attempt,
            a.c.status,
            a.c.started_at,
            a.c.finished_at,
        )
        .select_from(t.outerjoin(a, a.c.task_pk == t.c.pk))
        .where(t.c.run_pk == ref.pk)
        .order_by(t.c.task_key, t.c.pk, a.c.attempt)
    )
    last_pk = None
    for pk, step_name, task_id, label, status, number, a_status, started, finished in conn.execute(
        query
    ):
        if pk != last_pk:
            last_pk = pk
            step = step_index.get(step_name)
            if step is None:
                step = step_index[step_name] = len(step_names)
                step_names.append(step_name)
            task_step.append(step)
            task_ids.append(task_id)
            labels.append(label)
            task_status.append(status)
        if number is not None:
            at_task.append(len(task_ids) - 1)
            at_number.append(number)
            at_status.append(a_status)
            at_started.append(started)
            at_finished.append(finished)
    return {
        "steps": step_names,
        "tasks": {
            "step": task_step,
            "task_id": task_ids,
            "foreach_label": labels,
            "status": task_status,
        },
        "attempts": {
            "task": at_task,
            "attempt": at_number,
            "status": at_status,
            "started_at": at_started,
            "finished_at": at_finished,
        },
    }


def run_version(conn: Connection, ref: RunRef) -> int | None:
    """The newest change event of a run: what it looked like when a cached view was made."""
    ev = s.events
    return conn.execute(
        sa.select(sa.func.max(ev.c.id)).where(
            ev.c.flow_id == ref.flow_id, ev.c.run_id == ref.run_id
        )
    ).scalar()


def events_after(
    conn: Connection,
    after_id: int,
    limit: int,
    flow_id: str | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    ev = s.events
    query = sa.select(ev).where(ev.c.id > after_id)
    if flow_id is not None and run_id is not None:
        query = query.where(ev.c.flow_id == flow_id, ev.c.run_id == run_id)
    rows = conn.execute(query.order_by(ev.c.id).limit(limit))
    return [
        {
            "id": row.id,
            "kind": row.kind,
            "flow_id": row.flow_id,
            "run_id": row.run_id,
            "step_name": row.step_name,
            "task_id": row.task_id,
            "data": row.data,
        }
        for row in rows
    ]


def event_bounds(conn: Connection) -> tuple[int, int]:
    """(oldest kept event id, newest event id); (0, 0) when there are none."""
    ev = s.events
    low, high = conn.execute(sa.select(sa.func.min(ev.c.id), sa.func.max(ev.c.id))).one()
    return int(low or 0), int(high or 0)
