"""Benchmark: an archive of 1,000,000 runs in SQLite, listed through the API.

    python -m bench.runs_scale                       # 1,000,000 runs
    python -m bench.runs_scale --runs 200000 --db /tmp/runs.sqlite

The filled index is kept (default: /tmp/flowscope-bench/runs-<N>.sqlite) and reused next
time; filling a million runs takes about an hour on 2 cores.

Writing a million runs through a datastore would take hours, so the runs go straight in
through the store's write API (`RunWriter.claim_run` / `write_run`, one transaction per
10,000 runs, the way an indexer writes). The requests then go through the real ASGI app
(Starlette's TestClient): median of `--repeat`. A request slower than 100 ms is reported
with each SQL statement it ran, that statement's time and its `EXPLAIN QUERY PLAN`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from starlette.testclient import TestClient

from bench import common
from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.store import Store, writes
from flowscope.store import schema as s
from flowscope.store.records import RunRecord

SOURCE = ("generator", "bench.runs_scale")
BATCH = 10_000
FLOWS = tuple(f"ScaleFlow{i:02d}" for i in range(20))
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
COMMON_TAGS = ("nightly", "prod", "experiment", "v2")
RARE_TAG = "rare"  # on one run in 1,000
SPACING_MS = 60_000  # a run a minute: 1,000,000 runs span about two years
SLOW_MS = 100.0
PAGE = 100
DEEP_PAGE = 100


@dataclass
class Timing:
    label: str
    url: str
    params: dict[str, Any]
    seconds: list[float] = field(default_factory=list)
    statements: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.runs_scale", description=__doc__)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--db", type=Path, default=None, help="SQLite file to fill, kept for the next time"
    )
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE before timing")
    args = parser.parse_args(argv)

    path = args.db or common.SCRATCH / f"runs-{args.runs}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{path}")
    try:
        print(f"index: {path}\nmachine: {common.machine()}\n")
        have = fill(store, args.runs)
        if args.analyze:
            with store.write() as conn:
                conn.exec_driver_sql("ANALYZE")
        timings = time_requests(store, args.repeat)
    finally:
        store.close()
    print(f"\nAPI through the ASGI app, {have:,} runs (SQLite), median of {args.repeat}\n")
    rows = [
        [t.label, f"{t.median_ms:.1f} ms", common.ms(min(t.seconds)), common.ms(max(t.seconds))]
        for t in timings
    ]
    print(common.table(["request", "median", "min", "max"], rows))
    slow = [t for t in timings if t.median_ms > SLOW_MS]
    for timing in slow:
        print(explain(path, timing))
    return 0 if not slow else 1


# ---- filling the store --------------------------------------------------------------


def fill(store: Store, runs: int) -> int:
    """Insert runs until the store holds `runs` of them; returns how many it holds."""
    source_id = store.source_id(*SOURCE)
    with store.read() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(s.runs)).scalar() or 0
    if have >= runs:
        print(f"reusing {have:,} runs already in the index")
        return int(have)
    rng = Random(have)
    first_start = int(time.time() * 1000) - 3_600_000 - runs * SPACING_MS
    started = time.monotonic()
    for offset in range(have, runs, BATCH):
        with store.run_writer(source_id) as writer:
            for i in range(offset, min(offset + BATCH, runs)):
                record = synthetic_run(i, first_start + i * SPACING_MS, rng)
                pk = writer.claim_run(record.flow_id, record.run_id, record.started_at)
                assert pk is not None, "a fresh benchmark index holds no other source's runs"
                writer.write_run(pk, record)
        done = min(offset + BATCH, runs)
        if done % 100_000 == 0 or done == runs:
            rate = (done - have) / (time.monotonic() - started)
            print(f"  {done:,} runs written ({rate:,.0f} runs/s)", flush=True)
    with store.write() as conn:
        writes.refresh_flows(conn, FLOWS)
    seconds = time.monotonic() - started
    print(f"wrote {runs - have:,} runs in {seconds:.0f} s\n")
    return runs


def synthetic_run(i: int, started_at: int, rng: Random) -> RunRecord:
    """A finished (or, rarely, running) run with a realistic spread of fields."""
    roll = rng.random()
    status, reason = "completed", None
    if roll < 0.08:
        status, reason = "failed", "error"
    elif roll < 0.09:
        status = "running"
    finished_at = None if status == "running" else started_at + rng.randrange(10_000, 7_200_000)
    user = USERS[i % len(USERS)]
    tags = sorted(rng.sample(COMMON_TAGS, k=1 + i % 2))
    if i % 1000 == 500:
        tags.append(RARE_TAG)
    return RunRecord(
        flow_id=FLOWS[i % len(FLOWS)],
        run_id=str(started_at * 1000 + rng.randrange(1000)),
        user=user,
        status=status,
        status_reason=reason,
        started_at=started_at,
        finished_at=finished_at,
        tags=tags,
        system_tags=[f"user:{user}", "runtime:dev", "metaflow_version:2.19.39"],
        task_count=4,
        last_activity_at=finished_at or started_at,
        sealed=status != "running",
    )


# ---- timing requests ----------------------------------------------------------------


def time_requests(store: Store, repeat: int) -> list[Timing]:
    ctx = AppContext(store=store)
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as client, _statements(store) as captured:
        deep_cursor = _cursor_of_page(client, DEEP_PAGE)
        timings = [
            Timing("/runs?limit=100 (page 1)", "/api/v1/runs", {"limit": PAGE}),
            Timing(
                f"/runs?limit=100 (page {DEEP_PAGE}, by cursor)",
                "/api/v1/runs",
                {"limit": PAGE, "cursor": deep_cursor},
            ),
            Timing("/runs?flow_id=ScaleFlow07", "/api/v1/runs", {"flow_id": "ScaleFlow07"}),
            Timing("/runs?tag=nightly (common)", "/api/v1/runs", {"tag": "nightly"}),
            Timing(f"/runs?tag={RARE_TAG} (1 run in 1,000)", "/api/v1/runs", {"tag": RARE_TAG}),
            Timing("/runs?order=-duration_ms", "/api/v1/runs", {"order": "-duration_ms"}),
            Timing("/flows", "/api/v1/flows", {}),
            Timing("/runs?user=carol", "/api/v1/runs", {"user": "carol"}),
            Timing("/runs?status=running", "/api/v1/runs", {"status": "running"}),
            Timing("/runs?q=ScaleFlow07", "/api/v1/runs", {"q": "ScaleFlow07"}),
            Timing("/runs?q=no-such-run (no match)", "/api/v1/runs", {"q": "no-such-run"}),
        ]
        for timing in timings:
            for _ in range(repeat):
                captured.clear()
                started = time.perf_counter()
                response = client.get(timing.url, params=timing.params)
                timing.seconds.append(time.perf_counter() - started)
                response.raise_for_status()
            timing.statements = list(captured)
    return timings


def _cursor_of_page(client: TestClient, page: int) -> str:
    cursor = None
    for _ in range(page - 1):
        params: dict[str, Any] = {"limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        cursor = client.get("/api/v1/runs", params=params).json()["next_cursor"]
    assert cursor is not None, "fewer runs than pages"
    return str(cursor)


@contextmanager
def _statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the store runs inside the block, with its parameters."""
    captured: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        # The app's live-event poller reads `events` in the background: not the request's.
        if "FROM events" not in statement:
            captured.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", remember)
    try:
        yield captured
    finally:
        event.remove(store.engine, "before_cursor_execute", remember)


def explain(path: Path, timing: Timing) -> str:
    """Each statement of a slow request: its own time and SQLite's query plan."""
    import sqlite3

    lines = [f"\nSLOW: {timing.label} (median {timing.median_ms:.0f} ms)"]
    with sqlite3.connect(path) as conn:
        for statement, parameters in timing.statements:
            started = time.perf_counter()
            conn.execute(statement, parameters).fetchall()
            seconds = time.perf_counter() - started
            plan = conn.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            lines.append(f"  {common.ms(seconds)}: {' '.join(statement.split())}")
            lines.append(f"    parameters: {parameters}")
            lines.extend(f"    plan: {row[-1]}" for row in plan)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
