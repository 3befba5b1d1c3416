"""Keyset paging over every run order, on SQLite and PostgreSQL, with NULL sort values."""

from __future__ import annotations

import random

import pytest

from flowscope.store import BadCursor, RunFilters, Store
from flowscope.store.records import RunRecord
from flowscope.store.runs_list import RUN_ORDERS


def _fill(store: Store, count: int) -> list[RunRecord]:
    rng = random.Random(7)
    source = store.source_id("test", "paging")
    records = []
    with store.run_writer(source) as writer:
        for i in range(count):
            started = 1_700_000_000_000 + rng.randrange(0, 50) * 1000  # many ties
            running = i % 5 == 0
            record = RunRecord(
                flow_id=f"Flow{i % 3}",
                run_id=str(1000 + i),
                user=f"user{i % 4}",
                status="running" if running else ("failed" if i % 7 == 0 else "completed"),
                status_reason=None,
                started_at=started,
                finished_at=None if running else started + rng.randrange(0, 20) * 500,
                tags=[f"t{i % 2}", "all"],
                system_tags=[f"user:user{i % 4}"],
            )
            pk = writer.claim_run(record.flow_id, record.run_id, record.started_at)
            writer.write_run(pk, record)
            records.append(record)
    return records


def _walk(store: Store, filters: RunFilters, order: str, limit: int) -> list[dict]:
    seen: list[dict] = []
    cursor = None
    while True:
        items, cursor = store.list_runs(filters, order, limit, cursor)
        assert len(items) <= limit
        seen.extend(items)
        if cursor is None:
            return seen


@pytest.mark.parametrize("order", sorted(RUN_ORDERS))
def test_pages_cover_every_run_once_in_order(store: Store, order: str) -> None:
    records = _fill(store, 157)
    field, descending, _ = RUN_ORDERS[order]
    seen = _walk(store, RunFilters(), order, limit=10)
    ids = [item["run_id"] for item in seen]
    assert sorted(ids) == sorted(r.run_id for r in records)
    assert len(set(ids)) == len(ids)
    values = [item[field] for item in seen]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=descending)
    # NULLs (running runs have no finish) come after every value, whatever the direction.
    first_null = next((i for i, v in enumerate(values) if v is None), len(values))
    assert all(v is None for v in values[first_null:])


def test_filters_combine_and_tags_must_all_match(store: Store) -> None:
    records = _fill(store, 60)
    seen = _walk(store, RunFilters(flow_id="Flow1", tags=["t1", "all"]), "-started_at", 7)
    expected = {r.run_id for r in records if r.flow_id == "Flow1" and "t1" in r.tags}
    assert {item["run_id"] for item in seen} == expected
    assert _walk(store, RunFilters(tags=["t1", "nope"]), "-started_at", 7) == []
    by_system_tag = _walk(store, RunFilters(tags=["user:user2"]), "started_at", 50)
    assert {i["run_id"] for i in by_system_tag} == {r.run_id for r in records if r.user == "user2"}


def test_a_garbled_cursor_is_refused(store: Store) -> None:
    _fill(store, 3)
    with pytest.raises(BadCursor):
        store.list_runs(RunFilters(), "-started_at", 10, "not-a-cursor")
