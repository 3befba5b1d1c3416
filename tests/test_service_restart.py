"""A restarted server catches up from where its index stopped, not from the beginning.

A real SQLite v3 database (made by `flowscope db upgrade`'s DDL), written through the
same calls the Metaflow client's service provider makes, and a real index.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from flowscope.ingest.service_source import ServiceSource
from flowscope.service import v3_ddl
from flowscope.service.v3_writes import V3Writes
from flowscope.service_mode import load_artifact
from flowscope.store import RunFilters, Store

LOCATION = "restart-database"


def _new_run(writes: V3Writes, tags: list[str] | None = None) -> str:
    run = writes.create_run(
        "RestartFlow", {"user_name": "tester", "tags": tags or [], "system_tags": ["user:tester"]}
    )
    number = str(run["run_number"])
    writes.create_step("RestartFlow", number, "start", {"user_name": "tester"})
    writes.create_task("RestartFlow", number, "start", {"user_name": "tester"})
    return number


def _listed(store: Store) -> dict[str, list[str]]:
    items, _ = store.list_runs(RunFilters(flow_id="RestartFlow"), "-started_at", 100, None)
    return {item["run_id"]: sorted(item["tags"]) for item in items}


def test_a_restart_reads_only_what_changed_since_the_index_stopped(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'team.sqlite'}")
    v3_ddl.upgrade(engine)
    writes = V3Writes(engine)
    writes.create_flow("RestartFlow", {"user_name": "tester"})
    first = [_new_run(writes) for _ in range(3)]
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")

    synced = ServiceSource(store, engine, LOCATION, load_artifact).catch_up()
    assert synced.runs_seen == 3  # no mark yet: the whole database

    # While no server runs: a new run, and a tag edit of an old one.
    later = _new_run(writes)
    writes.mutate_run_tags("RestartFlow", first[0], ["edited"], [])

    restarted = ServiceSource(store, engine, LOCATION, load_artifact)
    caught = restarted.catch_up()
    assert caught.runs_seen == 0, "a restart must not re-read the whole archive"
    listed = _listed(store)
    assert set(listed) == {*first, later}
    assert listed[first[0]] == ["edited"]

    # A database whose ids are behind the saved mark is another database: synced whole.
    other = sa.create_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    v3_ddl.upgrade(other)
    replaced = ServiceSource(store, other, LOCATION, load_artifact).catch_up()
    assert replaced.runs_seen == 0 and _listed(store) == {}
    store.close()
