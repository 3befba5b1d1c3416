"""Crash soak (issue 12, point 2): SIGKILL `flowscope index` and `flowscope serve` at random
moments while the datastore changes under them; after each kill the index, once a
restarted `flowscope index` has run, must equal a clean full index of the same files.

    python -m bench.crash_soak --kills 50            # the documented run (a few minutes)
    python -m bench.crash_soak --kills 4 --seed 1    # what the default test run does

The datastore is a copy of the real fixture runs (tests/fixtures_runs.py; set
FLOWSCOPE_FIXTURE_CACHE to reuse them). While each process runs, a thread changes the copy
as users and Metaflow do: runs appear (copied in file by file, so a kill can find one half
written), runs are deleted, tags are rewritten with Metaflow's replace-the-file. Kills land
at a random moment within the time a full pass takes (measured first), so most land in
the middle of indexing; the report says how many found the process still at work.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.common import machine

ORIGINALS_MARK = "original-runs.json"


@dataclass
class Kill:
    command: str
    after_s: float
    was_running: bool


@dataclass
class SoakResult:
    kills: list[Kill] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    mutations: int = 0

    @property
    def mid_work(self) -> int:
        return sum(1 for k in self.kills if k.was_running)


class Mutator:
    """Changes a datastore the way users and Metaflow do, until paused."""

    def __init__(self, root: Path, originals: list[Path], rng: random.Random) -> None:
        self.root = root
        self.originals = originals
        self.rng = rng
        self.clones: list[Path] = []
        self.count = 0
        self.running = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def resume(self) -> None:
        self.idle.clear()
        self.running.set()

    def pause(self) -> None:
        """Return once no change is under way."""
        self.running.clear()
        self.idle.wait()

    def close(self) -> None:
        self.stop.set()
        self.running.set()
        self.thread.join()

    def _loop(self) -> None:
        while not self.stop.is_set():
            if not self.running.is_set():
                self.idle.set()
                self.running.wait()
                continue
            self.idle.clear()
            self._change()
            self.count += 1
            time.sleep(self.rng.uniform(0.0, 0.05))

    def _change(self) -> None:
        choice = self.rng.random()
        if choice < 0.45 or not self.clones:
            self._copy_in()
        elif choice < 0.75:
            victim = self.clones.pop(self.rng.randrange(len(self.clones)))
            shutil.rmtree(victim, ignore_errors=True)
        else:
            self._retag(self.rng.choice(self.originals + self.clones))

    def _copy_in(self) -> None:
        """A run appearing: its files copied one by one, record first, as a running flow
        writes them (a kill may find it half there)."""
        source = self.rng.choice(self.originals)
        target = source.parent / str(self.rng.randrange(10**15, 10**16))
        for folder, _, files in os.walk(source):
            where = target / Path(folder).relative_to(source)
            where.mkdir(parents=True, exist_ok=True)
            for name in sorted(files):
                shutil.copy2(Path(folder) / name, where / name, follow_symlinks=False)
                if where == target / "_meta" and name == "_self.json":
                    # A run of its own starts at its own moment (two runs in the same
                    # millisecond would leave "the flow's newest run" to chance).
                    self._shift_start(where / name)
        self.clones.append(target)

    def _shift_start(self, record_path: Path) -> None:
        record = orjson.loads(record_path.read_bytes())
        record["ts_epoch"] = int(record["ts_epoch"]) + self.rng.randrange(1, 10**9)
        record_path.write_bytes(orjson.dumps(record))

    def _retag(self, run: Path) -> None:
        record_path = run / "_meta" / "_self.json"
        try:
            record = orjson.loads(record_path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        record["tags"] = [*record.get("tags", [])[-3:], f"soak-{self.rng.randrange(1000)}"]
        tmp = record_path.with_name(f".{record_path.name}.tmp")
        tmp.write_bytes(orjson.dumps(record))
        os.replace(tmp, record_path)


def _first_difference(a: Any, b: Any, where: str = "") -> str:
    """Where two snapshots first differ, for the report."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return f"{where}: resumed {str(a)[:200]} != clean {str(b)[:200]}"


def flowscope(*args: str) -> list[str]:
    return [sys.executable, "-m", "flowscope.cli", *args]


def index_snapshot(url: str) -> dict[str, Any]:
    from tests.helpers import snapshot

    from flowscope.store import Store

    store = Store(url)
    try:
        return snapshot(store)
    finally:
        store.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_datastore(work: Path, sysroot: Path | None) -> tuple[Path, list[Path]]:
    """A private copy of the real fixture runs (made now unless `sysroot` holds them),
    and the run folders it starts with."""
    if sysroot is None:
        from tests.fixtures_runs import fixture_sysroot, run_fixture_flows

        sysroot = fixture_sysroot(work / "fixtures")
        run_fixture_flows(sysroot)
    root = work / "sysroot" / ".metaflow"
    shutil.rmtree(root.parent, ignore_errors=True)
    shutil.copytree(sysroot / ".metaflow", root, symlinks=True)
    originals = sorted(p.parent.parent for p in root.glob("*/*/_meta/_self.json"))
    return root, originals


def run_soak(
    kills: int,
    seed: int,
    work: Path,
    runs: int = 100,
    log: Any = print,
    sysroot: Path | None = None,
) -> SoakResult:
    rng = random.Random(seed)
    root, originals = make_datastore(work, sysroot)
    db = work / "killed.sqlite"
    url = f"sqlite:///{db}"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    mutator = Mutator(root, originals, rng)
    for _ in range(runs):  # a datastore big enough that a pass takes a while
        mutator._copy_in()
    # How long a full pass takes here, start-up included: kills land within it.
    started = time.monotonic()
    subprocess.run(
        flowscope("index", "--root", str(root), "--db", url),
        env=env,
        check=True,
        capture_output=True,
    )
    window = max(0.5, (time.monotonic() - started) * 1.3)
    db.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    log(f"a full pass takes {window / 1.3:.2f}s here; kills land within {window:.2f}s")

    result = SoakResult()
    mutator.start()
    try:
        for i in range(kills):
            command = "index" if i % 2 == 0 else "serve"
            args = ["--root", str(root), "--db", url]
            if command == "serve":
                args += ["--port", str(free_port()), "--poll"]
            mutator.resume()
            process = subprocess.Popen(
                flowscope(command, *args),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            # serve keeps indexing (a poll pass a second): give it up to two passes.
            after = rng.uniform(0, window * (2 if command == "serve" else 0.8))
            time.sleep(after)
            was_running = process.poll() is None
            if was_running:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            result.kills.append(Kill(command, after, was_running))
            mutator.pause()

            problems = []
            check = integrity(db) if db.exists() else "ok"
            if check != "ok":
                problems.append(f"integrity_check after the kill: {check}")
            restart = subprocess.run(
                flowscope("index", *args[:4]), env=env, capture_output=True, text=True
            )
            if restart.returncode != 0:
                problems.append(f"restart failed ({restart.returncode}): {restart.stderr[-2000:]}")
            clean_db = work / f"clean-{i}.sqlite"
            subprocess.run(
                flowscope("index", "--root", str(root), "--db", f"sqlite:///{clean_db}"),
                env=env,
                check=True,
                capture_output=True,
            )
            clean = index_snapshot(f"sqlite:///{clean_db}")
            try:
                resumed = index_snapshot(url)
            except Exception as exc:  # a damaged index is a finding, not a crash of the soak
                problems.append(f"the index cannot be opened: {exc!r}"[:2000])
                resumed = {}
            if resumed != clean:
                differ = sorted(
                    k for k in set(resumed) | set(clean) if resumed.get(k) != clean.get(k)
                )
                problems.append(f"index differs from a clean one in {differ[:5]}")
                for key in differ[:2]:
                    problems.append(
                        f"  {key}: {_first_difference(resumed.get(key), clean.get(key))}"
                    )
            for suffix in ("", "-wal", "-shm"):
                Path(f"{clean_db}{suffix}").unlink(missing_ok=True)
            state = "mid-work" if was_running else "already done"
            log(
                f"kill {i + 1}/{kills}: {command} after {after:.2f}s ({state}); "
                f"{len(clean) - 1} runs; " + ("OK" if not problems else "; ".join(problems))
            )
            result.mismatches.extend(f"kill {i + 1}: {p}" for p in problems)
    finally:
        mutator.close()
    result.mutations = mutator.count
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--runs", type=int, default=100, help="runs copied in before the kills")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="flowscope-crash-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"crash soak: {args.kills} kills, seed {args.seed}, in {work}; {machine()}")
    result = run_soak(args.kills, args.seed, work, args.runs)
    print(
        f"{len(result.kills)} kills ({result.mid_work} mid-work), {result.mutations} changes "
        f"to the datastore, {len(result.mismatches)} problems"
    )
    for problem in result.mismatches:
        print("  " + problem)
    return 1 if result.mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
