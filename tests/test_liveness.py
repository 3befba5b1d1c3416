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
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import RunFilters, Store


def _only_run(store: Store) -> dict | None:
    items, _ = store.list_runs(RunFilters(flow_id="SlowFlow"), "-started_at", 10, None)
    return items[0] if items else None


@pytest.mark.parametrize("how", ["sigkill", "ctrl-c"])
def test_killed_run_turns_failed_within_30s(tmp_path: Path, how: str) -> None:
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer = LocalIndexer(store, tmp_path / ".metaflow")
    flow = start_flow(tmp_path, "slow_flow.py", SLOW_FLOW_SLEEP_S="2", SLOW_FLOW_WIDTH="2")
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

    run = wait_for(failed, timeout=30, every=1.0)
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


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_serve_shows_a_new_run_within_2s_and_follows_it_to_completed(
    tmp_path: Path, poll: bool
) -> None:
    (tmp_path / ".metaflow").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store)
    live = LiveIndexer(LocalIndexer(store, tmp_path / ".metaflow"), ctx.index.ready, poll=poll)
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
                landed = record.stat().st_mtime

                def listed() -> dict | None:
                    items = api.get("/api/v1/runs", params={"flow_id": "SlowFlow"}).json()["items"]
                    return items[0] if items else None

                wait_for(listed, timeout=5, every=0.05)
                assert time.time() - landed < 2.0
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
