"""Read-side queries: every list the API serves, keyset-paged and index-backed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowscope.store import schema as s
from flowscope.store.items import attempt_item, run_item, step_item, task_item
from flowscope.store.paging import SortKey, fetch_page
from flowscope.store.runs_list import RUN_COLUMNS, RunFilters, page_of_runs

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


# A flow's newest runs, asked once per flow on a page of flows: one statement built once,
# since building fifty of them cost more than running them (SQLAlchemy's per-statement
# construction and cache-key work was half of /flows' time).
RECENT_FIELDS = ("run_id", "status", "status_reason", "started_at", "duration_ms", "user")
RECENT_OF_FLOW = (
    sa.select(*(r.c[name] for name in RECENT_FIELDS))
    .where(r.c.flow_id == sa.bindparam("flow_id"))
    .order_by(r.c.started_at.desc(), r.c.pk.desc())
    .limit(RECENT_RUNS)
)


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
    rows, next_cursor = page_of_runs(conn, filters, order, limit, cursor)
    return [run_item(row._mapping) for row in rows], next_cursor


def list_flows(
    conn: Connection, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = sa.select(f.c.flow_id, f.c.run_count, f.c.last_run_pk, f.c.flow_id.label("pk"))
    # Flows page alphabetically; flow ids are unique, so they are their own tie-breaker,
    # and the cursor is the last flow id shown: any string is a position in this list.
    if cursor is not None:
        query = query.where(f.c.flow_id > cursor)
    rows = [
        dict(row._mapping) for row in conn.execute(query.order_by(f.c.flow_id).limit(limit + 1))
    ]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = str(rows[-1]["flow_id"])
    last_pks = [row["last_run_pk"] for row in rows if row["last_run_pk"] is not None]
    last_runs = {
        x.pk: run_item(x._mapping)
        for x in conn.execute(sa.select(*RUN_COLUMNS).where(r.c.pk.in_(last_pks)))
    }
    items = []
    for row in rows:
        recent = [
            dict(zip(RECENT_FIELDS, x, strict=True))
            for x in conn.execute(RECENT_OF_FLOW, {"flow_id": row["flow_id"]})
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
        sa.select(
            *RUN_COLUMNS,
            r.c.parameters,
            r.c.origin_run_id,
            r.c.task_count,
            r.c.graph,
            r.c.unreadable_tasks,
        ).where(r.c.pk == run_pk)
    ).first()
    if row is None:
        return None
    item = run_item(row._mapping)
    item["parameters"] = orjson.loads(row.parameters) if row.parameters else {}
    item["origin_run_id"] = row.origin_run_id
    item["task_count"] = row.task_count
    item["step_counts"] = step_counts(conn, run_pk)
    item["unreadable_tasks"] = row.unreadable_tasks
    graph = orjson.loads(row.graph) if row.graph else {}
    item["script_name"] = graph.get("file") if isinstance(graph.get("file"), str) else None
    return item


STEP_STATUSES = ("pending", "running", "completed", "failed", "skipped")


def step_counts(conn: Connection, run_pk: int) -> dict[str, int]:
    """The run's steps by status; steps that never ran (skipped) are counted apart."""
    counts = dict.fromkeys(STEP_STATUSES, 0)
    for status, n in conn.execute(
        sa.select(st.c.status, sa.func.count()).where(st.c.run_pk == run_pk).group_by(st.c.status)
    ):
        counts[status] = counts.get(status, 0) + int(n)
    return counts


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
    foreach: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    field, descending, nullable = TASK_ORDERS[order]
    query = sa.select(*TASK_COLUMNS).where(t.c.run_pk == ref.pk)
    if step_name is not None:
        query = query.where(t.c.step_name == step_name)
    if foreach:
        # A substring of the foreach path, any case: a value (`=b`), a level (`letters[1]`).
        query = query.where(
            sa.func.lower(t.c.foreach_label).contains(foreach.lower(), autoescape=True)
        )
    if status is not None:
        query = query.where(t.c.status == status)
    rows, next_cursor = fetch_page(
        conn, query, SortKey(t.c[field], descending, nullable), t.c.pk, field, limit, cursor
    )
    return [task_item(row._mapping, ref.flow_id, ref.run_id) for row in rows], next_cursor


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
