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

# Every table a sync writes, each row named by what it is rather than by primary keys
# (the order a run's tasks come back from the database, and so their keys, may differ).
# Events are left out: they carry the moment they were written.
TABLES = {
    "runs": "SELECT * FROM runs ORDER BY flow_id, run_id",
    "tasks": "SELECT r.flow_id, r.run_id, t.* FROM tasks t JOIN runs r ON r.pk = t.run_pk "
    "ORDER BY r.flow_id, r.run_id, t.step_name, t.task_id",
    "attempts": "SELECT r.flow_id, r.run_id, t.step_name, t.task_id, a.* FROM attempts a "
    "JOIN tasks t ON t.pk = a.task_pk JOIN runs r ON r.pk = t.run_pk "
    "ORDER BY r.flow_id, r.run_id, t.step_name, t.task_id, a.attempt",
    "steps": "SELECT r.flow_id, r.run_id, s.* FROM steps s JOIN runs r ON r.pk = s.run_pk "
    "ORDER BY r.flow_id, r.run_id, s.step_name",
    "run_tags": "SELECT r.flow_id, r.run_id, g.* FROM run_tags g JOIN runs r ON r.pk = g.run_pk "
    "ORDER BY r.flow_id, r.run_id, g.tag",
    "flows": "SELECT * FROM flows ORDER BY flow_id",
}
KEYS = {"pk", "run_pk", "task_pk", "last_run_pk"}


def _index(path: Path, team: TeamServer, **sync: Any) -> dict[str, list[tuple[Any, ...]]]:
    store = Store(f"sqlite:///{path}")
    try:
        stats = ServiceSource(store, team.engine, "team-database", load_artifact).sync(**sync)
        assert stats.errors == 0 and stats.runs_written == stats.runs_seen >= len(team.runs)
        found = {}
        with store.engine.connect() as conn:
            for table, query in TABLES.items():
                result = conn.execute(sa.text(query))
                keep = [i for i, name in enumerate(result.keys()) if name not in KEYS]
                found[table] = [tuple(row[i] for i in keep) for row in result]
        return found
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
