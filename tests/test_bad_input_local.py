"""Bad local datastore input never stops the indexer or the server (issue 12, point 1).

The corpus (tests/corpus/local_damage.py) is made of damaged copies of a real fixture run
beside the intact fixture runs. For each case flowscope must: index without stopping,
answer every API request with 2xx/4xx (never 5xx), show what it could read, count what it
could not (`unreadable_tasks`, shown on the run page), warn once in its log however many
passes re-read the damage, and keep every intact run exactly as a clean index of the
intact copy has it.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient
from tests.corpus.local_damage import (
    VICTIM_FLOW,
    Case,
    build_corpus,
    names_with_spaces_and_unicode,
    victim_run,
)
from tests.helpers import snapshot

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store

API = "/api/v1"
# chmod 000 does not stop root from reading (CAP_DAC_OVERRIDE): then the "no-permission"
# case reads like an intact run, and the test says so instead of faking a denial.
AS_ROOT = os.geteuid() == 0


def _age(root: Path) -> None:
    old = time.time() - 3600
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if path.is_symlink():
                continue
            # A case whose files are from the future keeps them there.
            if path.stat().st_mtime < time.time():
                os.utime(path, (old, old))
    os.utime(root, (old, old))


@pytest.fixture
def corpus(fixture_root: Path, tmp_path: Path) -> Iterator[tuple[Path, Path, list[Case]]]:
    """(intact copy, damaged copy, cases): the damaged one is the intact one plus the
    damaged copies of the victim run."""
    intact = tmp_path / "intact" / ".metaflow"
    damaged = tmp_path / "damaged" / ".metaflow"
    shutil.copytree(fixture_root / ".metaflow", intact, symlinks=True)
    shutil.copytree(fixture_root / ".metaflow", damaged, symlinks=True)
    cases = build_corpus(damaged)
    _age(intact)
    _age(damaged)
    yield intact, damaged, cases
    for folder, dirs, _ in os.walk(damaged):  # let pytest clean up the no-access folder
        for name in dirs:
            path = Path(folder) / name
            if not path.is_symlink():
                os.chmod(path, 0o755)


def _expected_unreadable(case: Case) -> int | None:
    if case.name == "no-permission" and AS_ROOT:
        return 0
    return case.unreadable_tasks


def _intact_part(snap: dict[str, Any], intact_keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in snap.items() if key in intact_keys}


def _get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(API + path, params=params)
    assert response.status_code < 500, (path, response.status_code, response.text[:500])
    return response


def _sweep(client: TestClient, flow_id: str, run_id: str) -> int:
    """Every endpoint of one run (and of each of its tasks); returns the requests made.
    Fails on any 5xx."""
    run = f"/flows/{quote(flow_id)}/runs/{quote(run_id)}"
    made = 0
    for sub in ("", "/dag", "/steps", "/timeline", "/timeline/overview", "/timeline/detail"):
        _get(client, run + sub)
        made += 1
    tasks = _get(client, run + "/tasks", limit=5000)
    if tasks.status_code != 200:
        return made + 1
    for task in tasks.json()["items"]:
        path = f"{run}/steps/{quote(task['step_name'])}/tasks/{quote(task['task_id'])}"
        detail = _get(client, path)
        made += 2
        if detail.status_code != 200:
            continue
        for stream in ("stdout", "stderr"):
            _get(client, f"{path}/logs/{stream}", limit=100)
            _get(client, f"{path}/logs/{stream}", start=0, limit=100)
            _get(client, f"{path}/logs/{stream}/search", q="line")
            made += 3
        for sub in ("/artifacts", "/cards", "/metadata"):
            _get(client, path + sub)
            made += 1
    return made


def test_a_damaged_datastore_is_indexed_and_served_without_losing_intact_runs(
    corpus: tuple[Path, Path, list[Case]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    intact_root, damaged_root, cases = corpus
    clean = Store(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    assert LocalIndexer(clean, intact_root).index_once().errors == 0
    expected = snapshot(clean)
    clean.close()
    intact_keys = {key for key in expected if key != "__flows__"}

    store = Store(f"sqlite:///{tmp_path / 'damaged.sqlite'}")
    caplog.set_level(logging.WARNING)
    indexer = LocalIndexer(store, damaged_root)
    first = indexer.index_once()
    # The damaged-run-self case: its record exists but is cut off.
    assert (first.errors, first.unreadable_runs) == (0, 1)
    # Further passes re-read every run that is not sealed: they must not warn again.
    for _ in range(2):
        again = indexer.index_once()
        assert again.errors == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings, "the damage was not reported at all"
    repeated = {w for w in warnings if warnings.count(w) > 1}
    assert not repeated, repeated

    assert _intact_part(snapshot(store), intact_keys) == _intact_part(expected, intact_keys)
    assert all(expected[key]["run"]["unreadable_tasks"] == 0 for key in intact_keys)

    original = victim_run(damaged_root).name
    ctx = AppContext(store=store, root=str(damaged_root))
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as client:
        reference = _get(client, f"/flows/{VICTIM_FLOW}/runs/{original}").json()
        for case in cases:
            response = _get(client, f"/flows/{VICTIM_FLOW}/runs/{case.run_id}")
            want = _expected_unreadable(case)
            if want is None:
                assert response.status_code == 404, case
                continue
            assert response.status_code == 200, case
            run = response.json()
            assert run["unreadable_tasks"] == want, (case, run)
            # What could be read is shown: every task folder is a task of the run.
            assert run["task_count"] == reference["task_count"], case
            assert _sweep(client, VICTIM_FLOW, case.run_id) > 10
        runs = _get(client, "/runs", limit=500).json()["items"]
        assert {(r["flow_id"], r["run_id"]) for r in runs} >= {
            tuple(key.split("/", 1)) for key in intact_keys
        }
    store.close()


def test_cases_read_as_the_damage_says(
    corpus: tuple[Path, Path, list[Case]], tmp_path: Path
) -> None:
    """What each damage shows, beyond not failing: unknown fields change nothing, a
    duplicated record does not double an attempt, an end before its start is no negative
    duration, files from the future do not make a run be re-read on every pass."""
    _, damaged_root, cases = corpus
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer = LocalIndexer(store, damaged_root)
    indexer.index_once()
    by_name = {case.name: case for case in cases}
    original = victim_run(damaged_root).name

    def tasks(run_id: str) -> list[dict[str, Any]]:
        ref = store.find_run(VICTIM_FLOW, run_id)
        assert ref is not None, run_id
        items, _ = store.list_tasks(ref, None, None, "task_id", 1000, None)
        return [store.get_task(ref, t["step_name"], t["task_id"]) for t in items]

    def shape(run_id: str) -> list[tuple[Any, ...]]:
        return [
            (t["step_name"], t["status"], len(t["attempts"]), t["started_at"], t["finished_at"])
            for t in tasks(run_id)
        ]

    reference = shape(original)
    assert shape(by_name["future-version"].run_id) == reference
    assert shape(by_name["duplicate-records"].run_id) == [
        (step, status, attempts, started, finished if step != "middle" else finished + 5)
        for step, status, attempts, started, finished in reference
    ]
    never_began = {t["step_name"]: t for t in tasks(by_name["task-without-attempts"].run_id)}
    assert never_began["middle"]["attempts"] == []
    for task in tasks(by_name["clock-jumps"].run_id):
        assert task["duration_ms"] is None or task["duration_ms"] >= 0
        for attempt in task["attempts"]:
            assert attempt.get("duration_ms") is None or attempt["duration_ms"] >= 0
    # The clock-jump run is from "tomorrow": read once, then sealed like any other.
    stats = indexer.index_once()
    assert stats.runs_read == 0, "a run is read again on every pass"
    store.close()


def test_names_with_spaces_and_unicode_are_indexed_and_served(
    fixture_root: Path, tmp_path: Path
) -> None:
    root = tmp_path / ".metaflow"
    shutil.copytree(fixture_root / ".metaflow", root, symlinks=True)
    flow_id, run_id, step, task_id = names_with_spaces_and_unicode(root)
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    assert LocalIndexer(store, root).index_once().errors == 0
    ctx = AppContext(store=store, root=str(root))
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as client:
        assert _get(client, f"/flows/{flow_id}/runs/{quote(run_id)}").status_code == 200
        path = f"/flows/{flow_id}/runs/{quote(run_id)}/steps/{quote(step)}/tasks/{quote(task_id)}"
        assert _get(client, path).status_code == 200
        log = _get(client, path + "/logs/stdout")
        assert log.status_code == 200 and log.json()["total"] > 0
        _sweep(client, flow_id, run_id)
    store.close()


def test_runs_deleted_or_rewritten_while_indexed_and_served(
    fixture_root: Path, tmp_path: Path
) -> None:
    """A thread deletes and re-creates runs while passes run and requests are answered:
    nothing fails, and once it stops the index equals a clean index of what is left."""
    root = tmp_path / ".metaflow"
    shutil.copytree(fixture_root / ".metaflow", root, symlinks=True)
    source = victim_run(root)
    spare = tmp_path / "spare"
    shutil.copytree(source, spare, symlinks=True)
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer = LocalIndexer(store, root)
    indexer.index_once()
    stop = threading.Event()
    churned = 0

    def churn() -> None:
        nonlocal churned
        while not stop.is_set():
            shutil.rmtree(source, ignore_errors=True)
            shutil.copytree(spare, source, symlinks=True)
            churned += 1

    ctx = AppContext(store=store, root=str(root))
    ctx.index.ready.set()
    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        with TestClient(create_app(ctx)) as client:
            passes = 0
            while passes < 5 or churned < 5:
                assert indexer.index_once().errors == 0
                _sweep(client, VICTIM_FLOW, source.name)
                passes += 1
    finally:
        stop.set()
        thread.join()
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(spare, source, symlinks=True)
    _age(root)
    indexer.index_once()
    clean = Store(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    LocalIndexer(clean, root).index_once()
    assert snapshot(store) == snapshot(clean)
    store.close()
    clean.close()


def test_a_huge_log_downloads_in_bounded_pieces(fixture_root: Path, tmp_path: Path) -> None:
    """The 2 GiB log streams (the first MiB arrives without the rest being read into
    memory), and a page shows a cut, marked line instead of a 2 GiB string."""
    root = tmp_path / ".metaflow"
    shutil.copytree(fixture_root / ".metaflow", root, symlinks=True)
    cases = build_corpus(root)
    huge = next(case for case in cases if case.name == "huge-log")
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    LocalIndexer(store, root).index_once()
    ctx = AppContext(store=store, root=str(root))
    ctx.index.ready.set()
    task = _get_task_path(store, huge.run_id, "middle")
    with TestClient(create_app(ctx)) as client:
        page = _get(client, task + "/logs/stdout")
        assert page.status_code == 200
        longest = max(len(line["text"]) for line in page.json()["items"])
        assert longest < 100_000
        assert any("more bytes in this line" in line["text"] for line in page.json()["items"])
        with client.stream("GET", API + task + "/logs/stdout/download") as response:
            assert response.status_code == 200
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received >= 1 << 20:
                    break
            assert received >= 1 << 20
    store.close()


def _get_task_path(store: Store, run_id: str, step: str) -> str:
    ref = store.find_run(VICTIM_FLOW, run_id)
    assert ref is not None
    items, _ = store.list_tasks(ref, step, None, "task_id", 10, None)
    return f"/flows/{VICTIM_FLOW}/runs/{run_id}/steps/{step}/tasks/{items[0]['task_id']}"


@pytest.mark.parametrize("piece", [1, 3, 7, 1 << 20])
def test_streamed_download_is_the_whole_text(piece: int) -> None:
    """`iter_bytes` (the download) is byte for byte `text()` (the client's `Task.stdout`),
    also when a piece boundary splits a UTF-8 sequence or an invalid byte."""
    from flowscope.datastore.mflog import MergedLog

    raw = (
        b"[MFLOG|0|2026-12-01T10:00:00.000000Z|runtime|a]h\xc3\xa9llo w\xc3\xb6rld\n"
        b"not mflog \xff\xfe \xe2\x98\x83 snow\n"
        b"[MFLOG|0|2026-12-01T10:00:01.000000Z|runtime|b]\xe2\x98\x83\xe2\x98\n"
    )
    log = MergedLog([raw])
    assert b"".join(log.iter_bytes(piece)) == log.text().encode("utf-8")
