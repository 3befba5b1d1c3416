"""A run's many tasks are read by threads (ingest/local_indexer.py): the index must hold
exactly what one thread reading them in turn gives. The run is the benchmark generator's
big foreach run at 300 tasks, with retries and @catch failures (bench/scenarios.py; the
generator is checked against the Metaflow client in tests/test_generator.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.helpers import generated_bigrun

from flowscope.ingest import local_indexer
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store

PARAMS = {"tasks": 300, "seed": 1, "retry_every": 7, "catch_every": 50}


def _index(datastore: Path, db: Path) -> dict[str, list[tuple[Any, ...]]]:
    store = Store(f"sqlite:///{db}")
    try:
        stats = LocalIndexer(store, datastore).index_once()
        assert stats.errors == 0 and stats.tasks_read == 303
        with store.engine.connect() as conn:
            return {
                table: [
                    tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {table} {order}"))
                ]
                for table, order in (
                    ("runs", "ORDER BY flow_id, run_id"),
                    ("tasks", "ORDER BY step_name, task_id"),
                    ("attempts", "ORDER BY task_pk, attempt"),
                    ("steps", "ORDER BY step_name"),
                )
            }
    finally:
        store.close()


def test_threads_read_what_one_reader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datastore = generated_bigrun(tmp_path, PARAMS)
    threaded = _index(datastore, tmp_path / "threaded.sqlite")
    monkeypatch.setattr(local_indexer, "PARALLEL_FROM_TASKS", 10**9)
    alone = _index(datastore, tmp_path / "alone.sqlite")
    assert len(threaded["tasks"]) == 303
    for table, rows in alone.items():
        assert threaded[table] == rows, table
