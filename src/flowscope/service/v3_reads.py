"""Reading a metaflow-service database: every query flowscope runs against the v3 tables
when it follows them as a source. Read-only: nothing here writes.

Rows come back as small typed records. Ids are exposed as the service exposes them: a
run's id is its string `run_id` when it has one, else its `run_number`; a task's is its
`task_name`, else its `task_id` (metaflow-service's `get_exposed_run_id`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from flowscope.service.v3_schema import (
    V3_TABLES,
    artifact_v3,
    metadata_v3,
    runs_v3,
    tasks_v3,
)

RunKey = tuple[str, int]  # (flow_id, run_number)
# Metadata that decides statuses and labels, aggregated per attempt (`attempts_of`);
# the rest is read on demand (task pages).
ATTEMPT_FIELDS = (
    "attempt",
    "attempt-done",
    "attempt_ok",
    "foreach-stack",
    "foreach-execution-path",
)
# Artifacts the index needs: the outcome when `attempt_ok` is missing, @catch's verdict,
# and (of the `_parameters` task) the graph.
STATUS_ARTIFACTS = ("_task_ok", "_success", "_graph_info")
# Queries name at most this many runs at once (bound parameters stay well under limits).
KEYS_PER_QUERY = 500


class V3Run(NamedTuple):
    flow_id: str
    run_number: int
    run_id: str | None
    user_name: str | None
    ts_epoch: int
    tags: list[str]
    system_tags: list[str]
    last_heartbeat_ts: int | None  # epoch seconds

    @property
    def key(self) -> RunKey:
        return (self.flow_id, self.run_number)

    @property
    def exposed_id(self) -> str:
        return self.run_id or str(self.run_number)


class V3Task(NamedTuple):
    flow_id: str
    run_number: int
    step_name: str
    task_id: int
    task_name: str | None
    ts_epoch: int
    last_heartbeat_ts: int | None  # epoch seconds

    @property
    def exposed_id(self) -> str:
        return self.task_name or str(self.task_id)


class V3Metadata(NamedTuple):
    id: int
    flow_id: str
    run_number: int
    step_name: str
    task_id: int
    field_name: str
    value: str
    type: str | None
    ts_epoch: int
    attempt: int | None  # from the `attempt_id:N` tag


class V3Artifact(NamedTuple):
    flow_id: str
    run_number: int
    step_name: str
    task_id: int
    attempt_id: int
    name: str
    sha: str | None
    ds_type: str
    location: str
    content_type: str | None


@dataclass(frozen=True)
class RunCursor:
    """Where a newest-first walk over runs_v3 stopped."""

    ts_epoch: int
    flow_id: str
    run_number: int


# ---- what is there ---------------------------------------------------------------


def has_v3_tables(engine: Engine) -> bool:
    names = set(sa.inspect(engine).get_table_names())
    return all(table.name in names for table in V3_TABLES)


def notify_triggers_exist(conn: Connection) -> bool:
    """Whether metaflow-service's UI backend installed its `notify` triggers (it does so
    with DB_TRIGGER_CREATE=1); then changes arrive by LISTEN instead of polling."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        sa.text(
            "SELECT count(DISTINCT event_object_table) FROM information_schema.triggers "
            "WHERE trigger_name LIKE 'notify_ui%' AND event_object_table IN "
            "('runs_v3', 'tasks_v3', 'metadata_v3')"
        )
    ).scalar()
    return int(found or 0) == 3


def db_now_ms(conn: Connection) -> int:
    """The database's clock: heartbeats are stamped by the service's, not ours."""
    if conn.dialect.name == "postgresql":
        query = sa.text("SELECT CAST(extract(epoch FROM now()) * 1000 AS BIGINT)")
    else:
        # julianday, not unixepoch('subsec'): that needs SQLite 3.42.
        query = sa.text("SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)")
    return int(conn.execute(query).scalar_one())


def run_count(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(runs_v3)).scalar() or 0)


# ---- runs --------------------------------------------------------------------------


def runs_newest_first(conn: Connection, before: RunCursor | None, limit: int) -> list[V3Run]:
    r = runs_v3
    query = sa.select(*_run_columns())
    if before is not None:
        query = query.where(
            sa.tuple_(r.c.ts_epoch, r.c.flow_id, r.c.run_number)
            < sa.tuple_(
                sa.literal(before.ts_epoch),
                sa.literal(before.flow_id),
                sa.literal(before.run_number),
            )
        )
    query = query.where(*_numeric_ts(conn, r))
    query = query.order_by(r.c.ts_epoch.desc(), r.c.flow_id.desc(), r.c.run_number.desc())
    return [_run(row) for row in conn.execute(query.limit(limit))]


@dataclass(frozen=True)
class RunRange:
    """The runs of a newest-first walk between two places in it: those after `before`
    (exclusive) down to `last` (inclusive); None: no bound on that side. Ranges cut at the
    same cursors cover every run exactly once, whatever is added or removed meanwhile."""

    before: RunCursor | None
    last: RunCursor | None


def range_ends(conn: Connection, size: int) -> list[RunCursor]:
    """The last run of every `size` runs newest first: where to cut the walk into ranges
    of that many runs (the database numbers the runs; Python sees one row a range)."""
    r = runs_v3
    numbered = (
        sa.select(
            r.c.ts_epoch,
            r.c.flow_id,
            r.c.run_number,
            sa.func.row_number()
            .over(order_by=(r.c.ts_epoch.desc(), r.c.flow_id.desc(), r.c.run_number.desc()))
            .label("n"),
        )
        .where(*_numeric_ts(conn, r))
        .subquery()
    )
    rows = conn.execute(
        sa.select(numbered.c.ts_epoch, numbered.c.flow_id, numbered.c.run_number)
        .where(numbered.c.n % size == 0)
        .order_by(numbered.c.n)
    )
    return [RunCursor(int(ts), flow_id, int(number)) for ts, flow_id, number in rows]


def runs_in_range(conn: Connection, span: RunRange) -> list[V3Run]:
    r = runs_v3
    key = sa.tuple_(r.c.ts_epoch, r.c.flow_id, r.c.run_number)
    query = sa.select(*_run_columns()).where(*_numeric_ts(conn, r))
    if span.before is not None:
        query = query.where(key < _cursor_tuple(span.before))
    if span.last is not None:
        query = query.where(key >= _cursor_tuple(span.last))
    query = query.order_by(r.c.ts_epoch.desc(), r.c.flow_id.desc(), r.c.run_number.desc())
    return [_run(row) for row in conn.execute(query)]


def _cursor_tuple(cursor: RunCursor) -> Any:
    return sa.tuple_(
        sa.literal(cursor.ts_epoch), sa.literal(cursor.flow_id), sa.literal(cursor.run_number)
    )


def _numeric_ts(conn: Connection, table: sa.Table) -> list[sa.ColumnElement[bool]]:
    """SQLite keeps whatever was written, also text in a number column: such a run has no
    place in time, and its text would sort after every number and derail the newest-first
    walk (issue 12). PostgreSQL refuses such rows."""
    if conn.dialect.name != "sqlite":
        return []
    return [sa.func.typeof(table.c.ts_epoch) == "integer"]


def runs_by_key(conn: Connection, keys: Iterable[RunKey]) -> list[V3Run]:
    found: list[V3Run] = []
    for chunk in _chunks(sorted(set(keys))):
        found.extend(
            _run(row)
            for row in conn.execute(sa.select(*_run_columns()).where(_run_in(conn, runs_v3, chunk)))
        )
    return found


def run_by_exposed_id(conn: Connection, flow_id: str, run_id: str) -> V3Run | None:
    r = runs_v3
    query = sa.select(*_run_columns()).where(r.c.flow_id == flow_id)
    if run_id.isdigit():
        query = query.where(sa.or_(r.c.run_number == int(run_id), r.c.run_id == run_id))
    else:
        query = query.where(r.c.run_id == run_id)
    row = conn.execute(query.limit(1)).first()
    return _run(row) if row is not None else None


def runs_since(conn: Connection, ts_epoch: int) -> list[V3Run]:
    """Runs recorded at or after `ts_epoch` (through the ts_epoch index)."""
    r = runs_v3
    return [
        _run(row)
        for row in conn.execute(
            sa.select(*_run_columns())
            .where(r.c.ts_epoch >= ts_epoch, *_numeric_ts(conn, r))
            .order_by(r.c.ts_epoch)
        )
    ]


def _run_columns() -> Sequence[Any]:
    r = runs_v3
    return (
        r.c.flow_id,
        r.c.run_number,
        r.c.run_id,
        r.c.user_name,
        r.c.ts_epoch,
        r.c.tags,
        r.c.system_tags,
        r.c.last_heartbeat_ts,
    )


def _run(row: Any) -> V3Run:
    return V3Run(
        flow_id=row.flow_id,
        run_number=int(row.run_number),
        run_id=row.run_id,
        user_name=row.user_name,
        ts_epoch=_int(row.ts_epoch) or 0,
        tags=_tags(row.tags),
        system_tags=_tags(row.system_tags),
        last_heartbeat_ts=_int(row.last_heartbeat_ts),
    )


def _int(value: Any) -> int | None:
    """A number column's value; None for what SQLite let someone write there instead."""
    if value is None or type(value) is int:
        return value  # type: ignore[no-any-return]
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


# ---- tasks, metadata, artifacts of some runs ---------------------------------------------


def tasks_of(conn: Connection, keys: Iterable[RunKey]) -> list[V3Task]:
    t = tasks_v3
    found: list[V3Task] = []
    for chunk in _chunks(sorted(set(keys))):
        found.extend(
            _task(row)
            for row in conn.execute(sa.select(*_task_columns()).where(_run_in(conn, t, chunk)))
        )
    return found


def tasks_by_exposed_id(conn: Connection, key: RunKey, exposed: Iterable[str]) -> list[V3Task]:
    """Some tasks of one run, by the ids the index knows them by (task_name or task_id)."""
    t = tasks_v3
    ids = sorted(set(exposed))
    numbers = [int(i) for i in ids if i.isdigit()]
    found: list[V3Task] = []
    for i in range(0, len(ids), KEYS_PER_QUERY):
        names = ids[i : i + KEYS_PER_QUERY]
        wanted = [n for n in numbers if str(n) in names]
        match: sa.ColumnElement[bool] = t.c.task_name.in_(names)
        if wanted:
            match = sa.or_(match, sa.and_(t.c.task_name.is_(None), t.c.task_id.in_(wanted)))
        found.extend(
            _task(row)
            for row in conn.execute(
                sa.select(*_task_columns()).where(
                    t.c.flow_id == key[0], t.c.run_number == key[1], match
                )
            )
        )
    return found


def _task_columns() -> Sequence[Any]:
    t = tasks_v3
    return (
        t.c.flow_id,
        t.c.run_number,
        t.c.step_name,
        t.c.task_id,
        t.c.task_name,
        t.c.ts_epoch,
        t.c.last_heartbeat_ts,
    )


def _task(row: Any) -> V3Task:
    return V3Task(
        flow_id=row.flow_id,
        run_number=int(row.run_number),
        step_name=row.step_name,
        task_id=int(row.task_id),
        task_name=row.task_name,
        ts_epoch=_int(row.ts_epoch) or 0,
        last_heartbeat_ts=_int(row.last_heartbeat_ts),
    )


class V3Attempt(NamedTuple):
    """One attempt of a task, from its metadata rows, aggregated by the database."""

    flow_id: str
    run_number: int
    step_name: str
    task_id: int
    attempt: int | None  # the `attempt_id:N` tag
    started_at: int | None  # the `attempt` row
    done_at: int | None  # `attempt-done`
    ok: str | None  # `attempt_ok`: "True"/"False"
    foreach_stack: str | None
    foreach_path: str | None
    newest_id: int  # the newest metadata row: what a re-read would have to look past
    newest_ts: int


class V3Origins(NamedTuple):
    """What a run's tasks record about its origin and its datastore."""

    origin_run_id: str | None
    ds_type: str | None
    ds_root: str | None


def attempts_of(
    conn: Connection, keys: Iterable[RunKey], task_ids: Iterable[int] | None = None
) -> list[V3Attempt]:
    """Every attempt of every task of the runs (or only of the given tasks of one run).

    Grouped in the database, one row an attempt: a million-run archive holds several
    metadata rows per attempt, and the database adds them up faster than Python reads them.
    """
    m = metadata_v3
    attempt = _attempt_tag(conn, m)

    def of(field: str, aggregate: Any, column: Any) -> Any:
        return aggregate(column).filter(m.c.field_name == field)

    wanted_tasks = sorted(set(task_ids)) if task_ids is not None else None
    found: list[V3Attempt] = []
    for chunk in _chunks(sorted(set(keys))):
        query = (
            sa.select(
                m.c.flow_id,
                m.c.run_number,
                m.c.step_name,
                m.c.task_id,
                attempt,
                of("attempt", sa.func.min, m.c.ts_epoch),
                of("attempt-done", sa.func.max, m.c.ts_epoch),
                of("attempt_ok", sa.func.max, m.c.value),
                of("foreach-stack", sa.func.max, m.c.value),
                of("foreach-execution-path", sa.func.max, m.c.value),
                sa.func.max(m.c.id),
                sa.func.max(m.c.ts_epoch),
            )
            .where(_run_in(conn, m, chunk), m.c.field_name.in_(ATTEMPT_FIELDS))
            .group_by(m.c.flow_id, m.c.run_number, m.c.step_name, m.c.task_id, attempt)
        )
        if wanted_tasks is not None:
            query = query.where(m.c.task_id.in_(wanted_tasks))
        found.extend(_attempt(row) for row in conn.execute(query).all())
    return found


def _attempt(row: Any) -> V3Attempt:
    attempt = V3Attempt._make(row)
    numbers = (attempt.started_at, attempt.done_at, attempt.newest_ts)
    if all(v is None or type(v) is int for v in numbers):
        return attempt  # the usual case, kept cheap: millions of rows in a big sync
    return attempt._replace(
        started_at=_int(attempt.started_at),
        done_at=_int(attempt.done_at),
        newest_ts=_int(attempt.newest_ts) or 0,
    )


def origins_of(conn: Connection, keys: Iterable[RunKey]) -> dict[RunKey, V3Origins]:
    """`origin-run-id`, `ds-type`, `ds-root` per run (every task records the same)."""
    m = metadata_v3

    def of(field: str) -> Any:
        return sa.func.max(m.c.value).filter(m.c.field_name == field)

    found: dict[RunKey, V3Origins] = {}
    for chunk in _chunks(sorted(set(keys))):
        rows = conn.execute(
            sa.select(
                m.c.flow_id, m.c.run_number, of("origin-run-id"), of("ds-type"), of("ds-root")
            )
            .where(
                _run_in(conn, m, chunk),
                m.c.field_name.in_(("origin-run-id", "ds-type", "ds-root")),
                m.c.step_name != "_parameters",
            )
            .group_by(m.c.flow_id, m.c.run_number)
        ).all()
        for flow_id, run_number, origin, ds_type, ds_root in rows:
            found[(flow_id, int(run_number))] = V3Origins(
                None if origin in (None, "None", "") else origin, ds_type, ds_root
            )
    return found


def _attempt_tag(conn: Connection, m: sa.Table) -> Any:
    """N of the row's `attempt_id:N` tag, in SQL."""
    if conn.dialect.name == "postgresql":
        found = sa.func.substring(sa.cast(m.c.tags, sa.Text), r"attempt_id:([0-9]+)")
        return sa.cast(found, sa.Integer).label("attempt")
    at = sa.func.instr(m.c.tags, "attempt_id:")
    return sa.case(
        (at > 0, sa.cast(sa.func.substr(m.c.tags, at + len("attempt_id:")), sa.Integer)),
        else_=None,
    ).label("attempt")


def task_metadata(
    conn: Connection, flow_id: str, run_number: int, step_name: str, task_id: int
) -> list[V3Metadata]:
    """Every metadata entry of one task, oldest first (a task page's Metadata tab)."""
    m = metadata_v3
    rows = conn.execute(
        sa.select(*_metadata_columns())
        .where(
            m.c.flow_id == flow_id,
            m.c.run_number == run_number,
            m.c.step_name == step_name,
            m.c.task_id == task_id,
        )
        .order_by(m.c.ts_epoch, m.c.id)
    )
    return [_metadata(row) for row in rows]


def _metadata_columns() -> Sequence[Any]:
    m = metadata_v3
    return (
        m.c.id,
        m.c.flow_id,
        m.c.run_number,
        m.c.step_name,
        m.c.task_id,
        m.c.field_name,
        m.c.value,
        m.c.type,
        m.c.ts_epoch,
        # As text: only the `attempt_id:N` tag is wanted, and millions of rows come back.
        sa.cast(m.c.tags, sa.Text).label("tags"),
    )


def _metadata(row: Any) -> V3Metadata:
    mid, flow_id, run_number, step_name, task_id, field_name, value, kind, ts, tags = row
    return V3Metadata(
        int(mid),
        flow_id,
        int(run_number),
        step_name,
        int(task_id),
        field_name,
        value,
        kind,
        _int(ts) or 0,
        _attempt_in_text(tags),
    )


def status_artifacts_of(
    conn: Connection, keys: Iterable[RunKey], task_ids: Iterable[int] | None = None
) -> list[V3Artifact]:
    a = artifact_v3
    found: list[V3Artifact] = []
    wanted_tasks = sorted(set(task_ids)) if task_ids is not None else None
    for chunk in _chunks(sorted(set(keys))):
        query = sa.select(
            a.c.flow_id,
            a.c.run_number,
            a.c.step_name,
            a.c.task_id,
            a.c.attempt_id,
            a.c.name,
            a.c.sha,
            a.c.ds_type,
            a.c.location,
            a.c.content_type,
        ).where(
            _run_in(conn, a, chunk),
            # The `_parameters` task's artifacts hold the run's parameter values.
            sa.or_(a.c.name.in_(STATUS_ARTIFACTS), a.c.step_name == "_parameters"),
        )
        if wanted_tasks is not None:
            query = query.where(a.c.task_id.in_(wanted_tasks))
        found.extend(
            V3Artifact(
                flow_id=row.flow_id,
                run_number=int(row.run_number),
                step_name=row.step_name,
                task_id=int(row.task_id),
                attempt_id=int(row.attempt_id),
                name=row.name,
                sha=row.sha,
                ds_type=row.ds_type,
                location=row.location,
                content_type=row.content_type,
            )
            for row in conn.execute(query).all()
        )
    return found


def parameter_artifacts(conn: Connection, key: RunKey) -> list[V3Artifact]:
    """Every artifact of a run's `_parameters` task (its parameters are among them)."""
    a = artifact_v3
    rows = conn.execute(
        sa.select(
            a.c.flow_id,
            a.c.run_number,
            a.c.step_name,
            a.c.task_id,
            a.c.attempt_id,
            a.c.name,
            a.c.sha,
            a.c.ds_type,
            a.c.location,
            a.c.content_type,
        ).where(a.c.flow_id == key[0], a.c.run_number == key[1], a.c.step_name == "_parameters")
    )
    return [
        V3Artifact(
            flow_id=row.flow_id,
            run_number=int(row.run_number),
            step_name=row.step_name,
            task_id=int(row.task_id),
            attempt_id=int(row.attempt_id),
            name=row.name,
            sha=row.sha,
            ds_type=row.ds_type,
            location=row.location,
            content_type=row.content_type,
        )
        for row in rows
    ]


# ---- following changes -------------------------------------------------------------


@dataclass(frozen=True)
class HighWater:
    """The newest rows seen: metadata and task ids only grow (bigserial)."""

    metadata_id: int
    task_id: int


def high_water(conn: Connection) -> HighWater:
    m, t = metadata_v3, tasks_v3
    return HighWater(
        metadata_id=int(conn.execute(sa.select(sa.func.max(m.c.id))).scalar() or 0),
        task_id=int(conn.execute(sa.select(sa.func.max(t.c.task_id))).scalar() or 0),
    )


@dataclass(frozen=True)
class Touched:
    """What changed after a high-water mark: per run, the tasks touched (None: unknown)."""

    runs: dict[RunKey, set[int]]
    mark: HighWater


def changes_after(conn: Connection, mark: HighWater, limit: int = 50_000) -> Touched:
    """Runs with new tasks or new metadata since `mark`, and the new mark."""
    m, t = metadata_v3, tasks_v3
    runs: dict[RunKey, set[int]] = {}
    newest_meta, newest_task = mark.metadata_id, mark.task_id
    for row in conn.execute(
        sa.select(m.c.id, m.c.flow_id, m.c.run_number, m.c.task_id)
        .where(m.c.id > mark.metadata_id)
        .order_by(m.c.id)
        .limit(limit)
    ):
        runs.setdefault((row.flow_id, int(row.run_number)), set()).add(int(row.task_id))
        newest_meta = max(newest_meta, int(row.id))
    for task in conn.execute(
        sa.select(t.c.task_id, t.c.flow_id, t.c.run_number)
        .where(t.c.task_id > mark.task_id)
        .order_by(t.c.task_id)
        .limit(limit)
    ):
        runs.setdefault((task.flow_id, int(task.run_number)), set()).add(int(task.task_id))
        newest_task = max(newest_task, int(task.task_id))
    return Touched(runs, HighWater(newest_meta, newest_task))


def tags_of(conn: Connection, keys: Iterable[RunKey]) -> dict[RunKey, tuple[list[str], list[str]]]:
    r = runs_v3
    found: dict[RunKey, tuple[list[str], list[str]]] = {}
    for chunk in _chunks(sorted(set(keys))):
        for row in conn.execute(
            sa.select(r.c.flow_id, r.c.run_number, r.c.tags, r.c.system_tags).where(
                _run_in(conn, r, chunk)
            )
        ):
            found[(row.flow_id, int(row.run_number))] = (_tags(row.tags), _tags(row.system_tags))
    return found


# ---- helpers -------------------------------------------------------------------------


def _run_in(conn: Connection, table: sa.Table, keys: Sequence[RunKey]) -> sa.ColumnElement[bool]:
    """`(flow_id, run_number) IN (...)`, each key one index lookup."""
    if conn.dialect.name == "postgresql":
        # The keys as two array parameters: the statement's text is then the same for
        # every batch, so neither SQLAlchemy nor psycopg prepares it again for each (with
        # the keys written into it, that was a fifth of a sync worker's time).
        pairs = sa.select(
            sa.column("flow_id", sa.String), sa.column("run_number", sa.BigInteger)
        ).select_from(
            sa.text(
                "unnest(CAST(:key_flows AS text[]), CAST(:key_numbers AS bigint[])) "
                "AS keys(flow_id, run_number)"
            ).bindparams(
                key_flows=[flow_id for flow_id, _ in keys],
                key_numbers=[number for _, number in keys],
            )
        )
        return sa.tuple_(table.c.flow_id, table.c.run_number).in_(pairs)
    # Grouped by flow, so that each part is one index range.
    by_flow: dict[str, list[int]] = {}
    for flow_id, run_number in keys:
        by_flow.setdefault(flow_id, []).append(run_number)
    return sa.or_(
        *(
            sa.and_(table.c.flow_id == flow_id, table.c.run_number.in_(numbers))
            for flow_id, numbers in by_flow.items()
        )
    )


def _chunks(keys: Sequence[RunKey]) -> Iterable[Sequence[RunKey]]:
    for i in range(0, len(keys), KEYS_PER_QUERY):
        yield keys[i : i + KEYS_PER_QUERY]


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _attempt_in_text(tags: str | None) -> int | None:
    """N of the `attempt_id:N` tag, from the tags' JSON text."""
    if not tags:
        return None
    at = tags.find("attempt_id:")
    if at < 0:
        return None
    start = end = at + len("attempt_id:")
    while end < len(tags) and tags[end].isdigit():
        end += 1
    return int(tags[start:end]) if end > start else None
