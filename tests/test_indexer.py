"""The local indexer: incremental, idempotent, resumable, and never stopped by bad files."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from tests.crash_indexer import KILL_POINTS
from tests.helpers import snapshot

from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store


@pytest.fixture
def datastore(fixture_root: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the fixture runs' `.metaflow`."""
    copy = tmp_path / "sysroot" / ".metaflow"
    shutil.copytree(fixture_root / ".metaflow", copy, symlinks=True)
    return copy


def _age(root: Path) -> None:
    """Make every file look old, as a datastore that has been sitting there would."""
    old = time.time() - 3600
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.utime(Path(folder) / name, (old, old), follow_symlinks=False)
    os.utime(root, (old, old))


def test_reindexing_an_unchanged_datastore_reads_nothing(store: Store, datastore: Path) -> None:
    _age(datastore)
    indexer = LocalIndexer(store, datastore)
    first = indexer.index_once()
    assert first.errors == 0 and first.runs_read == first.runs_seen > 10
    before = snapshot(store)
    again = indexer.index_once()
    assert (again.runs_read, again.tasks_read, again.runs_pruned) == (0, 0, 0)
    assert snapshot(store) == before


def test_deleted_runs_disappear_and_other_sources_are_kept(store: Store, datastore: Path) -> None:
    _age(datastore)
    indexer = LocalIndexer(store, datastore)
    indexer.index_once()
    other = LocalIndexer(store, datastore.parent.parent / "elsewhere" / ".metaflow")
    # A run of another source: the local indexer of `datastore` must never prune it.
    with store.run_writer(other.source_id) as writer:
        from flowscope.store.records import RunRecord

        pk = writer.claim_run("OtherFlow", "1", 1)
        writer.write_run(pk, RunRecord("OtherFlow", "1", "x", "completed", None, 1, 2, [], []))
    victim_flow = next(p for p in sorted(datastore.iterdir()) if (p / "_meta").is_dir())
    victim = next(
        p for p in sorted(victim_flow.iterdir()) if p.name not in ("_meta", "data") and p.is_dir()
    )
    shutil.rmtree(victim)
    stats = indexer.index_once()
    assert stats.runs_pruned == 1
    assert store.find_run(victim_flow.name, victim.name) is None
    assert store.find_run("OtherFlow", "1") is not None


def test_tag_changes_are_picked_up(store: Store, datastore: Path) -> None:
    _age(datastore)
    indexer = LocalIndexer(store, datastore)
    indexer.index_once()
    flow = next(p for p in sorted(datastore.iterdir()) if (p / "_meta").is_dir())
    run = next(p for p in sorted(flow.iterdir()) if p.name not in ("_meta", "data") and p.is_dir())
    record_path = run / "_meta" / "_self.json"
    record = orjson.loads(record_path.read_bytes())
    record["tags"] = [*record.get("tags", []), "fresh-tag"]
    # Metaflow replaces the file; do the same, and make sure the mtime moves.
    tmp = record_path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(record))
    os.replace(tmp, record_path)
    stats = indexer.index_once()
    assert stats.runs_read == 1
    ref = store.find_run(flow.name, run.name)
    assert ref is not None
    run_item = store.get_run(ref)
    assert run_item is not None and "fresh-tag" in run_item["tags"]


def test_bad_files_are_skipped_not_fatal(store: Store, datastore: Path) -> None:
    _age(datastore)
    flows = [p for p in sorted(datastore.iterdir()) if (p / "_meta").is_dir()]
    # Garble one task's metadata file, one run record, and add junk folders.
    a_task_meta = next(flows[0].glob("*/start/*/_meta"))
    for f in list(a_task_meta.glob("sysmeta_attempt_ok_*"))[:1]:
        f.write_bytes(b"{not json")
    broken_run = next(
        p for p in sorted(flows[1].iterdir()) if p.name not in ("_meta", "data") and p.is_dir()
    )
    (broken_run / "_meta" / "_self.json").write_bytes(b"\x00\xff garbage")
    (datastore / "NotAFlow").mkdir()
    (flows[0] / "junk-run").mkdir()
    (flows[0] / "latest_run.tmp").write_text("x")
    stats = LocalIndexer(store, datastore).index_once()
    assert stats.errors == 0
    assert stats.runs_read >= len(list(datastore.glob("*/*/_meta/_self.json"))) - 1
    assert store.find_run(flows[1].name, broken_run.name) is None


def test_a_killed_indexer_resumes_to_the_same_index(
    fixture_root: Path, datastore: Path, tmp_path: Path
) -> None:
    """SIGKILL `flowscope index` inside a run's transaction, again and again: the index it
    finally reaches is the same as one clean pass.

    The kills land at points the test chooses (tests/crash_indexer.py), not after a timer,
    so the test does not depend on how fast the machine indexes.
    """
    _age(datastore)
    clean_url = f"sqlite:///{tmp_path / 'clean.sqlite'}"
    clean = Store(clean_url)
    LocalIndexer(clean, datastore).index_once()
    expected = snapshot(clean)
    clean.close()
    runs = len(expected) - 1  # every key but "__flows__"

    url = f"sqlite:///{tmp_path / 'killed.sqlite'}"
    Store(url).close()  # migrate first, so kills land inside indexing
    arguments = ["--root", str(datastore), "--db", url]
    rng = random.Random(3)
    kills = 8
    # A kill at the n-th write (n <= 2) lets at most one run commit before it, so there is
    # always a run left to be killed in.
    assert runs > kills
    landed: list[str] = []
    for i in range(kills):
        marker = tmp_path / f"kill-{i}.txt"
        point = rng.choice(KILL_POINTS)
        n = rng.randint(1, 2)
        process = subprocess.run(
            [sys.executable, "-m", "tests.crash_indexer", point, str(n), str(marker), "--"]
            + arguments,
            capture_output=True,
            text=True,
            check=False,
        )
        assert process.returncode == -signal.SIGKILL, process.stderr
        landed.append(marker.read_text(encoding="utf-8").strip())
    assert len(landed) == kills and all(line.split()[0] in KILL_POINTS for line in landed)

    final = subprocess.run(
        [sys.executable, "-m", "flowscope.cli", "index", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    resumed = Store(url)
    try:
        assert snapshot(resumed) == expected
    finally:
        resumed.close()


def test_a_run_held_by_one_source_is_not_taken_over_by_another(
    store: Store, datastore: Path, tmp_path: Path
) -> None:
    """Two datastores holding a copy of the same run: the first to index it keeps it, the
    other's copy is skipped (and counted), and is claimed only once the first lets go."""
    _age(datastore)
    copy = tmp_path / "copy" / ".metaflow"
    flow = next(p for p in sorted(datastore.iterdir()) if (p / "_meta").is_dir())
    run = next(p for p in sorted(flow.iterdir()) if p.name not in ("_meta", "data") and p.is_dir())
    shutil.copytree(flow / "_meta", copy / flow.name / "_meta")
    shutil.copytree(run, copy / flow.name / run.name, symlinks=True)
    _age(copy)
    first, second = LocalIndexer(store, datastore), LocalIndexer(store, copy)
    first.index_once()
    before = snapshot(store)
    stats = second.index_once()
    assert (stats.owned_elsewhere, stats.runs_read, stats.errors) == (1, 0, 0)
    assert snapshot(store) == before
    assert store.stored_runs(second.source_id) == {}

    shutil.rmtree(run)
    assert first.index_once().runs_pruned == 1
    assert second.index_once().runs_read == 1
    assert set(store.stored_runs(second.source_id)) == {(flow.name, run.name)}


def test_runs_record_where_their_data_lives(
    store: Store, datastore: Path, fixture_root: Path
) -> None:
    """As the tasks recorded it when they ran: `datastore` is a copy, so `ds-root` still
    names the folder the fixtures were run into (local runs are read from where flowscope
    found them; an S3 run's root says where its data is)."""
    _age(datastore)
    LocalIndexer(store, datastore).index_once()
    for record in datastore.glob("*/*/_meta/_self.json"):
        ref = store.find_run(record.parent.parent.parent.name, record.parent.parent.name)
        assert ref is not None
        assert (ref.ds_type, ref.ds_root) == ("local", str(fixture_root / ".metaflow")), ref
