"""Ingest-side queries: everything a source writes, one run per transaction.

A run and all its changed tasks are written in a single transaction together with the
fingerprints that say what was read, so an indexer killed at any point leaves either the
old or the new state of that run, and the next pass redoes exactly what is missing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flowscope.store import schema as s
from flowscope.store.items import attempt_record_item, run_record_item, step_item, task_record_item
from flowscope.store.records import (
    AttemptRecord,
    RunRecord,
    RunSummary,
    StepRecord,
    StepSummary,
    StoredRun,
    StoredTask,
    TaskRecord,
)
from flowscope.store.timeline_pack import worth_keeping

# A new run's first pass with this many tasks writes no event per task (see write_tasks).
QUIET_FIRST_PASS_TASKS = 1000


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class RunWriter:
    """Writes one run inside an open transaction."""

    def __init__(self, conn: Connection, source_id: int) -> None:
        self.conn = conn
        self.source_id = source_id
        self.flow_id = ""
        self.run_id = ""
        self.created = False
        # Change events, in the order they happened, written with the run (see schema.events).
        self.events: list[tuple[str, str | None, str | None, dict[str, Any]]] = []
        # Runs this transaction sealed that are big enough to keep a timeline pack of,
        # made once the transaction is in (Store.run_writer).
        self.sealed_big: list[tuple[str, str]] = []

    def _emit(
        self, kind: str, data: dict[str, Any], step: str | None = None, task: str | None = None
    ) -> None:
        self.events.append((kind, step, task, data))

    def stored_tasks(self, run_pk: int) -> dict[tuple[str, str], StoredTask]:
        t = s.tasks
        rows = self.conn.execute(
            sa.select(t.c.pk, t.c.step_name, t.c.task_id, t.c.fingerprint, t.c.status).where(
                t.c.run_pk == run_pk
            )
        )
        return {(r.step_name, r.task_id): StoredTask(r.pk, r.fingerprint, r.status) for r in rows}

    def claim_run(self, flow_id: str, run_id: str, started_at: int | None) -> int | None:
        """The run's primary key, inserting a placeholder row the first time.

        A pathspec names one run in flowscope, as in Metaflow. When another source already
        holds a run with this pathspec (two datastores holding a copy of the same run), it
        keeps it and this returns None: runs never move between sources silently. Once
        the holder prunes it (its copy was deleted), the next pass of this source claims it.
        """
        r = s.runs
        self.flow_id, self.run_id = flow_id, run_id
        found = self.conn.execute(
            sa.select(r.c.pk, r.c.source_id).where(r.c.flow_id == flow_id, r.c.run_id == run_id)
        ).first()
        if found is not None:
            return int(found.pk) if found.source_id == self.source_id else None
        self.created = True
        self._emit("run_created", {})  # filled in by write_run, once the run is known
        # The flow's run count moves in the same transaction as the run itself, so an
        # indexer killed between runs never leaves the flows list behind.
        f = s.flows
        counted = self.conn.execute(
            sa.update(f).where(f.c.flow_id == flow_id).values(run_count=f.c.run_count + 1)
        )
        if counted.rowcount == 0:
            self.conn.execute(sa.insert(f).values(flow_id=flow_id, run_count=1))
        result = self.conn.execute(
            sa.insert(r).values(
                source_id=self.source_id,
                flow_id=flow_id,
                run_id=run_id,
                status="running",
                started_at=started_at,
                tags="[]",
                system_tags="[]",
                task_count=0,
                sealed=False,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def stored_graph(self, run_pk: int) -> dict[str, Any] | None:
        graph = self.conn.execute(sa.select(s.runs.c.graph).where(s.runs.c.pk == run_pk)).scalar()
        return orjson.loads(graph) if graph else None

    def write_tasks(
        self,
        run_pk: int,
        changed: Sequence[TaskRecord],
        stored: dict[tuple[str, str], StoredTask],
    ) -> None:
        t, a = s.tasks, s.attempts
        by_task: dict[tuple[str, str], int] = {}
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        for task in changed:
            row = task_columns(task)
            known = stored.get((task.step_name, task.task_id))
            if known is None:
                inserts.append({**row, "run_pk": run_pk})
            else:
                updates.append({**row, "b_pk": known.pk})
                by_task[(task.step_name, task.task_id)] = known.pk
        old_attempts: dict[int, dict[int, str]] = {}
        for chunk in _chunks([u["b_pk"] for u in updates], 500):
            for old in self.conn.execute(
                sa.select(a.c.task_pk, a.c.attempt, a.c.status).where(a.c.task_pk.in_(chunk))
            ):
                old_attempts.setdefault(old.task_pk, {})[old.attempt] = old.status
        # A run new to the index whose first pass brings thousands of tasks (a big run
        # found finished, or first seen far along): no view can have been following tasks
        # of a run the index did not have, so they come with its run_created alone, as in
        # the bulk sync (store/bulk.py). At 100,000 tasks their events cost the first
        # index more time and memory than the tasks themselves.
        if self.created and len(changed) >= QUIET_FIRST_PASS_TASKS:
            changed_events: Sequence[TaskRecord] = ()
        else:
            changed_events = changed
        for task in changed_events:
            known = stored.get((task.step_name, task.task_id))
            item = task_record_item(task, self.flow_id, self.run_id)
            if known is None:
                self._emit("task_created", item, task.step_name, task.task_id)
            elif known.status != task.status:
                self._emit("task_status", item, task.step_name, task.task_id)
            before = old_attempts.get(known.pk, {}) if known else {}
            for attempt in task.attempts:
                if before.get(attempt.attempt) != attempt.status:
                    self._emit(
                        "attempt_status",
                        {
                            "flow_id": self.flow_id,
                            "run_id": self.run_id,
                            "step_name": task.step_name,
                            "task_id": task.task_id,
                            **attempt_record_item(attempt),
                        },
                        task.step_name,
                        task.task_id,
                    )
        if updates:
            columns = [k for k in updates[0] if k != "b_pk"]
            self.conn.execute(
                sa.update(t)
                .where(t.c.pk == sa.bindparam("b_pk"))
                .values({k: sa.bindparam(k) for k in columns}),
                updates,
            )
            for chunk in _chunks([u["b_pk"] for u in updates], 500):
                self.conn.execute(sa.delete(a).where(a.c.task_pk.in_(chunk)))
        if inserts:
            result = self.conn.execute(
                sa.insert(t).returning(t.c.pk, sort_by_parameter_order=True), inserts
            )
            for row, pk in zip(inserts, result.scalars(), strict=True):
                by_task[(str(row["step_name"]), str(row["task_id"]))] = int(pk)
        attempt_rows = [
            {"task_pk": by_task[(task.step_name, task.task_id)], **attempt_columns(at)}
            for task in changed
            for at in task.attempts
        ]
        if attempt_rows:
            self.conn.execute(sa.insert(a), attempt_rows)

    def delete_tasks(self, pks: Iterable[int]) -> None:
        pk_list = list(pks)
        for chunk in _chunks(pk_list, 500):
            self.conn.execute(sa.delete(s.attempts).where(s.attempts.c.task_pk.in_(chunk)))
            self.conn.execute(sa.delete(s.tasks).where(s.tasks.c.pk.in_(chunk)))

    def summarize(self, run_pk: int) -> RunSummary:
        """Aggregate every task of the run in SQL (index-backed, no rows shipped)."""
        t = s.tasks
        rows = self.conn.execute(
            sa.select(
                t.c.step_name,
                t.c.status,
                t.c.status_reason,
                sa.func.count(),
                sa.func.min(t.c.started_at),
                sa.func.max(t.c.finished_at),
                # Tasks whose exception @catch caught are failed yet let the run go on.
                sa.func.max(sa.case((t.c.caught == sa.false(), t.c.attempt), else_=None)),
                sa.func.sum(sa.case((t.c.caught == sa.true(), 1), else_=0)),
                sa.func.sum(sa.case((t.c.unreadable == sa.true(), 1), else_=0)),
            )
            .where(t.c.run_pk == run_pk)
            .group_by(t.c.step_name, t.c.status, t.c.status_reason)
        )
        steps: dict[str, StepSummary] = {}
        reasons: set[str] = set()
        total = 0
        unreadable = 0
        last_finished: int | None = None
        for step_name, status, reason, count, started, finished, attempt, caught, bad in rows:
            unreadable += int(bad or 0)
            summary = steps.setdefault(
                step_name,
                StepSummary(
                    step_name,
                    {"pending": 0, "running": 0, "completed": 0, "failed": 0},
                    None,
                    None,
                    set(),
                ),
            )
            summary.counts[status] = summary.counts.get(status, 0) + int(count)
            summary.caught += int(caught or 0)
            if started is not None:
                summary.started_at = (
                    started if summary.started_at is None else min(summary.started_at, started)
                )
            if finished is not None:
                summary.finished_at = (
                    finished if summary.finished_at is None else max(summary.finished_at, finished)
                )
                last_finished = finished if last_finished is None else max(last_finished, finished)
            if status == "failed" and reason:
                reasons.add(reason)
                summary.failure_reasons.add(reason)
            if status == "failed" and reason == "error" and attempt is not None:
                summary.max_error_attempt = max(summary.max_error_attempt or 0, int(attempt))
            total += int(count)
        first = self.conn.execute(
            sa.select(t.c.step_name, t.c.task_id)
            .where(t.c.run_pk == run_pk, t.c.status == "failed", t.c.finished_at.is_not(None))
            .order_by(t.c.finished_at, t.c.pk)
            .limit(1)
        ).first()
        return RunSummary(
            steps=steps,
            task_count=total,
            failure_reasons=reasons,
            first_failure=(first.step_name, first.task_id) if first else None,
            last_finished_at=last_finished,
            unreadable_tasks=unreadable,
        )

    def write_steps(self, run_pk: int, steps: Sequence[StepRecord]) -> None:
        st = s.steps
        before = {
            row.step_name: (row.status, row.pending, row.running, row.completed, row.failed)
            for row in self.conn.execute(
                sa.select(
                    st.c.step_name,
                    st.c.status,
                    st.c.pending,
                    st.c.running,
                    st.c.completed,
                    st.c.failed,
                ).where(st.c.run_pk == run_pk)
            )
        }
        for step in steps:
            now = (step.status, step.pending, step.running, step.completed, step.failed)
            if before.get(step.step_name) != now:
                self._emit(
                    "step_status",
                    {"flow_id": self.flow_id, "run_id": self.run_id, **step_item(vars(step))},
                    step.step_name,
                )
        self.conn.execute(sa.delete(s.steps).where(s.steps.c.run_pk == run_pk))
        if steps:
            self.conn.execute(
                sa.insert(s.steps),
                [{"run_pk": run_pk, **vars(step)} for step in steps],
            )

    def write_run(self, run_pk: int, run: RunRecord) -> None:
        if worth_keeping(run.sealed, run.task_count):
            self.sealed_big.append((run.flow_id, run.run_id))
        values = run_columns(run)
        del values["flow_id"], values["run_id"]  # the row's identity, set when it was claimed
        # A pass that could not read them keeps what the row has.
        for kept in ("graph", "parameters"):
            if values[kept] is None:
                del values[kept]
        values["source_id"] = self.source_id
        before = self.conn.execute(
            sa.select(
                s.runs.c.status,
                s.runs.c.status_reason,
                s.runs.c.tags,
                s.runs.c.caught_count,
                s.runs.c.current_steps,
            ).where(s.runs.c.pk == run_pk)
        ).first()
        self.conn.execute(sa.update(s.runs).where(s.runs.c.pk == run_pk).values(values))
        self._write_tags(run_pk, run.flow_id, run.tags, run.system_tags, run.started_at)
        f = s.flows
        self.conn.execute(
            sa.update(f)
            .where(
                f.c.flow_id == run.flow_id,
                sa.or_(f.c.last_started_at.is_(None), f.c.last_started_at <= run.started_at),
            )
            .values(last_run_pk=run_pk, last_started_at=run.started_at)
        )
        item = run_record_item(run)
        if self.created:
            self.events = [
                (kind, step, task, item if kind == "run_created" else data)
                for kind, step, task, data in self.events
            ]
        elif before is not None:
            # Where a running run is, and the failures it went on past, are part of what
            # its status says in the lists (issue 9).
            if (
                before.status,
                before.status_reason,
                before.caught_count,
                before.current_steps,
            ) != (run.status, run.status_reason, run.caught_count, values["current_steps"]):
                self._emit("run_status", item)
            if before.tags != values["tags"]:
                self._emit("run_tags", item)
        self._flush_events()

    def _flush_events(self) -> None:
        if not self.events:
            return
        now = int(time.time() * 1000)
        self.conn.execute(
            sa.insert(s.events),
            [
                {
                    "ts": now,
                    "kind": kind,
                    "flow_id": self.flow_id,
                    "run_id": self.run_id,
                    "step_name": step,
                    "task_id": task,
                    "data": _json(data),
                }
                for kind, step, task, data in self.events
            ],
        )
        self.events = []

    def _write_tags(
        self,
        run_pk: int,
        flow_id: str,
        tags: list[str],
        system_tags: list[str],
        started_at: int | None,
    ) -> None:
        rt = s.run_tags
        wanted = tag_rows(run_pk, flow_id, tags, system_tags, started_at)
        have = {
            row.tag: (row.is_system, row.started_at)
            for row in self.conn.execute(
                sa.select(rt.c.tag, rt.c.is_system, rt.c.started_at).where(rt.c.run_pk == run_pk)
            )
        }
        if have == {row["tag"]: (row["is_system"], started_at) for row in wanted}:
            return
        self.conn.execute(sa.delete(rt).where(rt.c.run_pk == run_pk))
        if wanted:
            self.conn.execute(sa.insert(rt), wanted)


def run_columns(run: RunRecord) -> dict[str, Any]:
    """A run record as the columns of its `runs` row (all but its key and source): the
    one mapping, for the per-run writer and the bulk insert alike."""
    return {
        "flow_id": run.flow_id,
        "run_id": run.run_id,
        "user": run.user,
        "status": run.status,
        "status_reason": run.status_reason,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_ms": run.duration_ms,
        "tags": _json(run.tags),
        "system_tags": _json(run.system_tags),
        "project": run.project,
        "branch": run.branch,
        "parameters": _json(run.parameters) if run.parameters is not None else None,
        "graph": _json(run.graph) if run.graph is not None else None,
        "origin_run_id": run.origin_run_id,
        "ds_type": run.ds_type,
        "ds_root": run.ds_root,
        "first_failure_step": run.first_failure_step,
        "first_failure_task": run.first_failure_task,
        "task_count": run.task_count,
        "caught_count": run.caught_count,
        "current_steps": _json(run.current_steps),
        "unreadable_tasks": run.unreadable_tasks,
        "last_activity_at": run.last_activity_at,
        "fingerprint": run.fingerprint,
        "sealed": run.sealed,
    }


def task_columns(task: TaskRecord) -> dict[str, Any]:
    """A task record as the columns of its `tasks` row (all but its key and run)."""
    return {
        "step_name": task.step_name,
        "task_id": task.task_id,
        "task_key": task.task_key,
        "status": task.status,
        "status_reason": task.status_reason,
        "caught": task.caught,
        "attempt": task.attempt,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "duration_ms": task.duration_ms,
        "foreach_label": task.foreach_label,
        "fingerprint": task.fingerprint,
        "unreadable": task.unreadable,
    }


def attempt_columns(attempt: AttemptRecord) -> dict[str, Any]:
    """An attempt record as the columns of its `attempts` row (all but its task)."""
    return {
        "attempt": attempt.attempt,
        "status": attempt.status,
        "status_reason": attempt.status_reason,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
    }


def tag_rows(
    run_pk: int, flow_id: str, tags: list[str], system_tags: list[str], started_at: int | None
) -> list[dict[str, Any]]:
    """A run's rows of `run_tags`. A tag the user set is a user tag even when it is also
    a system tag."""
    wanted = {tag: tag not in tags for tag in (*tags, *system_tags)}
    return [
        {
            "run_pk": run_pk,
            "tag": tag,
            "is_system": is_system,
            "started_at": started_at,
            "flow_id": flow_id,
        }
        for tag, is_system in wanted.items()
    ]


def stored_runs(conn: Connection, source_id: int) -> dict[tuple[str, str], StoredRun]:
    return _stored(conn.execute(_stored_select().where(s.runs.c.source_id == source_id)))


def stored_runs_of(
    conn: Connection, source_id: int, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StoredRun]:
    r = s.runs
    found: dict[tuple[str, str], StoredRun] = {}
    for flow_id, run_ids in by_flow(keys):
        rows = conn.execute(
            _stored_select()
            .add_columns(r.c.source_id)
            .where(r.c.flow_id == flow_id, r.c.run_id.in_(run_ids))
        )
        found.update(_stored(row for row in rows if row.source_id == source_id))
    return found


def unsealed_runs(conn: Connection, source_id: int) -> list[tuple[str, str]]:
    r = s.runs
    rows = conn.execute(
        sa.select(r.c.flow_id, r.c.run_id).where(r.c.source_id == source_id, r.c.sealed.is_(False))
    )
    return [(row.flow_id, row.run_id) for row in rows]


def _stored_select() -> sa.Select[Any]:
    r = s.runs
    return sa.select(
        r.c.pk,
        r.c.flow_id,
        r.c.run_id,
        r.c.fingerprint,
        r.c.sealed,
        r.c.status,
        r.c.graph.is_not(None).label("has_graph"),
    )


def _stored(rows: Iterable[Any]) -> dict[tuple[str, str], StoredRun]:
    return {
        (row.flow_id, row.run_id): StoredRun(
            row.pk, row.fingerprint, bool(row.sealed), row.status, bool(row.has_graph)
        )
        for row in rows
    }


def by_flow(keys: Sequence[tuple[str, str]], chunk: int = 500) -> Iterator[tuple[str, list[str]]]:
    """Run ids grouped by flow, at most `chunk` at a time (bounded IN lists). The lookups
    go by (flow, run id) alone, the unique index's key: with the source in the WHERE
    clause, SQLite chose the (source, sealed) index and read every run of the source, and
    a list of (flow, run id) pairs it reads as a table of constants, scanning every run."""
    grouped: dict[str, list[str]] = {}
    for flow_id, run_id in keys:
        grouped.setdefault(flow_id, []).append(run_id)
    for flow_id, run_ids in grouped.items():
        for i in range(0, len(run_ids), chunk):
            yield flow_id, run_ids[i : i + chunk]


def run_tags(
    conn: Connection, source_id: int, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    r = s.runs
    found: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for flow_id, run_ids in by_flow(keys):
        rows = conn.execute(
            sa.select(r.c.source_id, r.c.flow_id, r.c.run_id, r.c.tags, r.c.system_tags).where(
                r.c.flow_id == flow_id, r.c.run_id.in_(run_ids)
            )
        )
        for row in rows:
            if row.source_id != source_id:
                continue
            found[(row.flow_id, row.run_id)] = (
                sorted(orjson.loads(row.tags)),
                sorted(orjson.loads(row.system_tags)),
            )
    return found


def delete_runs(conn: Connection, pks: Sequence[int]) -> None:
    r = s.runs
    flow_ids: set[str] = set()
    for chunk in _chunks(list(pks), 500):
        flow_ids.update(
            row.flow_id for row in conn.execute(sa.select(r.c.flow_id).where(r.c.pk.in_(chunk)))
        )
    for chunk in _chunks(list(pks), 200):
        task_pks = sa.select(s.tasks.c.pk).where(s.tasks.c.run_pk.in_(chunk))
        conn.execute(sa.delete(s.attempts).where(s.attempts.c.task_pk.in_(task_pks)))
        conn.execute(sa.delete(s.tasks).where(s.tasks.c.run_pk.in_(chunk)))
        conn.execute(sa.delete(s.steps).where(s.steps.c.run_pk.in_(chunk)))
        conn.execute(sa.delete(s.run_tags).where(s.run_tags.c.run_pk.in_(chunk)))
        conn.execute(sa.delete(s.timeline_packs).where(s.timeline_packs.c.run_pk.in_(chunk)))
        conn.execute(sa.delete(s.runs).where(s.runs.c.pk.in_(chunk)))
    refresh_flows(conn, flow_ids)


def refresh_flows(conn: Connection, flow_ids: Iterable[str]) -> None:
    """Recount the given flows (index-backed per flow) after their runs changed."""
    r, f = s.runs, s.flows
    for flow_id in set(flow_ids):
        count = conn.execute(sa.select(sa.func.count()).where(r.c.flow_id == flow_id)).scalar() or 0
        conn.execute(sa.delete(f).where(f.c.flow_id == flow_id))
        if not count:
            continue
        last = conn.execute(
            sa.select(r.c.pk, r.c.started_at)
            .where(r.c.flow_id == flow_id)
            .order_by(r.c.started_at.desc(), r.c.pk.desc())
            .limit(1)
        ).first()
        conn.execute(
            sa.insert(f).values(
                flow_id=flow_id,
                run_count=int(count),
                last_run_pk=last.pk if last else None,
                last_started_at=last.started_at if last else None,
            )
        )


def prune_events(conn: Connection, keep: int) -> None:
    newest = conn.execute(sa.select(sa.func.max(s.events.c.id))).scalar()
    if newest is not None and newest > keep:
        conn.execute(sa.delete(s.events).where(s.events.c.id <= newest - keep))


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
