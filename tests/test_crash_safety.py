"""A full disk, a read-only or a damaged index (issue 12, point 2): a clear error, no
corruption, nothing half-written; `flowscope index --rebuild` always works.

The full disk is real: a small tmpfs mounted for the test when the test may mount (as
root), filled up; and, everywhere, SQLite's `max_page_count`, which makes SQLite itself
answer SQLITE_FULL ("database or disk is full") once the file would grow past it. The
read-only location is SQLite's read-only open mode (`mode=ro`), which root cannot
override as it can a chmod.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.helpers import snapshot

from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import IndexUnusable, Store


def _flowscope(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowscope.cli", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture
def datastore(fixture_root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "sysroot" / ".metaflow"
    shutil.copytree(fixture_root / ".metaflow", copy, symlinks=True)
    return copy


def _clean(datastore: Path, where: Path) -> dict[str, object]:
    store = Store(f"sqlite:///{where / f'clean-{uuid.uuid4().hex[:6]}.sqlite'}")
    try:
        LocalIndexer(store, datastore).index_once()
        return snapshot(store)
    finally:
        store.close()


def _add_runs(datastore: Path, count: int) -> None:
    """Copies of a real run under new ids (each with its own start)."""
    import orjson

    flow = datastore / "LinearFlow"
    source = next(p for p in sorted(flow.iterdir()) if p.name.isdigit())
    for i in range(count):
        copy = flow / f"8{i:04d}{source.name[5:]}"
        shutil.copytree(source, copy, symlinks=True)
        record = orjson.loads((copy / "_meta" / "_self.json").read_bytes())
        record["ts_epoch"] += i + 1
        (copy / "_meta" / "_self.json").write_bytes(orjson.dumps(record))


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def _runs_match_clean(got: dict[str, object], clean: dict[str, object]) -> None:
    """Every run in `got` is whole: exactly as a clean index has it."""
    for key, value in got.items():
        if key != "__flows__":
            assert value == clean[key], key


def test_rebuild_replaces_a_damaged_index(datastore: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    db.write_bytes(b"this is no database" + os.urandom(50_000))
    broken = _flowscope("index", "--root", str(datastore), "--db", f"sqlite:///{db}")
    assert broken.returncode == 3, broken.stderr
    assert "--rebuild" in broken.stderr and "Traceback" not in broken.stderr
    rebuilt = _flowscope("index", "--rebuild", "--root", str(datastore), "--db", f"sqlite:///{db}")
    assert rebuilt.returncode == 0, rebuilt.stderr
    store = Store(f"sqlite:///{db}")
    try:
        assert snapshot(store) == _clean(datastore, tmp_path)
    finally:
        store.close()


def test_rebuild_of_a_good_index_gives_the_same_index(
    datastore: Path, store_url: str, tmp_path: Path
) -> None:
    """On SQLite and PostgreSQL: --rebuild drops flowscope's tables and builds them again."""
    assert _flowscope("index", "--root", str(datastore), "--db", store_url).returncode == 0
    again = _flowscope("index", "--rebuild", "--root", str(datastore), "--db", store_url)
    assert again.returncode == 0, again.stderr
    store = Store(store_url)
    try:
        assert snapshot(store) == _clean(datastore, tmp_path)
    finally:
        store.close()


def test_a_read_only_index_gives_a_clear_error_and_stays_as_it_was(
    datastore: Path, tmp_path: Path
) -> None:
    db = tmp_path / "index.sqlite"
    assert _flowscope("index", "--root", str(datastore), "--db", f"sqlite:///{db}").returncode == 0
    store = Store(f"sqlite:///{db}")
    before = snapshot(store)
    store.close()
    _add_runs(datastore, 3)
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    answer = _flowscope("index", "--root", str(datastore), "--db", read_only)
    assert answer.returncode == 3, answer.stderr
    assert "readonly" in answer.stderr and "writable" in answer.stderr
    assert "Traceback" not in answer.stderr
    assert _integrity(db) == "ok"
    store = Store(f"sqlite:///{db}")
    try:
        assert snapshot(store) == before
    finally:
        store.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, when this process may mount one (root in a container or CI)."""
    where = tmp_path / "small-disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            "cannot mount a tmpfs here (needs root): the full disk is still tested through "
            f"SQLite's max_page_count below ({mounted.stderr.strip()})"
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(where: Path) -> Path:
    filler = where / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_gives_a_clear_error_and_no_corruption(
    datastore: Path, tmp_path: Path, small_disk: Path
) -> None:
    db = small_disk / "index.sqlite"
    url = f"sqlite:///{db}"
    assert _flowscope("index", "--root", str(datastore), "--db", url).returncode == 0
    _add_runs(datastore, 40)
    filler = _fill(small_disk)
    full = _flowscope("index", "--root", str(datastore), "--db", url)
    assert full.returncode == 3, (full.returncode, full.stdout, full.stderr)
    assert "full" in full.stderr and "Traceback" not in full.stderr, full.stderr
    clean = _clean(datastore, tmp_path)
    # Freeing the space lets SQLite check the file (a WAL checkpoint needs room).
    filler.unlink()
    assert _integrity(db) == "ok"
    store = Store(url)
    try:
        _runs_match_clean(snapshot(store), clean)  # each run there is whole
    finally:
        store.close()
    assert _flowscope("index", "--root", str(datastore), "--db", url).returncode == 0
    store = Store(url)
    try:
        assert snapshot(store) == clean
    finally:
        store.close()


def test_sqlite_full_stops_the_pass_and_keeps_whole_runs(datastore: Path, tmp_path: Path) -> None:
    """SQLITE_FULL from SQLite itself (max_page_count), without a mount: the pass stops
    with IndexUnusable saying the disk is full, and every run it holds is whole."""
    db = tmp_path / "index.sqlite"
    url = f"sqlite:///{db}"
    store = Store(url)
    LocalIndexer(store, datastore).index_once()
    _add_runs(datastore, 40)
    with store.read() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0)

    @sa.event.listens_for(store.engine, "connect")
    def _cap(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 8}")

    store.engine.dispose()  # new connections, with the cap
    with pytest.raises(IndexUnusable, match="full"):
        LocalIndexer(store, datastore).index_once()
    store.close()
    assert _integrity(db) == "ok"
    clean = _clean(datastore, tmp_path)
    capped = Store(url)
    try:
        _runs_match_clean(snapshot(capped), clean)
        LocalIndexer(capped, datastore).index_once()
        assert snapshot(capped) == clean
    finally:
        capped.close()


def test_a_migration_that_fails_halfway_leaves_no_half_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the crash soak: a `flowscope index` killed while it made a new index left
    some tables and no version, and every later start failed ("table events already
    exists"). The migrations now run in one transaction: stopped halfway (here by an
    error in the middle of the first migration, as a kill would), nothing stays."""
    from alembic.operations import Operations

    calls = 0
    original = Operations.create_index

    def failing(self: Operations, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("stopped halfway")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Operations, "create_index", failing)
    db = tmp_path / "index.sqlite"
    with pytest.raises(RuntimeError, match="halfway"):
        Store(f"sqlite:///{db}")
    conn = sqlite3.connect(db)
    try:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        conn.close()
    assert tables == []
    monkeypatch.undo()
    Store(f"sqlite:///{db}").close()  # and the next start makes the index
