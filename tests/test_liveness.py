"""Real flows, running and killed: the index tells the truth about the present.

The Metaflow client alone shows a killed local run as unfinished forever; flowscope must
report it failed (killed or lost) within 30 seconds. A run that keeps going is shown
running, and a new run appears in the API within 2 seconds of landing on disk.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.helpers import kill_group, start_flow, wait_for

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.ingest.live import LiveIndexer
from flowscope.ingest.liveness import scan_processes
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import RunFilters, Store


def _only_run(store: Store) -> dict | None:
    items, _ = store.list_runs(RunFilters(flow_id="SlowFlow"), "-started_at", 10, None)
    return items[0] if items else None


@pytest.mark.parametrize("how", ["sigkill", "ctrl-c"])
def test_killed_run_turns_failed_within_30s(tmp_path: Path, how: str) -> None:
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer = LocalIndexer(store, tmp_path / ".metaflow")
    # Each work task takes 100 s: the run cannot end by itself before it is stopped, however
    # slowly the machine indexes (at 2 s a tick it once did, and was rightly completed).
    flow = start_flow(tmp_path, "slow_flow.py", SLOW_FLOW_SLEEP_S="20", SLOW_FLOW_WIDTH="2")
    try:

        def running_task() -> dict | None:
            indexer.index_once()
            run = _only_run(store)
            if run is None or run["status"] != "running":
                return None
            ref = store.find_run(run["flow_id"], run["run_id"])
            assert ref is not None
            tasks, _ = store.list_tasks(ref, "work", "running", "task_id", 10, None)
            return tasks[0] if tasks else None

        wait_for(running_task, timeout=60, every=0.5)
    finally:
        assert flow.poll() is None, "the run ended by itself before it could be stopped"
        if how == "ctrl-c":
            # What a terminal sends the whole foreground process group on Ctrl-C.
            os.killpg(flow.pid, signal.SIGINT)
            flow.wait(timeout=30)
        else:
            kill_group(flow)
    killed_at = time.monotonic()

    def failed() -> dict | None:
        indexer.index_once()
        run = _only_run(store)
        return run if run and run["status"] == "failed" else None

    def seen() -> object:
        run = _only_run(store)
        table = indexer.liveness.table
        return (run and (run["status"], run["status_reason"]), table.runtimes)

    run = wait_for(failed, timeout=30, every=1.0, explain=seen)
    took = time.monotonic() - killed_at
    if how == "ctrl-c":
        # Ctrl-C raises KeyboardInterrupt inside the running task, which may record its
        # own failure (attempt_ok False) before dying: then Metaflow itself says "error".
        assert run["status_reason"] in ("killed", "lost", "error")
    else:
        assert run["status_reason"] in ("killed", "lost")
    ref = store.find_run(run["flow_id"], run["run_id"])
    assert ref is not None
    tasks, _ = store.list_tasks(ref, None, None, "task_id", 100, None)
    assert not [t for t in tasks if t["status"] == "running"]
    dead = ("killed", "lost", "error") if how == "ctrl-c" else ("killed", "lost")
    assert [t for t in tasks if t["status"] == "failed" and t["status_reason"] in dead]
    assert took < 30
    store.close()


LISTED_WITHIN_S = 30


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_serve_shows_a_new_run_within_2s_and_follows_it_to_completed(
    tmp_path: Path, poll: bool
) -> None:
    (tmp_path / ".metaflow").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store)
    # No safety-net full pass during the test: only file events (or the polling passes
    # that stand in for them) can find the new run.
    live = LiveIndexer(
        LocalIndexer(store, tmp_path / ".metaflow"),
        ctx.index.ready,
        poll=poll,
        full_pass_every_s=3600,
    )
    live.start()
    try:
        with TestClient(create_app(ctx)) as api:
            wait_for(lambda: api.get("/api/v1/health").json()["ready"], timeout=10)
            flow = start_flow(tmp_path, "slow_flow.py", SLOW_FLOW_SLEEP_S="0.3")
            try:
                record = wait_for(
                    lambda: (
                        next(
                            iter((tmp_path / ".metaflow" / "SlowFlow").glob("*/_meta/_self.json")),
                            None,
                        )
                        if (tmp_path / ".metaflow" / "SlowFlow").is_dir()
                        else None
                    ),
                    timeout=60,
                    every=0.02,
                )

                def listed() -> dict | None:
                    items = api.get("/api/v1/runs", params={"flow_id": "SlowFlow"}).json()["items"]
                    return items[0] if items else None

                # The 2 s target is measured by `python -m bench.live_latency`; here a
                # deadline that load cannot break but that the hourly pass cannot meet.
                wait_for(listed, timeout=LISTED_WITHIN_S, every=0.05)
                run_id = record.parent.parent.name

                def completed() -> dict | None:
                    run = api.get(f"/api/v1/flows/SlowFlow/runs/{run_id}").json()
                    return run if run["status"] == "completed" else None

                run = wait_for(completed, timeout=90, every=0.25)
                assert flow.wait(timeout=60) == 0
                assert run["finished_at"] >= run["started_at"]
                steps = api.get(f"/api/v1/flows/SlowFlow/runs/{run_id}/steps").json()["items"]
                assert {s["step_name"]: s["task_counts"]["completed"] for s in steps} == {
                    "start": 1,
                    "work": 3,
                    "join": 1,
                    "end": 1,
                }
            finally:
                if flow.poll() is None:
                    kill_group(flow)
    finally:
        live.stop()
        store.close()


def test_a_failed_run_is_failed_as_soon_as_its_runtime_exits(tmp_path: Path) -> None:
    """No file-time grace: the runtime is gone, so the run is over (issue 7)."""
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    flow = start_flow(tmp_path, "slow_flow.py", SLOW_FLOW_SLEEP_S="0", SLOW_FLOW_FAIL="1")
    assert flow.wait(timeout=120) != 0
    LocalIndexer(store, tmp_path / ".metaflow").index_once()
    run = _only_run(store)
    assert run is not None
    assert (run["status"], run["status_reason"]) == ("failed", "error")
    store.close()


def _task_processes(run_id: str) -> set[str]:
    table = scan_processes()
    return {task for run, task in table.tasks if run == run_id}


def test_a_run_between_tasks_is_running_while_its_runtime_lives(tmp_path: Path) -> None:
    """The runtime, stopped (SIGSTOP) so that it launches nothing more, keeps its run
    running once its last task process is gone; killed, the run is over at the next look,
    both for an indexer that saw it as a task's parent and for one that never did."""
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    root = tmp_path / ".metaflow"
    watcher = LocalIndexer(store, root)
    flow = start_flow(tmp_path, "slow_flow.py", SLOW_FLOW_SLEEP_S="0.5", SLOW_FLOW_WIDTH="1")
    try:

        def start_task_running() -> str | None:
            watcher.index_once()
            run = _only_run(store)
            if run is None:
                return None
            ref = store.find_run(run["flow_id"], run["run_id"])
            assert ref is not None
            tasks, _ = store.list_tasks(ref, None, "running", "task_id", 10, None)
            alive = _task_processes(run["run_id"])
            return run["run_id"] if tasks and alive else None

        run_id = wait_for(start_task_running, timeout=60, every=0.2)
        os.kill(flow.pid, signal.SIGSTOP)
        wait_for(lambda: not _task_processes(run_id), timeout=60, every=0.2)
        stranger = LocalIndexer(Store(f"sqlite:///{tmp_path / 'other.sqlite'}"), root)
        for indexer in (watcher, stranger):
            indexer.index_once()
            run = _only_run(indexer.store)
            assert run is not None and run["status"] == "running"
    finally:
        kill_group(flow)
    for indexer in (watcher, stranger):
        indexer.index_once()
        run = _only_run(indexer.store)
        assert run is not None and run["status"] == "failed", (indexer is watcher, run)
    stranger.store.close()
    store.close()
