"""The timeline of a run, at any size (issue 10).

Three reads, all in the task order `(task_key, pk)`:
- `timeline`: every task and attempt in columns (the JSON `/timeline`);
- `overview`: one aggregate per task (its step, status, attempt count, span from its
  start to its last attempt's end), for laying out and drawing every row of a 100,000-task
  run; the API packs it in a few bytes a task;
- `detail`: the attempts, task ids and foreach labels of chosen tasks, which the browser
  asks for the rows on screen (and a margin) only.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowscope.store import schema as s
from flowscope.store.reads import RunRef, run_version

t, a, st, r = s.tasks, s.attempts, s.steps, s.runs
STATUSES = ("pending", "running", "completed", "failed")
DETAIL_LIMIT = 2000  # tasks per detail request
# Task ids the browser can hold as numbers exactly (2**53); others are sent as strings.
NUMERIC_IDS = 2**53


@dataclass
class Overview:
    """Per-task columns; `start`/`end` are None where unknown (not started, still going)."""

    steps: list[str]
    step: array = field(default_factory=lambda: array("H"))
    status: array = field(default_factory=lambda: array("B"))
    attempts: array = field(default_factory=lambda: array("B"))
    caught: array = field(default_factory=lambda: array("B"))
    # Numeric task ids as numbers; any other id is -1 here and spelled out in string_ids.
    task_id: array = field(default_factory=lambda: array("q"))
    string_ids: dict[int, str] = field(default_factory=dict)
    start: list[int | None] = field(default_factory=list)
    end: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.status)


@dataclass(frozen=True)
class TaskSelector:
    """Tasks of one step: one task id, or every numeric id from `low` to `high`."""

    step_name: str
    task_id: str | None = None
    low: int | None = None
    high: int | None = None


def _step_names(conn: Connection, ref: RunRef) -> list[str]:
    return [
        row.step_name
        for row in conn.execute(
            sa.select(st.c.step_name)
            .where(st.c.run_pk == ref.pk)
            .order_by(st.c.position, st.c.step_name)
        )
    ]


def timeline(conn: Connection, ref: RunRef) -> dict[str, Any]:
    """Every task and attempt of a run in columns: compact enough for 100,000 tasks.

    One ordered pass over tasks joined with their attempts, read as plain tuples: row
    objects cost more than the query at this size.
    """
    step_names = _step_names(conn, ref)
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


def overview(conn: Connection, ref: RunRef) -> Overview:
    """One pass over the run's tasks (no attempts: a task row knows its span and count).

    Read through the driver's cursor as plain tuples and turned into columns by
    transposing them (C loops): at 100,000 tasks, per-row work in Python (SQLAlchemy's
    row processing, a loop of appends) would cost more than the query itself. The
    database already answers with numbers where it can (a step's position, a status
    code, no task id where it is the numeric key), so that few objects are made a row."""
    steps = _step_names(conn, ref)
    rows = _raw_rows(conn, _overview_query(ref, steps))
    if any(row[0] == UNKNOWN_STEP for row in rows):  # a step with no row (yet)
        present = conn.execute(
            sa.select(t.c.step_name).where(t.c.run_pk == ref.pk).group_by(t.c.step_name)
        )
        steps += sorted({name for (name,) in present} - set(steps))
        rows = _raw_rows(conn, _overview_query(ref, steps))
    out = Overview(steps)
    if not rows:
        return out
    step, status, attempt, caught, keys, ids, started, finished = zip(*rows, strict=True)
    out.step = array("H", step)
    out.status = array("B", status)
    # A pending task has no attempt yet (and nothing to draw); a running one no end.
    out.attempts = array(
        "B", (0 if c == 0 else min(255, n + 1) for c, n in zip(status, attempt, strict=True))
    )
    out.caught = array("B", map(bool, caught))
    out.task_id = array("q", keys)
    for i, task_id in enumerate(ids):
        if task_id is not None:
            out.task_id[i] = -1
            out.string_ids[i] = task_id
    out.start = [None if c == 0 else v for c, v in zip(status, started, strict=True)]
    out.end = [None if c < 2 else v for c, v in zip(status, finished, strict=True)]
    return out


UNKNOWN_STEP = 65535


def _overview_query(ref: RunRef, steps: list[str]) -> sa.Select[Any]:
    return (
        sa.select(
            sa.case(
                {name: i for i, name in enumerate(steps)}, value=t.c.step_name, else_=UNKNOWN_STEP
            ),
            sa.case({name: i for i, name in enumerate(STATUSES)}, value=t.c.status, else_=0),
            t.c.attempt,
            t.c.caught,
            t.c.task_key,
            # The id where it is not the key spelled in digits (a string id, or a key too
            # big for the browser), else nothing.
            sa.case(
                (
                    sa.and_(
                        t.c.task_key < NUMERIC_IDS,
                        t.c.task_id == sa.cast(t.c.task_key, sa.String),
                    ),
                    sa.null(),
                ),
                else_=t.c.task_id,
            ),
            t.c.started_at,
            t.c.finished_at,
        )
        .where(t.c.run_pk == ref.pk)
        .order_by(t.c.task_key, t.c.pk)
    )


def _raw_rows(conn: Connection, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """`query`'s rows as the driver gives them: tuples, no result processing."""
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.params
    if compiled.positiontup is not None:  # SQLite's qmark style
        bound: Any = tuple(params[name] for name in compiled.positiontup)
    else:
        bound = params
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(compiled.string, bound)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def detail(
    conn: Connection, ref: RunRef, selectors: Sequence[TaskSelector]
) -> list[dict[str, Any]]:
    """Task ids, labels and attempts of the selected tasks (at most DETAIL_LIMIT)."""
    conditions = []
    for sel in selectors:
        if sel.task_id is not None:
            conditions.append(sa.and_(t.c.step_name == sel.step_name, t.c.task_id == sel.task_id))
        else:
            conditions.append(
                sa.and_(t.c.step_name == sel.step_name, t.c.task_key.between(sel.low, sel.high))
            )
    if not conditions:
        return []
    rows = conn.execute(
        sa.select(t.c.pk, t.c.step_name, t.c.task_id, t.c.foreach_label)
        .where(t.c.run_pk == ref.pk, sa.or_(*conditions))
        .order_by(t.c.task_key, t.c.pk)
        .limit(DETAIL_LIMIT)
    ).all()
    by_pk: dict[int, dict[str, Any]] = {}
    items = []
    for row in rows:
        item = {
            "step_name": row.step_name,
            "task_id": row.task_id,
            "foreach_label": row.foreach_label,
            "attempts": [],
        }
        by_pk[row.pk] = item
        items.append(item)
    pks = list(by_pk)
    for i in range(0, len(pks), 500):
        for at in conn.execute(
            sa.select(a.c.task_pk, a.c.attempt, a.c.status, a.c.started_at, a.c.finished_at)
            .where(a.c.task_pk.in_(pks[i : i + 500]))
            .order_by(a.c.task_pk, a.c.attempt)
        ):
            by_pk[at.task_pk]["attempts"].append(
                {
                    "attempt": at.attempt,
                    "status": at.status,
                    "started_at": at.started_at,
                    "finished_at": at.finished_at,
                }
            )
    return items


def version(conn: Connection, ref: RunRef) -> str:
    """Changes whenever anything the timeline shows changes: its ETag."""
    row = conn.execute(
        sa.select(r.c.status, r.c.task_count, r.c.last_activity_at, r.c.finished_at).where(
            r.c.pk == ref.pk
        )
    ).one()
    raw = f"{ref.pk}:{run_version(conn, ref)}:{tuple(row)}"
    return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()
