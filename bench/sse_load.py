"""Load benchmark for the live event stream (issue 4).

    python -m bench.sse_load [--subscribers 200] [--seconds 300]

Starts a real `flowscope serve` on loopback over a scratch datastore, attaches N
subscribers to `/api/v1/events` (every run-level event), and keeps real Metaflow runs going (a foreach of 20 tasks that sleep
and print) for the given time. At the end it checks that every subscriber received every
event it should have, in order, with no gaps, and reports the change-on-disk-to-subscriber
latency and the server's memory (RSS) over time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.helpers import flow_env
from tests.sse_client import free_port

RUN_KINDS = ("run_created", "run_status", "run_tags")
FLOW = Path(__file__).resolve().parent.parent / "tests" / "live_flows" / "slow_flow.py"


@dataclass
class Listener:
    name: str
    events: list[tuple[int, str, dict, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def listen(
    client: httpx.AsyncClient,
    url: str,
    listener: Listener,
    stop: asyncio.Event,
    until_run_ends: bool = False,
) -> None:
    """Record a stream's events; a run page's stream ends with its run, as the page would."""
    try:
        async with client.stream("GET", url) as response:
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if stop.is_set():
                    return
                if line == "":
                    if "id" in fields and fields.get("event") not in ("hello", "resync"):
                        data = json.loads(fields["data"])
                        listener.events.append(
                            (int(fields["id"]), fields["event"], data, time.time())
                        )
                        if (
                            until_run_ends
                            and fields["event"] == "run_status"
                            and data["status"] != "running"
                        ):
                            return
                    elif fields.get("event") == "resync":
                        listener.errors.append("resync")
                    fields = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(":")
                    fields[key] = value.removeprefix(" ")
    except (httpx.HTTPError, asyncio.CancelledError) as exc:
        if not stop.is_set():
            listener.errors.append(repr(exc))
            print(f"{listener.name}: {exc!r}", file=sys.stderr)


async def follow_new_runs(
    client: httpx.AsyncClient,
    base: str,
    followers: list[Listener],
    detail: dict[tuple[str, str], list[Listener]],
    tasks: list[asyncio.Task[None]],
    stop: asyncio.Event,
) -> None:
    opened: set[tuple[str, str, str]] = set()
    while not stop.is_set():
        for lst in followers:
            for event_id, kind, data, _ in list(lst.events):
                key = (data["flow_id"], data["run_id"])
                if kind != "run_created" or (lst.name, *key) in opened:
                    continue
                opened.add((lst.name, *key))
                sub = Listener(f"{lst.name}:{key}")
                detail.setdefault(key, []).append(sub)
                url = f"{base}/api/v1/events?flow_id={key[0]}&run_id={key[1]}&last_event_id={event_id - 1}"
                tasks.append(
                    asyncio.create_task(listen(client, url, sub, stop, until_run_ends=True))
                )
        await asyncio.sleep(0.2)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def main_async(subscribers: int, seconds: float) -> int:
    with tempfile.TemporaryDirectory(prefix="flowscope-sse-load-") as scratch:
        root = Path(scratch)
        (root / ".metaflow").mkdir()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowscope.cli",
                "serve",
                "--root",
                str(root),
                "--db",
                f"sqlite:///{root}/index.sqlite",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stop = asyncio.Event()
        memory: list[tuple[float, int]] = []
        runs_started = 0
        try:
            async with httpx.AsyncClient(
                timeout=httpx.Timeout(10, read=None),
                limits=httpx.Limits(max_connections=None),
            ) as client:
                for _ in range(100):
                    try:
                        if (await client.get(f"{base}/api/v1/health")).json()["ready"]:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                listeners = [Listener(f"all-{i}") for i in range(subscribers)]
                tasks = [
                    asyncio.create_task(listen(client, f"{base}/api/v1/events", lst, stop))
                    for lst in listeners
                ]
                # Half the subscribers also open each new run's own stream, as a run page
                # does, from the run's first event on.
                detail: dict[tuple[str, str], list[Listener]] = {}
                followers = listeners[: subscribers // 2]
                follower = asyncio.create_task(
                    follow_new_runs(client, base, followers, detail, tasks, stop)
                )
                await asyncio.sleep(2)
                began = time.monotonic()
                memory.append((0.0, rss_kb(server.pid)))
                flow = None
                while time.monotonic() - began < seconds:
                    if flow is None or flow.poll() is not None:
                        flow = subprocess.Popen(
                            [sys.executable, str(FLOW), "--no-pylint", "run", "--max-workers", "4"],
                            cwd=root,
                            env=flow_env(root, SLOW_FLOW_SLEEP_S="0.05", SLOW_FLOW_WIDTH="20"),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                        runs_started += 1
                    await asyncio.sleep(1)
                    if int(time.monotonic() - began) % 15 == 0:
                        memory.append((time.monotonic() - began, rss_kb(server.pid)))
                if flow is not None:
                    flow.wait(timeout=120)
                await asyncio.sleep(5)  # let the last events arrive
                memory.append((time.monotonic() - began, rss_kb(server.pid)))
                stop.set()
                follower.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                # What the server stored, to check nothing was lost.
                from flowscope.store import Store

                store = Store(f"sqlite:///{root}/index.sqlite")
                every_event = store.events_after(0, 10**7)
                store.close()
                stored = [e for e in every_event if e["kind"] in RUN_KINDS]
        finally:
            server.terminate()
            server.wait(timeout=10)

        expected_ids = [e["id"] for e in stored]
        first_seen = min((lst.events[0][0] for lst in listeners if lst.events), default=0)
        expected_ids = [i for i in expected_ids if i >= first_seen]
        lost = sum(1 for lst in listeners if [e[0] for e in lst.events] != expected_ids)
        errors = sum(len(lst.errors) for lst in listeners)
        streams = [sub for subs in detail.values() for sub in subs]
        for (flow_id, run_id), subs in detail.items():
            wanted = [
                e["id"] for e in every_event if (e["flow_id"], e["run_id"]) == (flow_id, run_id)
            ]
            lost += sum(1 for sub in subs if [e[0] for e in sub.events] != wanted)
            errors += sum(len(sub.errors) for sub in subs)
        latencies = []
        for lst in listeners:
            for _, kind, data, received in lst.events:
                if kind == "run_created":
                    record = (
                        root
                        / ".metaflow"
                        / data["flow_id"]
                        / data["run_id"]
                        / "_meta"
                        / "_self.json"
                    )
                    if record.exists():
                        latencies.append(received - record.stat().st_mtime)
        print(
            f"subscribers: {subscribers}, seconds: {seconds:.0f}, runs: {runs_started}, "
            f"run-level events stored: {len(stored)}, delivered per subscriber: {len(expected_ids)}"
        )
        print(
            f"run streams opened: {len(streams)}, "
            f"events delivered on them: {sum(len(sub.events) for sub in streams)}"
        )
        print(
            f"streams with a missing, extra or out-of-order event: {lost}; stream errors: {errors}"
        )
        if latencies:
            latencies.sort()
            print(
                f"run created on disk -> subscriber: median {statistics.median(latencies) * 1000:.0f} ms, "
                f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
            )
        print(
            "server RSS (MB) over time: "
            + ", ".join(f"{t:.0f}s={kb / 1024:.0f}" for t, kb in memory)
        )
        return 0 if lost == 0 and errors == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args()
    os.environ.setdefault("USERNAME", "bench")
    return asyncio.run(main_async(args.subscribers, args.seconds))


if __name__ == "__main__":
    raise SystemExit(main())
