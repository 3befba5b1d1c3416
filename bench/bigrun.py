"""Benchmark: one run of 100,000 tasks, indexed and served.

    python -m bench.bigrun                     # 100,000 tasks
    python -m bench.bigrun --tasks 20000 --dir /tmp/big20k

Generates the run (or reuses the folder), indexes it from scratch and again (unchanged),
then starts the real server (`flowscope serve`, a subprocess) on that index and times
the API calls a user opening the run makes, over HTTP: median of `--repeat`.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import common, generate
from flowscope.ingest.local_indexer import LocalIndexer, PassStats
from flowscope.store import Store

DEEP_PAGE = 50  # the 50th page of 1,000 tasks: rows 49,001-50,000
READY_TIMEOUT_S = 600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bigrun", description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where the run is generated")
    parser.add_argument("--workers", type=int, default=2, help="processes that generate")
    parser.add_argument(
        "--cold", action="store_true", help="empty the page cache before the first index (root)"
    )
    args = parser.parse_args(argv)

    sysroot = args.dir or common.SCRATCH / f"bigrun-{args.tasks}"
    params = {"tasks": args.tasks, "seed": 0, "retry_every": 1000, "catch_every": 5000}
    made = generate.ensure(sysroot, "bigrun", params, args.workers)
    datastore = generate.datastore_path(sysroot)
    print(f"datastore: {datastore} (1 run, {made.tasks} tasks; generated in {made.seconds} s)")
    print(f"machine: {common.machine()}\n")

    with tempfile.TemporaryDirectory(prefix="flowscope-bigrun-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'index.sqlite'}"
        cache = "cold" if args.cold and _drop_page_cache() else "warm"
        seconds, rss_mb = _first_index(datastore, url)
        print(
            f"first index (`flowscope index`, page cache {cache}): {seconds:.1f} s, "
            f"peak RSS {rss_mb:.0f} MB; target ≤ 60 s cold, ≤ 500 MB: "
            f"{'met' if seconds <= 60 and rss_mb <= 500 else 'MISSED'}"
        )
        store = Store(url)
        try:
            again = LocalIndexer(store, datastore).index_once()
        finally:
            store.close()
        headers = ["pass", "seconds", "runs read", "tasks read", "errors"]
        print(common.table(headers, [_pass_row("re-index (unchanged)", again)]))
        with serving(datastore, url) as base:
            rows = time_api(base, args.repeat, deep_page=min(DEEP_PAGE, -(-made.tasks // 1000)))
    print(f"\nAPI over HTTP (`flowscope serve`, SQLite), median of {args.repeat}\n")
    # The first request can pay for caches the next ones reuse: shown on its own.
    print(common.table(["request", "first", "median", "min", "max", "response"], rows))
    return 0


def _drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only), so the first index reads from disk."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        print("(cannot drop the page cache here: the first index runs warm)")
        return False
    return True


def _first_index(datastore: Path, url: str) -> tuple[float, float]:
    """The first index as a user runs it, a process of its own: seconds and peak RSS."""
    command = [sys.executable, "-m", "flowscope.cli", "index", "--root", str(datastore)]
    started = time.monotonic()
    process = subprocess.Popen([*command, "--db", url], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if status != 0:
        raise RuntimeError(f"flowscope index exited with status {status}")
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def _pass_row(label: str, stats: PassStats) -> list[Any]:
    return [label, f"{stats.seconds:.3f}", stats.runs_read, stats.tasks_read, stats.errors]


@contextmanager
def serving(datastore: Path, db_url: str) -> Iterator[str]:
    """`flowscope serve` on a free port until the block ends; its base URL."""
    port = common.free_port()
    command = [sys.executable, "-m", "flowscope.cli", "serve", "--root", str(datastore)]
    command += ["--db", db_url, "--port", str(port)]
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode() if server.stderr else ""
            raise RuntimeError(f"flowscope serve exited: {err[-2000:]}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).json().get("ready"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("flowscope serve did not become ready")


def time_api(base: str, repeat: int, deep_page: int) -> list[list[Any]]:
    with httpx.Client(base_url=f"{base}/api/v1", timeout=120) as client:
        run = client.get("/runs", params={"limit": 1}).json()["items"][0]
        path = f"/flows/{run['flow_id']}/runs/{run['run_id']}"
        deep_cursor = _cursor_of_page(client, f"{path}/tasks", deep_page)
        some_task = client.get(f"{path}/tasks", params={"step_name": "work", "limit": 1}).json()
        task = some_task["items"][0]
        requests: list[tuple[str, str, dict[str, Any]]] = [
            ("/runs?limit=100", "/runs", {"limit": 100}),
            ("run", path, {}),
            ("run /steps", f"{path}/steps", {}),
            ("/tasks?limit=1000 (page 1)", f"{path}/tasks", {"limit": 1000}),
            (
                f"/tasks?limit=1000 (page {deep_page}, by cursor)",
                f"{path}/tasks",
                {"limit": 1000, **({"cursor": deep_cursor} if deep_cursor else {})},
            ),
            (
                "/tasks?order=-duration_ms&limit=100",
                f"{path}/tasks",
                {"order": "-duration_ms", "limit": 100},
            ),
            ("/timeline", f"{path}/timeline", {}),
            ("one task", f"{path}/steps/{task['step_name']}/tasks/{task['task_id']}", {}),
        ]
        return [
            _time_request(client, label, url, params, repeat) for label, url, params in requests
        ]


def _cursor_of_page(client: httpx.Client, url: str, page: int) -> str | None:
    """Follow cursors from page 1 to get the cursor that fetches `page`."""
    cursor = None
    for _ in range(page - 1):
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        cursor = client.get(url, params=params).json()["next_cursor"]
        if cursor is None:
            break
    return cursor


def _time_request(
    client: httpx.Client, label: str, url: str, params: dict[str, Any], repeat: int
) -> list[Any]:
    seconds = []
    size = ""
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, params=params)  # httpx asks for gzip, as browsers do
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
        size = _size(len(response.content))
        if response.headers.get("content-encoding"):
            size += (
                f" ({_size(response.num_bytes_downloaded)} {response.headers['content-encoding']})"
            )
    return [
        label,
        common.ms(seconds[0]),
        common.ms(statistics.median(seconds)),
        common.ms(min(seconds)),
        common.ms(max(seconds)),
        size,
    ]


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.1f} kB"


if __name__ == "__main__":
    sys.exit(main())
