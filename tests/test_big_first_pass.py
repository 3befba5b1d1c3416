"""A big run new to the index comes with its run_created event alone (store/writes.py):
no view can have followed tasks of a run the index did not have, and at 100,000 tasks
their events cost the first index more than the tasks. A smaller first pass keeps an
event per task. The run is the generator's foreach run (bench/scenarios.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.helpers import generated_bigrun

from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store, writes

PARAMS = {"tasks": 300, "seed": 2, "retry_every": 7, "catch_every": 50}


def _event_kinds(datastore: Path, db: Path) -> Counter[str]:
    store = Store(f"sqlite:///{db}")
    try:
        assert LocalIndexer(store, datastore).index_once().tasks_read == 303
        with store.engine.connect() as conn:
            return Counter(kind for (kind,) in conn.execute(sa.text("SELECT kind FROM events")))
    finally:
        store.close()


def test_only_a_big_first_pass_leaves_out_task_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datastore = generated_bigrun(tmp_path, PARAMS)
    assert writes.QUIET_FIRST_PASS_TASKS > 303
    small = _event_kinds(datastore, tmp_path / "small.sqlite")
    assert small["run_created"] == 1 and small["task_created"] == 303
    monkeypatch.setattr(writes, "QUIET_FIRST_PASS_TASKS", 100)
    big = _event_kinds(datastore, tmp_path / "big.sqlite")
    assert big["run_created"] == 1
    assert big["task_created"] == big["attempt_status"] == 0
