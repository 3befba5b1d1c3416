"""A finished big run's timeline overview is packed when its run is sealed and kept in
the index (store/timeline_pack.py): the kept pack is what a fresh build gives, the API
answers from it, and a pack made at another version of the run is never served. The run
is the benchmark generator's big foreach run (bench/scenarios.py), indexed by the real
local indexer, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from tests.helpers import generated_bigrun

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.api.routes import timeline as timeline_route
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import RunRef, Store, timeline_pack
from flowscope.store import schema as s

PARAMS = {"tasks": 300, "seed": 3, "retry_every": 7, "catch_every": 50}


@pytest.fixture
def indexed(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Store, RunRef]]:
    monkeypatch.setattr(timeline_pack, "KEEP_FROM_TASKS", 100)
    store = Store(store_url)
    try:
        assert LocalIndexer(store, generated_bigrun(tmp_path, PARAMS)).index_once().errors == 0
        yield store, _big_run(store)
    finally:
        store.close()


def _big_run(store: Store) -> RunRef:
    """The generated big run (its foreach makes it the one with more than 300 tasks)."""
    with store.engine.connect() as conn:
        flow_id, run_id = conn.execute(
            sa.select(s.runs.c.flow_id, s.runs.c.run_id).where(s.runs.c.task_count > 300)
        ).one()
    ref = store.find_run(flow_id, run_id)
    assert ref is not None
    return ref


def _kept(store: Store) -> list[tuple[int, str, bytes]]:
    with store.engine.connect() as conn:
        return [
            (row.run_pk, row.version, bytes(row.gzipped))
            for row in conn.execute(sa.select(s.timeline_packs))
        ]


def _overview(store: Store, ref: RunRef) -> bytes:
    timeline_route._cache._entries.clear()  # the process-wide cache of built answers
    ctx = AppContext(store=store)
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as client:
        response = client.get(
            f"/api/v1/flows/{ref.flow_id}/runs/{ref.run_id}/timeline/overview",
            headers={"Accept-Encoding": "identity"},
        )
    assert response.status_code == 200
    return response.content


def test_sealing_a_big_run_keeps_the_pack_a_fresh_build_gives(
    indexed: tuple[Store, RunRef],
) -> None:
    store, ref = indexed
    kept = _kept(store)
    assert [(pk, version) for pk, version, _ in kept] == [(ref.pk, store.timeline_version(ref))]
    fresh = timeline_pack.pack_overview(store.timeline_overview(ref))
    assert gzip.decompress(kept[0][2]) == fresh
    assert _overview(store, ref) == fresh


def test_the_api_answers_from_the_kept_pack_of_the_current_version_only(
    indexed: tuple[Store, RunRef],
) -> None:
    store, ref = indexed
    fresh = timeline_pack.pack_overview(store.timeline_overview(ref))
    current = store.timeline_version(ref)
    planted = b"FSTL a pack told apart from a fresh build"
    with store.write() as conn:
        timeline_pack.keep_pack(conn, ref, current, gzip.compress(planted))
    assert _overview(store, ref) == planted  # read from the index, not rebuilt
    with store.write() as conn:
        timeline_pack.keep_pack(conn, ref, "another-version", gzip.compress(planted))
    assert _overview(store, ref) == fresh


def test_small_runs_keep_no_pack(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timeline_pack, "KEEP_FROM_TASKS", 10_000)
    store = Store(store_url)
    try:
        LocalIndexer(store, generated_bigrun(tmp_path, PARAMS)).index_once()
        assert _kept(store) == []
    finally:
        store.close()


def test_a_deleted_run_takes_its_pack_with_it(indexed: tuple[Store, RunRef]) -> None:
    store, ref = indexed
    assert _kept(store)
    store.delete_runs([ref.pk])
    assert _kept(store) == []


def test_a_run_whose_pack_cannot_be_made_is_still_indexed_and_drawn(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packing runs after the run's own transaction committed: a failure there is logged
    and the run stays indexed, its overview built when asked (packing is forced to fail:
    no real fault reaches this step alone)."""
    monkeypatch.setattr(timeline_pack, "KEEP_FROM_TASKS", 100)

    def broken(*_: object) -> None:
        raise RuntimeError("packing failed")

    monkeypatch.setattr(timeline_pack, "packed_for_keeping", broken)
    store = Store(store_url)
    try:
        assert LocalIndexer(store, generated_bigrun(tmp_path, PARAMS)).index_once().errors == 0
        assert _kept(store) == []
        ref = _big_run(store)
        assert _overview(store, ref) == timeline_pack.pack_overview(store.timeline_overview(ref))
    finally:
        store.close()
