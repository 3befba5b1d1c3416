"""The first sync of a metaflow-service database read by worker processes (issue 8).

A large archive is cut into ranges of runs that worker processes read and assemble while
the syncing process writes (ingest/service_batches.py). What lands in the index must not
depend on that: the same real runs (tests/team_fixture.py, made by the Metaflow client
through flowscope's /metadata, on SQLite and PostgreSQL) synced in one process and by two
workers in ranges of three runs give the same rows, table by table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from tests.team_fixture import TeamServer

from flowscope.ingest.service_source import ServiceSource
from flowscope.service import v3_reads as v3
from flowscope.service_mode import load_artifact
from flowscope.store import Store

# Every table a sync writes, with the columns that identify a row (events are left out:
# they carry the moment they were written).
TABLES = {
    "runs": "flow_id, run_id",
    "tasks": "run_pk, step_name, task_id",
    "attempts": "task_pk, attempt",
    "steps": "run_pk, step_name",
    "run_tags": "run_pk, tag",
    "flows": "flow_id",
}


def _index(path: Path, team: TeamServer, **sync: Any) -> dict[str, list[tuple[Any, ...]]]:
    store = Store(f"sqlite:///{path}")
    try:
        stats = ServiceSource(store, team.engine, "team-database", load_artifact).sync(**sync)
        assert stats.errors == 0 and stats.runs_written == stats.runs_seen >= len(team.runs)
        with store.engine.connect() as conn:
            return {
                table: [
                    tuple(row)
                    for row in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order}"))
                ]
                for table, order in TABLES.items()
            }
    finally:
        store.close()


def test_workers_in_ranges_write_what_one_process_writes(team: TeamServer, tmp_path: Path) -> None:
    alone = _index(tmp_path / "alone.sqlite", team, workers=1)
    pooled = _index(tmp_path / "pooled.sqlite", team, workers=2, batch=3)
    assert len(alone["runs"]) >= len(team.runs)
    for table in TABLES:
        assert pooled[table] == alone[table], table


def test_ranges_cover_every_run_once_newest_first(team: TeamServer) -> None:
    with team.engine.connect() as conn:
        every = v3.runs_newest_first(conn, None, 1_000_000)
        ends = v3.range_ends(conn, 3)
        bounds: list[v3.RunCursor | None] = [None, *ends]
        walked = [
            run
            for i, before in enumerate(bounds)
            for run in v3.runs_in_range(
                conn, v3.RunRange(before, bounds[i + 1] if i + 1 < len(bounds) else None)
            )
        ]
    assert len(every) > 3  # more than one range
    assert len(ends) == len(every) // 3
    assert [r.key for r in walked] == [r.key for r in every]
