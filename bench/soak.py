"""Load and soak (issue 12, point 5): a real `flowscope serve` on a big archive, under
mixed API traffic and hundreds of event subscribers, while real flows run.

    python -m bench.soak --minutes 10                    # the issue's run (1M-run archive)
    python -m bench.soak --minutes 2 --runs 100000       # a shorter one

The archive is bench/archive.py's (`python -m bench.generate --db URL archive`), made once
into `$FLOWSCOPE_BENCH_DIR/soak-archive-<runs>.sqlite` and reused (the soak's own flows are
added to it, under their own source). Over loopback:
- `--rate` API requests a second (default 50), open loop (each due on schedule, whether
  or not earlier ones returned) over at most `--max-connections` (default 32) connections:
  a request that finds them all busy waits for one, and its latency counts from when it
  was due, so a server that falls behind shows as latency rather than as a client opening
  ever more connections (at 1,747 waiting connections, the client itself was the
  bottleneck). Requests are spread over the runs list (filters, tags, orders, search), the
  flows list, a run and its steps, DAG, tasks and timeline, a task, the big run's task
  pages, a live run's logs, and /health;
- `--subscribers` (default 200) clients of `/api/v1/events`;
- real Metaflow runs one after another (tests/live_flows/slow_flow.py, a foreach of 20).
It reports errors (5xx, transport errors; 4xx counted apart), p50/p95/max per endpoint,
the server's RSS over time and its trend (least-squares slope after the first fifth), and
whether any subscriber missed, duplicated or reordered an event (event ids against the
events the server stored). Exits non-zero on any error or event lost or out of order.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.helpers import flow_env
from tests.sse_client import free_port

from bench.common import SCRATCH, machine, machine_busy_s, process_cpu_s, table
from bench.sse_load import FLOW, RUN_KINDS, Listener, listen, rss_kb

API = "/api/v1"


@dataclass
class Sample:
    """Ids the requests are drawn from, read from the API before the load starts."""

    runs: list[tuple[str, str]] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    tasks: list[tuple[str, str, str, str]] = field(default_factory=list)
    big_run: tuple[str, str] | None = None


@dataclass
class Results:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    errors: list[str] = field(default_factory=list)


def archive_url(runs: int, big_run_tasks: int) -> str:
    from bench.archive import generate_archive

    path = SCRATCH / f"soak-archive-{runs}.sqlite"
    SCRATCH.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    started = time.monotonic()
    result = generate_archive(url, runs, big_run_tasks, seed=0)
    print(
        f"archive {path}: {result.runs} runs ({time.monotonic() - started:.0f} s to make or find)"
    )
    return url


async def sample_ids(client: httpx.AsyncClient, base: str, rng: random.Random) -> Sample:
    sample = Sample()
    for order in ("-started_at", "started_at", "-duration_ms", "-finished_at"):
        page = (await client.get(f"{base}{API}/runs", params={"limit": 500, "order": order})).json()
        for run in page["items"]:
            sample.runs.append((run["flow_id"], run["run_id"]))
            if run["user"]:
                sample.users.append(run["user"])
            sample.tags.extend(run["tags"][:2])
    flows = (await client.get(f"{base}{API}/flows", params={"limit": 500})).json()["items"]
    sample.flows = [f["flow_id"] for f in flows]
    biggest = None
    for flow_id, run_id in rng.sample(sample.runs, min(60, len(sample.runs))):
        run = (await client.get(f"{base}{API}/flows/{flow_id}/runs/{run_id}")).json()
        if biggest is None or run["task_count"] > biggest[0]:
            biggest = (run["task_count"], flow_id, run_id)
        tasks = await client.get(
            f"{base}{API}/flows/{flow_id}/runs/{run_id}/tasks", params={"limit": 20}
        )
        sample.tasks.extend(
            (flow_id, run_id, t["step_name"], t["task_id"]) for t in tasks.json()["items"]
        )
    for flow in flows:  # the big run is its flow's newest (bench/archive.py)
        last = flow.get("last_run") or {}
        if last:
            run = (
                await client.get(f"{base}{API}/flows/{flow['flow_id']}/runs/{last['run_id']}")
            ).json()
            if biggest is None or run["task_count"] > biggest[0]:
                biggest = (run["task_count"], flow["flow_id"], last["run_id"])
    sample.big_run = (biggest[1], biggest[2]) if biggest else None
    return sample


def pick_request(
    rng: random.Random, sample: Sample, live: list[tuple[str, ...]]
) -> tuple[str, str, dict[str, Any]]:
    """(endpoint label, path, params) of one request of the mix."""
    flow_id, run_id = rng.choice(sample.runs)
    run = f"{API}/flows/{flow_id}/runs/{run_id}"
    choice = rng.random()
    if choice < 0.30:
        params: dict[str, Any] = {"limit": 100}
        kind = rng.choice(["plain", "status", "flow", "user", "tag", "order", "search"])
        if kind == "status":
            params["status"] = rng.choice(["failed", "running", "completed"])
        elif kind == "flow":
            params["flow_id"] = rng.choice(sample.flows)
        elif kind == "user" and sample.users:
            params["user"] = rng.choice(sample.users)
        elif kind == "tag" and sample.tags:
            params["tag"] = rng.choice(sample.tags)
        elif kind == "order":
            params["order"] = rng.choice(["-duration_ms", "started_at", "-finished_at"])
        elif kind == "search":
            params["q"] = run_id[-8:-3]
        return f"/runs ({kind})", f"{API}/runs", params
    if choice < 0.36:
        return "/flows", f"{API}/flows", {"limit": 50}
    if choice < 0.46:
        return "run", run, {}
    if choice < 0.52:
        return "run/steps", run + "/steps", {}
    if choice < 0.56:
        return "run/dag", run + "/dag", {}
    if choice < 0.64:
        return "run/tasks", run + "/tasks", {"limit": 100}
    if choice < 0.70:
        return "run/timeline", run + "/timeline", {}
    if choice < 0.80 and sample.tasks:
        f, r, step, task = rng.choice(sample.tasks)
        return "task", f"{API}/flows/{f}/runs/{r}/steps/{step}/tasks/{task}", {}
    if choice < 0.86 and sample.big_run:
        f, r = sample.big_run
        return (
            "big run/tasks",
            f"{API}/flows/{f}/runs/{r}/tasks",
            {"limit": 500, "order": rng.choice(["task_id", "-duration_ms", "started_at"])},
        )
    if choice < 0.95 and live:
        f, r, step, task = rng.choice(live)
        return (
            "live task/logs",
            f"{API}/flows/{f}/runs/{r}/steps/{step}/tasks/{task}/logs/stdout",
            {},
        )
    return "/health", f"{API}/health", {}


async def one_request(
    client: httpx.AsyncClient,
    base: str,
    label: str,
    path: str,
    params: dict[str, Any],
    results: Results,
    due: float,
) -> None:
    """One request, timed from `due` (perf_counter), when the schedule sent it."""
    started = due
    try:
        response = await client.get(base + path, params=params)
    except httpx.HTTPError as exc:
        results.errors.append(f"{label}: {exc!r}")
        results.status[label][0] += 1
        return
    results.latency[label].append(time.perf_counter() - started)
    results.status[label][response.status_code] += 1
    if response.status_code >= 500:
        results.errors.append(f"{label} {path}: {response.status_code} {response.text[:200]}")


async def live_tasks(client: httpx.AsyncClient, base: str, live: list[tuple[str, ...]]) -> None:
    """Tasks of the soak's own flows (the only runs with logs on disk)."""
    response = await client.get(f"{base}{API}/runs", params={"flow_id": "SlowFlow", "limit": 5})
    for run in response.json().get("items", []):
        tasks = await client.get(
            f"{base}{API}/flows/{run['flow_id']}/runs/{run['run_id']}/tasks", params={"limit": 50}
        )
        for t in tasks.json().get("items", []):
            key = (run["flow_id"], run["run_id"], t["step_name"], t["task_id"])
            if key not in live:
                live.append(key)
    del live[:-200]


@dataclass
class CpuShares:
    """Where the machine's CPU went: the server (its indexer thread included), this load
    generator with its subscribers, and everything else (the flows, the database, other
    work on the machine). A server that falls behind while it had little of the CPU was
    starved; one that had plenty was too slow."""

    server_s: float
    generator_s: float
    machine_s: float

    @classmethod
    def now(cls, server_pid: int) -> CpuShares:
        return cls(process_cpu_s(server_pid), time.process_time(), machine_busy_s())

    def minus(self, earlier: CpuShares) -> CpuShares:
        return CpuShares(
            self.server_s - earlier.server_s,
            self.generator_s - earlier.generator_s,
            self.machine_s - earlier.machine_s,
        )

    def describe(self, elapsed: float) -> str:
        rest = max(0.0, self.machine_s - self.server_s - self.generator_s)
        cores = os.cpu_count() or 1

        def share(seconds: float) -> str:
            return f"{seconds:.0f} s ({seconds / elapsed:.2f} of a core)"

        return (
            f"CPU over the {elapsed:.0f} s ({cores} cores, {cores * elapsed:.0f} core-seconds): "
            f"server {share(self.server_s)}, load generator {share(self.generator_s)}, "
            f"everything else {share(rest)}, idle {share(max(0.0, cores * elapsed - self.machine_s))}"
        )


def niced(level: int) -> list[str]:
    return ["nice", "-n", str(level)] if level else []


def slope_mb_per_min(memory: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, after the first fifth (warm-up)."""
    points = memory[len(memory) // 5 :]
    if len(points) < 3:
        return 0.0
    xs = [t / 60 for t, _ in points]
    ys = [kb / 1024 for _, kb in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def soak(
    url: str,
    minutes: float,
    rate: float,
    subscribers: int,
    seed: int,
    flows_nice: int,
    max_connections: int = 32,
) -> int:
    rng = random.Random(seed)
    results = Results()
    memory: list[tuple[float, int]] = []
    flows_started = 0
    with tempfile.TemporaryDirectory(prefix="flowscope-soak-") as scratch:
        root = Path(scratch)
        (root / ".metaflow").mkdir()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "flowscope.cli", "serve", "--root", str(root / ".metaflow"),
             "--db", url, "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stop = asyncio.Event()
        flow: subprocess.Popen[bytes] | None = None
        try:
            async with (
                httpx.AsyncClient(
                    timeout=httpx.Timeout(30, read=None), limits=httpx.Limits(max_connections=None)
                ) as client,
                httpx.AsyncClient(
                    timeout=httpx.Timeout(30, read=None, pool=None),
                    limits=httpx.Limits(max_connections=max_connections),
                ) as requests,
            ):
                deadline = time.monotonic() + 300
                while True:
                    try:
                        if (await client.get(f"{base}{API}/health")).json()["ready"]:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not become ready")
                    await asyncio.sleep(0.2)
                sample = await sample_ids(client, base, rng)
                print(
                    f"sampled {len(sample.runs)} runs, {len(sample.tasks)} tasks; big run {sample.big_run}"
                )
                listeners = [Listener(f"sub-{i}") for i in range(subscribers)]
                streams = [
                    asyncio.create_task(listen(client, f"{base}{API}/events", lst, stop))
                    for lst in listeners
                ]
                await asyncio.sleep(2)
                live: list[tuple[str, ...]] = []
                pending: set[asyncio.Task[None]] = set()
                began = time.monotonic()
                cpu_at_start = CpuShares.now(server.pid)
                next_at = began
                last_mem = last_live = -1e9
                while time.monotonic() - began < minutes * 60:
                    now = time.monotonic()
                    if flow is None or flow.poll() is not None:
                        flow = subprocess.Popen(
                            [*niced(flows_nice), sys.executable, str(FLOW), "--no-pylint", "run",
                             "--max-workers", "4"],
                            cwd=root, env=flow_env(root, SLOW_FLOW_SLEEP_S="0.05", SLOW_FLOW_WIDTH="20"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        )  # fmt: skip
                        flows_started += 1
                    if now - last_mem >= 5:
                        memory.append((now - began, rss_kb(server.pid)))
                        last_mem = now
                    if now - last_live >= 10:
                        task = asyncio.create_task(live_tasks(client, base, live))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                        last_live = now
                    while next_at <= now:
                        label, path, params = pick_request(rng, sample, live)
                        task = asyncio.create_task(
                            one_request(
                                requests, base, label, path, params, results, time.perf_counter()
                            )
                        )
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                        next_at += 1 / rate
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                elapsed = time.monotonic() - began
                cpu = CpuShares.now(server.pid).minus(cpu_at_start)
                if flow is not None:
                    flow.wait(timeout=300)
                await asyncio.gather(*pending, return_exceptions=True)
                await asyncio.sleep(5)  # the last events
                memory.append((time.monotonic() - began, rss_kb(server.pid)))
                stop.set()
                for stream in streams:
                    stream.cancel()
                await asyncio.gather(*streams, return_exceptions=True)
        finally:
            server.terminate()
            server.wait(timeout=30)

        from flowscope.store import Store

        store = Store(url)
        newest = max((lst.events[-1][0] for lst in listeners if lst.events), default=0)
        first_seen = min((lst.events[0][0] for lst in listeners if lst.events), default=0)
        stored = [
            e["id"]
            for e in store.events_after(first_seen - 1, 10**7)
            if e["kind"] in RUN_KINDS and e["id"] <= newest
        ]
        store.close()

    lost = reordered = 0
    for lst in listeners:
        ids = [e[0] for e in lst.events]
        if ids != sorted(set(ids)):
            reordered += 1
        if ids != stored:
            lost += 1
    stream_errors = sum(len(lst.errors) for lst in listeners)
    rows = []
    total = 0
    for label in sorted(results.latency):
        lat = results.latency[label]
        codes = results.status[label]
        total += sum(codes.values())
        rows.append([
            label, sum(codes.values()), sum(n for c, n in codes.items() if c >= 500 or c == 0),
            sum(n for c, n in codes.items() if 400 <= c < 500),
            f"{_pct(lat, 0.5):.1f}", f"{_pct(lat, 0.95):.1f}", f"{max(lat) * 1000:.0f}",
        ])  # fmt: skip
    print(table(["endpoint", "requests", "errors", "4xx", "p50 ms", "p95 ms", "max ms"], rows))
    print(
        f"{total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s); {len(results.errors)} errors; "
        f"{flows_started} flows run"
    )
    print(
        f"{subscribers} subscribers: {len(stored)} run-level events each; streams with an event "
        f"missing or extra: {lost}, out of order: {reordered}; stream errors: {stream_errors}"
    )
    print(
        "server RSS (MB): "
        + ", ".join(f"{t:.0f}s={kb / 1024:.0f}" for t, kb in memory[:: max(1, len(memory) // 12)])
        + f"; trend after warm-up {slope_mb_per_min(memory):+.2f} MB/min"
    )
    print(cpu.describe(elapsed))
    for error in results.errors[:10]:
        print("  " + error)
    return 0 if not results.errors and not lost and not reordered and not stream_errors else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--runs", type=int, default=1_000_000, help="size of the archive")
    parser.add_argument("--big-run-tasks", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=50, help="API requests a second")
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-connections",
        type=int,
        default=32,
        help="connections the API requests share (not the subscribers')",
    )
    parser.add_argument("--db", default=None, help="an archive index to use instead")
    parser.add_argument(
        "--flows-nice",
        type=int,
        default=0,
        help="run the soak's flows at this nice level (0: as the server)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("USERNAME", "soak")
    url = args.db or archive_url(args.runs, args.big_run_tasks)
    print(
        f"soak: {args.minutes} min, {args.rate}/s, {args.subscribers} subscribers, "
        f"flows at nice {args.flows_nice}, requests over at most {args.max_connections} "
        f"connections; {machine()}"
    )
    code = asyncio.run(
        soak(
            url,
            args.minutes,
            args.rate,
            args.subscribers,
            args.seed,
            args.flows_nice,
            args.max_connections,
        )
    )
    print(f"done; {machine()}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
