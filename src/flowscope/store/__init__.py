"""The index store: the only place in flowscope that speaks SQL.

`Store` hands out read connections to the API and one-run write transactions to the
ingest sources; SQLite and PostgreSQL run the same queries.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from flowscope.store import bulk, reads, timeline_pack, writes
from flowscope.store import schema as s
from flowscope.store import timeline as timelines
from flowscope.store.database import (
    IndexUnusable,
    create_engine,
    is_sqlite,
    migrate,
    unusable,
    write_cache,
)
from flowscope.store.paging import BadCursor
from flowscope.store.reads import RunRef
from flowscope.store.records import StoredRun
from flowscope.store.runs_list import RunFilters
from flowscope.store.writes import RunWriter

__all__ = ["BadCursor", "IndexUnusable", "RunFilters", "RunRef", "Store"]

log = logging.getLogger(__name__)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        try:
            migrate(self.engine)
        except sa.exc.DatabaseError as exc:
            self.engine.dispose()
            raise unusable(exc, url) from exc
        # Runs this store inserted in bulk, and how many it had when it last had
        # PostgreSQL's statistics brought up to date (see insert_new_runs).
        self._bulk_runs = 0
        self._bulk_runs_analyzed = 0

    def close(self) -> None:
        self.engine.dispose()

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                if self.is_sqlite:
                    with write_cache(conn):
                        yield conn
                else:
                    yield conn
        except (sa.exc.IntegrityError, sa.exc.DataError):
            raise  # about the rows being written: that run's problem, not the index's
        except sa.exc.DatabaseError as exc:
            # Full disk, read-only location, damaged file: rolled back, and no later write
            # can do better, so the pass stops (issue 12).
            raise unusable(exc, self.url) from exc

    # ---- sources and state -------------------------------------------------------

    def source_id(self, kind: str, location: str) -> int:
        with self.write() as conn:
            found = conn.execute(
                sa.select(s.sources.c.id).where(
                    s.sources.c.kind == kind, s.sources.c.location == location
                )
            ).scalar()
            if found is not None:
                return int(found)
            result = conn.execute(sa.insert(s.sources).values(kind=kind, location=location))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def stored_runs(
        self, source_id: int, keys: Sequence[tuple[str, str]] | None = None
    ) -> dict[tuple[str, str], StoredRun]:
        """A source's runs in the index: all of them, or those of `keys` (flow, run id)."""
        with self.read() as conn:
            if keys is None:
                return writes.stored_runs(conn, source_id)
            return writes.stored_runs_of(conn, source_id, keys)

    def unsealed_runs(self, source_id: int) -> list[tuple[str, str]]:
        """(flow, run id) of a source's runs that may still change."""
        with self.read() as conn:
            return writes.unsealed_runs(conn, source_id)

    def run_tags(
        self, source_id: int, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
        """(sorted user tags, sorted system tags) of the given runs of a source."""
        with self.read() as conn:
            return writes.run_tags(conn, source_id, keys)

    @contextmanager
    def run_writer(self, source_id: int) -> Iterator[RunWriter]:
        with self.write() as conn:
            writer = RunWriter(conn, source_id)
            yield writer
        self.keep_timeline_packs(writer.sealed_big)

    def insert_new_runs(
        self, source_id: int, new: bulk.NewRuns, only: Collection[int] | None = None
    ) -> list[int]:
        """Runs new to the index in one transaction (see `store.bulk`): those of `new`
        at the positions `only` (all, if None); the positions written."""
        with self.write() as conn:
            written = bulk.insert_new_runs(conn, source_id, new, only)
        self._bulk_runs += len(written)
        if not self.is_sqlite and self._bulk_runs >= 2 * self._bulk_runs_analyzed + 1000:
            # PostgreSQL plans from statistics taken while the tables were nearly empty
            # until autovacuum comes round, and a first sync grows them a thousandfold in
            # minutes, while the server already answers from them: analyzed again each
            # time they doubled.
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE " + ", ".join(t.name for t in bulk.TABLES))
            self._bulk_runs_analyzed = self._bulk_runs
        self.keep_timeline_packs(new.keys[at] for at in written if new.packable[at])
        return written

    def delete_runs(self, pks: Sequence[int]) -> None:
        with self.write() as conn:
            writes.delete_runs(conn, pks)

    def set_state(self, key: str, value: str) -> None:
        with self.write() as conn:
            conn.execute(sa.delete(s.state).where(s.state.c.key == key))
            conn.execute(sa.insert(s.state).values(key=key, value=value))

    def get_state(self, key: str) -> str | None:
        with self.read() as conn:
            return conn.execute(sa.select(s.state.c.value).where(s.state.c.key == key)).scalar()

    # ---- reads for the API -------------------------------------------------------

    def list_flows(self, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        with self.read() as conn:
            return reads.list_flows(conn, limit, cursor)

    def list_runs(
        self, filters: RunFilters, order: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self.read() as conn:
            return reads.list_runs(conn, filters, order, limit, cursor)

    def find_run(self, flow_id: str, run_id: str) -> RunRef | None:
        with self.read() as conn:
            return reads.find_run(conn, flow_id, run_id)

    def get_run(self, ref: RunRef) -> dict[str, Any] | None:
        with self.read() as conn:
            return reads.get_run(conn, ref.pk)

    def list_steps(self, ref: RunRef) -> list[dict[str, Any]]:
        with self.read() as conn:
            return reads.list_steps(conn, ref.pk)

    def step_exists(self, ref: RunRef, step_name: str) -> bool:
        with self.read() as conn:
            return reads.step_exists(conn, ref.pk, step_name)

    def list_tasks(
        self,
        ref: RunRef,
        step_name: str | None,
        status: str | None,
        order: str,
        limit: int,
        cursor: str | None,
        foreach: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self.read() as conn:
            return reads.list_tasks(conn, ref, step_name, status, order, limit, cursor, foreach)

    def get_task(self, ref: RunRef, step_name: str, task_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            return reads.get_task(conn, ref, step_name, task_id)

    def timeline(self, ref: RunRef) -> dict[str, Any]:
        with self.read() as conn:
            return timelines.timeline(conn, ref)

    def timeline_overview(self, ref: RunRef) -> timelines.Overview:
        with self.read() as conn:
            return timelines.overview(conn, ref)

    def timeline_detail(
        self, ref: RunRef, selectors: Sequence[timelines.TaskSelector]
    ) -> list[dict[str, Any]]:
        with self.read() as conn:
            return timelines.detail(conn, ref, selectors)

    def kept_timeline_pack(self, ref: RunRef, current: str) -> bytes | None:
        """A finished big run's gzipped overview pack, if kept at version `current`."""
        with self.read() as conn:
            return timeline_pack.kept_pack(conn, ref, current)

    def keep_timeline_packs(self, runs: Iterable[tuple[str, str]]) -> int:
        """Pack and keep the overview of each of these runs that is sealed and big
        (store/timeline_pack.py); how many were packed. Each is read, then written in a
        short transaction of its own: packing takes long enough to hold up other writers."""
        kept = 0
        for flow_id, run_id in runs:
            try:
                with self.read() as conn:
                    made = timeline_pack.packed_for_keeping(conn, flow_id, run_id)
                if made is not None:
                    with self.write() as conn:
                        timeline_pack.keep_pack(conn, *made)
                    kept += 1
            except IndexUnusable:
                raise  # no later write can do better either
            except Exception:
                # A pack only saves building the overview when it is asked for; the run
                # itself was written and committed before this, and must not fail with it.
                log.exception("could not keep the timeline overview of %s/%s", flow_id, run_id)
        return kept

    def timeline_version(self, ref: RunRef) -> str:
        with self.read() as conn:
            return timelines.version(conn, ref)

    def run_version(self, ref: RunRef) -> int | None:
        with self.read() as conn:
            return reads.run_version(conn, ref)

    # ---- change events (live updates) -----------------------------------------------

    def events_after(
        self, after_id: int, limit: int, flow_id: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        with self.read() as conn:
            return reads.events_after(conn, after_id, limit, flow_id, run_id)

    def event_bounds(self) -> tuple[int, int]:
        with self.read() as conn:
            return reads.event_bounds(conn)

    def prune_events(self, keep: int) -> None:
        """Forget all but the newest `keep` events (subscribers further behind resync)."""
        with self.write() as conn:
            writes.prune_events(conn, keep)
