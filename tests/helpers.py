"""Small helpers for tests that start real Metaflow runs themselves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flowscope.store import RunFilters, Store

LIVE_FLOWS = Path(__file__).parent / "live_flows"
T = TypeVar("T")


def generated_bigrun(root: Path, params: dict[str, Any]) -> Path:
    """The benchmark generator's big foreach run (bench/scenarios.py) under `root`, made by
    one worker so that a seed always gives the same files; returns its datastore."""
    from bench import generate

    generate.generate(root / "sysroot", "bigrun", params, workers=1)
    return generate.datastore_path(root / "sysroot")


def flow_env(sysroot: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(
        {
            "USERNAME": "tester",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot),
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DEFAULT_METADATA": "local",
            "PYTHONDONTWRITEBYTECODE": "1",
            **extra,
        }
    )
    return env


def start_flow(sysroot: Path, flow: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """Start a real flow in its own process group (so a test can kill all of it)."""
    (sysroot / ".metaflow").mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(LIVE_FLOWS / flow), "--no-pylint", "run", *args],
        cwd=sysroot,
        env=flow_env(sysroot, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    every: float = 0.1,
    explain: Callable[[], object] | None = None,
) -> T:
    """`check()` once it is truthy; `explain()` says what was seen when it never was."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            seen = f"; last seen: {explain()!r}" if explain is not None else ""
            raise AssertionError(f"condition not met within {timeout}s{seen}")
        time.sleep(every)


def snapshot(store: Store) -> dict[str, Any]:
    """Everything the API can show about every run, to compare two indexes."""
    runs, cursor, out = [], None, {}
    while True:
        page, cursor = store.list_runs(RunFilters(), "-started_at", 500, cursor)
        runs.extend(page)
        if cursor is None:
            break
    for run in runs:
        ref = store.find_run(run["flow_id"], run["run_id"])
        assert ref is not None
        tasks, tcursor = [], None
        while True:
            page, tcursor = store.list_tasks(ref, None, None, "task_id", 1000, tcursor)
            tasks.extend(page)
            if tcursor is None:
                break
        details = [store.get_task(ref, t["step_name"], t["task_id"]) for t in tasks]
        out[f"{run['flow_id']}/{run['run_id']}"] = {
            "run": store.get_run(ref),
            "steps": store.list_steps(ref),
            "tasks": details,
            "timeline": store.timeline(ref),
        }
    flows, _ = store.list_flows(500, None)
    for flow in flows:
        # Runs that started in the same millisecond have no order of their own: the index
        # breaks the tie by insertion order, which two indexes of the same files need not
        # share (copies of one run, as the crash soak makes, start together).
        flow["recent"] = sorted(
            flow["recent"], key=lambda r: (-(r["started_at"] or 0), str(r["run_id"]))
        )
        last = flow.get("last_run")
        if last and sum(r["started_at"] == last["started_at"] for r in flow["recent"]) > 1:
            flow["last_run"] = {"started_at": last["started_at"], "tied": True}
    out["__flows__"] = flows
    return out


def without_bridge(card_html: str) -> str:
    """A served card without the live-update bridge flowscope adds to it
    (api/routes/cards.py), to compare it with the card the client reads."""
    from flowscope.api.routes.cards import UPDATE_BRIDGE

    return card_html.replace(UPDATE_BRIDGE.decode(), "", 1)
