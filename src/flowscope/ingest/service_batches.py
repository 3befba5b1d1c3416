"""The first sync of a metaflow-service database, one batch of runs at a time, read and
assembled by worker processes when the archive is large.

One process reads, decodes and assembles about a thousand runs a second, and writing
them to the index costs it as much again: a million runs took a quarter of an hour on
one core while the other idled. Runs are independent of each other until they are
written, so a large archive is cut into ranges of runs, newest first, that worker
processes read and assemble, while the syncing process writes each range's records as
they come back, in order: the newest runs are still served first.

The workers also turn the records into the rows the index takes (`store.bulk.prepare`):
plain tuples cost the writing process far less to receive than records. Only reading,
assembling and preparing move; what a batch's rows are does not depend on where they were
made (tests/test_service_sync_pool.py compares both ways).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace

from sqlalchemy.engine import Engine

from flowscope.ingest.assembler import assemble_run, assemble_task, summarize
from flowscope.ingest.heartbeats import HeartbeatLiveness
from flowscope.ingest.service_facts import (
    ArtifactLoader,
    RunRows,
    ValueCache,
    rows_of,
    run_facts,
    task_facts,
)
from flowscope.ingest.service_facts import fingerprint as rows_fingerprint
from flowscope.service import v3_reads as v3
from flowscope.store.bulk import NewRuns, prepare
from flowscope.store.records import WholeRun

log = logging.getLogger(__name__)

# Below this many runs, starting worker processes (each imports flowscope and connects)
# costs more than it saves.
POOL_FROM_RUNS = 20_000
MAX_WORKERS = 4


@dataclass
class AssembledBatch:
    """A batch of runs, newest first, each with its fingerprint and its position in
    `new`, the rows of the runs that could be assembled (None: it could not be; the
    reason was logged where it was tried)."""

    runs: list[v3.V3Run]
    fingerprints: list[str]
    positions: list[int | None]
    new: NewRuns
    db_now_ms: int


def assemble_batch(
    runs: list[v3.V3Run],
    rows: list[RunRows],
    db_now_ms: int,
    values: ValueCache,
    liveness: HeartbeatLiveness,
) -> AssembledBatch:
    liveness.observe(db_now_ms)
    fingerprints = [rows_fingerprint(r) for r in rows]
    wholes: list[WholeRun] = []
    positions: list[int | None] = []
    for r, f in zip(rows, fingerprints, strict=True):
        whole = assemble_whole(r, f, values, liveness)
        positions.append(None if whole is None else len(wholes))
        if whole is not None:
            wholes.append(whole)
    return AssembledBatch(runs, fingerprints, positions, prepare(wholes), db_now_ms)


def assemble_whole(
    rows: RunRows, fingerprint: str, values: ValueCache, liveness: HeartbeatLiveness
) -> WholeRun | None:
    """A run assembled in memory from all of its rows."""
    try:
        facts = replace(run_facts(rows, values), fingerprint=fingerprint)
        tasks = [assemble_task(facts, t, liveness) for t in task_facts(rows, values)]
        run, steps = assemble_run(
            facts, summarize(tasks), liveness, liveness.now_ms, seal_when_ended=True
        )
    except Exception:  # one bad run must never stop the sync
        log.exception("could not index %s/%s", rows.run.flow_id, rows.run.exposed_id)
        return None
    return WholeRun(run, steps, tasks)


def pool_size(total_runs: int, load: ArtifactLoader) -> int:
    """How many worker processes a sync of `total_runs` should use; 0: none."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if total_runs < POOL_FROM_RUNS or (cpus or 1) < 2:
        return 0
    try:
        pickle.dumps(load)  # a worker needs its own copy of the loader
    except Exception:
        return 0
    return min(MAX_WORKERS, cpus or 1)


def pooled_batches(
    engine: Engine, load: ArtifactLoader, batch: int, workers: int
) -> Iterator[AssembledBatch]:
    """Every run of the database in batches of about `batch`, newest first, read and
    assembled by `workers` processes, a few ranges ahead of the caller."""
    with engine.connect() as conn:
        ends = v3.range_ends(conn, batch)
    bounds: list[v3.RunCursor | None] = [None, *ends]
    spans = [v3.RunRange(bounds[i], bounds[i + 1] if i + 1 < len(bounds) else None)
             for i in range(len(bounds))]  # fmt: skip
    url = engine.url.render_as_string(hide_password=False)
    pool = ProcessPoolExecutor(
        workers,
        # Not fork: the parent holds connections and threads a child must not inherit.
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(url, load),
    )
    try:
        ahead: deque[Future[AssembledBatch]] = deque()
        queued = iter(spans)
        for span in queued:
            ahead.append(pool.submit(_read_range, span))
            if len(ahead) >= 2 * workers:
                break
        while ahead:
            done = ahead.popleft().result()
            following = next(queued, None)
            if following is not None:
                ahead.append(pool.submit(_read_range, following))
            yield done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Worker:
    engine: Engine
    values: ValueCache
    liveness: HeartbeatLiveness


_worker: _Worker | None = None


def _start_worker(url: str, load: ArtifactLoader) -> None:
    from flowscope.store.database import create_engine

    global _worker
    _worker = _Worker(create_engine(url), ValueCache(load), HeartbeatLiveness())


def _read_range(span: v3.RunRange) -> AssembledBatch:
    assert _worker is not None, "a worker is started by _start_worker"
    with _worker.engine.connect() as conn:
        runs = v3.runs_in_range(conn, span)
        rows = rows_of(conn, runs)
        now = v3.db_now_ms(conn)
    return assemble_batch(runs, rows, now, _worker.values, _worker.liveness)
