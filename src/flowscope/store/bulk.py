"""Many new runs in one transaction: the first sync of a large archive.

The per-run writer (`writes.RunWriter`) reads what it replaces and emits an event per
task, which is right for a run that changes under a user's eyes and far too slow for a
million runs that are new to the index. Here runs the index has never seen are inserted
in batches of multi-row statements; only run-level events are written (`run_created`),
since nobody can be watching a run's tasks before the run existed.

The rows are built apart from the transaction that writes them (`prepare`, a
`NewRuns`): a sync builds them in the worker processes that assembled the runs, and
hands plain tuples to the one process that writes, which is the sync's bottleneck (a
batch of records took that process longer to unpickle than the tuples take to insert).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowscope.store import schema as s
from flowscope.store import search
from flowscope.store.items import run_record_item
from flowscope.store.records import WholeRun
from flowscope.store.timeline_pack import worth_keeping
from flowscope.store.writes import (
    attempt_columns,
    by_flow,
    run_columns,
    tag_rows,
    task_columns,
)

# The tables a batch of new runs writes to.
TABLES = (s.runs, s.tasks, s.attempts, s.steps, s.run_tags, s.events, s.flows)
RUN_COLUMNS = (
    "flow_id",
    "run_id",
    "user",
    "status",
    "status_reason",
    "started_at",
    "finished_at",
    "duration_ms",
    "tags",
    "system_tags",
    "project",
    "branch",
    "parameters",
    "graph",
    "origin_run_id",
    "ds_type",
    "ds_root",
    "first_failure_step",
    "first_failure_task",
    "task_count",
    "caught_count",
    "current_steps",
    "unreadable_tasks",
    "last_activity_at",
    "fingerprint",
    "sealed",
)
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
TAG_COLUMNS = ("run_pk", "tag", "is_system", "started_at", "flow_id")
EVENT_COLUMNS = ("ts", "kind", "flow_id", "run_id", "step_name", "task_id", "data")
_STARTED = RUN_COLUMNS.index("started_at")
_TASK_COUNT = RUN_COLUMNS.index("task_count")


@dataclass
class NewRuns:
    """Runs as the rows of their tables, not yet keyed. Each child row starts with the
    position of its run (or, for attempts, of its task in `tasks`) in this batch, which
    becomes a key when the batch is written."""

    keys: list[tuple[str, str]] = field(default_factory=list)  # (flow, run id)
    runs: list[tuple[Any, ...]] = field(default_factory=list)  # RUN_COLUMNS
    created: list[str] = field(default_factory=list)  # each run's run_created data
    packable: list[bool] = field(default_factory=list)  # its timeline pack is kept
    tasks: list[tuple[Any, ...]] = field(default_factory=list)  # TASK_COLUMNS
    attempts: list[tuple[Any, ...]] = field(default_factory=list)  # ATTEMPT_COLUMNS
    steps: list[tuple[Any, ...]] = field(default_factory=list)  # STEP_COLUMNS
    tags: list[tuple[Any, ...]] = field(default_factory=list)  # TAG_COLUMNS

    def __len__(self) -> int:
        return len(self.keys)

    def task_count(self, position: int) -> int:
        return int(self.runs[position][_TASK_COUNT] or 0)


def prepare(wholes: Sequence[WholeRun]) -> NewRuns:
    """The rows of these runs, in this order."""
    new = NewRuns()
    for at, whole in enumerate(wholes):
        run = whole.run
        new.keys.append((run.flow_id, run.run_id))
        new.runs.append(_in_order(run_columns(run), RUN_COLUMNS))
        new.created.append(orjson.dumps(run_record_item(run)).decode())
        new.packable.append(worth_keeping(run.sealed, run.task_count))
        for task in whole.tasks:
            task_at = len(new.tasks)
            new.tasks.append((at, *_in_order(task_columns(task), TASK_COLUMNS[1:])))
            new.attempts.extend(
                (task_at, *_in_order(attempt_columns(a), ATTEMPT_COLUMNS[1:]))
                for a in task.attempts
            )
        new.steps.extend((at, *_in_order(vars(step), STEP_COLUMNS[1:])) for step in whole.steps)
        new.tags.extend(
            (at, *_in_order(row, TAG_COLUMNS[1:]))
            for row in tag_rows(at, run.flow_id, run.tags, run.system_tags, run.started_at)
        )
    return new


def _in_order(columns: dict[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(columns[name] for name in names)


def insert_new_runs(
    conn: Connection, source_id: int, new: NewRuns, only: Collection[int] | None = None
) -> list[int]:
    """Insert the runs of `new` (those at the positions `only`, if given) whose pathspec
    the index does not hold yet; return the positions written.

    A run already present (from this source or another) is left alone: the caller writes
    changed runs through the per-run writer.
    """
    wanted = range(len(new)) if only is None else sorted(only)
    if conn.dialect.name == "postgresql":
        # The planner would look run ids up in the trigram index (it answers `=` too, and
        # its cost is underestimated while it grows): 100-200 ms a lookup instead of well
        # under one through the unique index. A GIN index is read only by bitmap scans.
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    present = _present(conn, [new.keys[at] for at in wanted])
    fresh = [at for at in wanted if new.keys[at] not in present]
    if not fresh:
        return []
    now = int(time.time() * 1000)
    # The events go first. On SQLite the transaction's first write takes the database's
    # write lock, so the keys reserved next cannot be taken by another writer meanwhile.
    _insert_many(
        conn,
        s.events,
        EVENT_COLUMNS,
        [(now, "run_created", *new.keys[at], None, None, new.created[at]) for at in fresh],
    )
    keys = _reserve_keys(conn, s.runs, len(fresh))
    run_pk = dict(zip(fresh, keys, strict=True))
    with search.filled_after(conn, min(keys), max(keys)):
        _insert_many(
            conn,
            s.runs,
            ("pk", "source_id", *RUN_COLUMNS),
            [(run_pk[at], source_id, *new.runs[at]) for at in fresh],
        )
    tasks = [(at, row) for at, row in enumerate(new.tasks) if row[0] in run_pk]
    task_pk = dict(
        zip((at for at, _ in tasks), _reserve_keys(conn, s.tasks, len(tasks)), strict=True)
    )
    _insert_many(
        conn,
        s.tasks,
        ("pk", *TASK_COLUMNS),
        [(task_pk[at], run_pk[row[0]], *row[1:]) for at, row in tasks],
    )
    _insert_many(conn, s.attempts, ATTEMPT_COLUMNS, _keyed(new.attempts, task_pk))
    _insert_many(conn, s.steps, STEP_COLUMNS, _keyed(new.steps, run_pk))
    _insert_many(conn, s.run_tags, TAG_COLUMNS, _keyed(new.tags, run_pk))
    _count_flows(conn, [(new.keys[at][0], new.runs[at][_STARTED], run_pk[at]) for at in fresh])
    return fresh


def _keyed(rows: list[tuple[Any, ...]], pk_of: dict[int, int]) -> list[tuple[Any, ...]]:
    """Rows whose leading position is replaced by the key it was given; rows of runs or
    tasks not written are left out."""
    return [(pk_of[row[0]], *row[1:]) for row in rows if row[0] in pk_of]


def _reserve_keys(conn: Connection, table: sa.Table, count: int) -> list[int]:
    """`count` unused primary keys of `table`, given to rows inserted in this
    transaction (reading inserted rows back to learn their keys cost more than writing
    them)."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        return list(
            conn.execute(
                sa.text(
                    f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'pk')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            ).scalars()
        )
    # What SQLite would give (the largest key plus one); this transaction holds the
    # write lock (see insert_new_runs), so no other writer takes these before it commits.
    top = conn.execute(sa.select(sa.func.max(table.c.pk))).scalar() or 0
    return list(range(top + 1, top + 1 + count))


def _insert_many(
    conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Plain rows straight to the driver: COPY on PostgreSQL, executemany on SQLite. At a
    million runs, building SQLAlchemy parameters per row costs more than the database."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        statement = f'COPY "{table.name}" ({names}) FROM STDIN'
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        driver_error = conn.dialect.loaded_dbapi.Error
        try:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except driver_error as exc:
            # As SQLAlchemy would have raised it (an IntegrityError for a duplicate run),
            # so that callers see one kind of error from both databases.
            raise sa.exc.DBAPIError.instance(statement, None, exc, driver_error) from exc
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', list(rows))


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


def _count_flows(conn: Connection, written: Sequence[tuple[str, int | None, int]]) -> None:
    """Each flow's run count and newest run move with its runs, in the same transaction.
    `written`: (flow, start, key) of each run inserted."""
    f = s.flows
    per_flow: dict[str, list[tuple[int | None, int]]] = defaultdict(list)
    for flow_id, started_at, pk in written:
        per_flow[flow_id].append((started_at, pk))
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
