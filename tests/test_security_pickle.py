"""Artifact previews against crafted pickles (issue 12, point 4).

A pickle naming code outside the allowlist never runs it; a pickle built only from
allowed constructors that asks for gigabytes, or for minutes of work, is stopped by the
worker process's memory and time limits (datastore/bounded_unpickle.py) while the server
keeps its memory and goes on answering. Through the real API, the pickles are planted in
a copy of a real run's datastore, as a hostile user with write access to it would.
"""

from __future__ import annotations

import gzip
import os
import pickle
import resource
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.datastore.bounded_unpickle import WorkerPool, bounded_preview
from flowscope.datastore.safe_pickle import PayloadTooLarge, UnsafePickle
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store


class _Reduce:
    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def object_array_bomb(items: int = 10**9) -> bytes:
    """About 150 bytes that make numpy allocate `items` pointers and fill them with None
    (8 GB for the default): only allowlisted globals (`_reconstruct`, `ndarray`, `dtype`)."""
    from numpy._core.multiarray import _reconstruct

    return pickle.dumps(_Reduce(_reconstruct, np.ndarray, (items,), np.dtype("O")), protocol=2)


def slow_fraction(digits: int = 10**9) -> bytes:
    """`Fraction("1e<digits>")`: an allowed constructor computing 10**digits for minutes."""
    import fractions

    return pickle.dumps(_Reduce(fractions.Fraction, f"1e{digits}"), protocol=2)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_the_object_array_bomb_is_real_and_stays_in_the_worker() -> None:
    data = object_array_bomb()
    assert len(data) < 300
    before = max_rss_mb()
    with pytest.raises(PayloadTooLarge, match="needs more than"):
        bounded_preview(data, max_bytes=1 << 20)
    assert max_rss_mb() - before < 200  # the server's peak memory did not move
    # The worker that refused it still serves: a small array of the same kind previews.
    text, kind, _ = bounded_preview(object_array_bomb(3), max_bytes=1 << 20)
    assert kind == "repr" and "None" in text


def test_a_pickle_that_computes_for_minutes_is_stopped() -> None:
    pool = WorkerPool(size=1)
    try:
        with pytest.raises(PayloadTooLarge, match="longer than 3 s"):
            pool.run("preview", slow_fraction(), max_bytes=1 << 20, timeout_s=3)
        # The stuck worker was killed and replaced: the next job is answered.
        assert pool.run("value", pickle.dumps([1, 2]), max_bytes=1 << 20, timeout_s=60) == [1, 2]
    finally:
        pool.close()


def test_a_malicious_reduce_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for evil in (
        _Reduce(os.system, f"touch {marker}"),
        _Reduce(eval, f"open({str(marker)!r}, 'w')"),
        _Reduce(getattr, np.ndarray, "tofile"),  # getattr is allowed for ZoneInfo only
    ):
        with pytest.raises(UnsafePickle):
            bounded_preview(pickle.dumps(evil, protocol=2), max_bytes=1 << 20)
    assert not marker.exists()


def test_over_the_size_cap_nothing_is_unpickled() -> None:
    with pytest.raises(PayloadTooLarge):
        bounded_preview(pickle.dumps(b"x" * 2000), max_bytes=1000)


# -- through the API, over a planted datastore --------------------------------------


@pytest.fixture
def planted(fixture_root: Path, fixture_runs: dict[str, str], tmp_path: Path) -> Any:
    """A copy of CardFlow's real run, indexed and served; `plant(name, pickle)` replaces
    the stored value of one of its artifacts."""
    root = tmp_path / ".metaflow"
    shutil.copytree(fixture_root / ".metaflow" / "CardFlow", root / "CardFlow", symlinks=True)
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    LocalIndexer(store, root).index_once()
    ctx = AppContext(store=store)
    ctx.index.ready.set()
    run = fixture_runs["card"].split("/")[1]
    client = TestClient(create_app(ctx))
    tasks = client.get(f"/api/v1/flows/CardFlow/runs/{run}/tasks?step_name=start").json()
    base = f"/api/v1/flows/CardFlow/runs/{run}/steps/start/tasks/{tasks['items'][0]['task_id']}"
    shas = {a["name"]: a["sha"] for a in client.get(f"{base}/artifacts").json()["items"]}

    def plant(name: str, data: bytes) -> str:
        sha = shas[name]
        (root / "CardFlow" / "data" / sha[:2] / sha).write_bytes(gzip.compress(data))
        return f"{base}/artifacts/{name}"

    yield client, plant
    client.close()
    store.close()


def test_planted_pickles_through_the_api(planted: Any, tmp_path: Path) -> None:
    client, plant = planted
    marker = tmp_path / "pwned"
    url = plant("score", pickle.dumps(_Reduce(os.system, f"touch {marker}"), protocol=2))
    answer = client.get(url)
    assert answer.status_code == 200
    assert answer.json()["preview"].startswith("refusing to unpickle: global 'posix.system'")
    assert answer.json()["previewable"] is False
    assert not marker.exists()

    before = max_rss_mb()
    answer = client.get(plant("labels", object_array_bomb()))
    assert answer.status_code == 200
    assert "needs more than" in answer.json()["preview"]
    assert max_rss_mb() - before < 200
    # The server goes on answering, previews included.
    assert client.get("/api/v1/health").status_code == 200
    plant("score", pickle.dumps(0.93, protocol=4))
    assert client.get(url).json()["preview_data"] == 0.93
