"""Generate a `.metaflow` datastore shaped exactly like Metaflow 2.19's local runtime's.

    python -m bench.generate --root DIR runs --count 1000
    python -m bench.generate --root DIR bigrun --tasks 100000
    python -m bench.generate --db URL archive --runs 1000000 --big-run-tasks 100000 --seed 0

DIR is a sysroot (the datastore goes to DIR/.metaflow) or a `.metaflow` folder. A
manifest (`flowscope-bench.json`, next to `.metaflow`) records what was generated, so the
benchmarks can reuse a folder instead of writing it again. Tasks are written by one
process per core; files are written directly, and identical artifact values share one
content-addressed blob, as in Metaflow.

`archive` writes no files: it fills an index database (SQLite or PostgreSQL) with a
realistic archive of runs, see bench/archive.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.plans import Run, Task
from bench.writer import RunContext, Writer

MANIFEST = "flowscope-bench.json"
DATASTORE = ".metaflow"
TASKS_PER_BATCH = 2000


@dataclass
class Generated:
    scenario: str
    params: dict[str, Any]
    runs: int
    tasks: int
    seconds: float
    generated_at: str


def datastore_path(root: Path) -> Path:
    """The `.metaflow` folder for DIR, the way flowscope's `--root` reads it."""
    root = root.expanduser().resolve()
    return root if root.name == DATASTORE else root / DATASTORE


def read_manifest(root: Path) -> Generated | None:
    try:
        data = json.loads((datastore_path(root).parent / MANIFEST).read_text())
        return Generated(**data)
    except (OSError, ValueError, TypeError):
        return None


def ensure(root: Path, scenario: str, params: dict[str, Any], workers: int) -> Generated:
    """The datastore for (scenario, params) at `root`: reused when the manifest says it
    is already there, else generated (replacing an earlier generated one)."""
    found = read_manifest(root)
    if found is not None and found.scenario == scenario and found.params == params:
        return found
    return generate(root, scenario, params, workers, replace=True)


def generate(
    root: Path, scenario: str, params: dict[str, Any], workers: int, replace: bool = False
) -> Generated:
    target = datastore_path(root)
    _prepare(target, replace)
    started = time.monotonic()
    runs = _plan(scenario, params)
    tasks = write_runs(target, runs, workers, seed=int(params.get("seed", 0)))
    result = Generated(
        scenario=scenario,
        params=params,
        runs=len(runs),
        tasks=tasks,
        seconds=round(time.monotonic() - started, 1),
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    manifest = target.parent / MANIFEST
    manifest.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


def _plan(scenario: str, params: dict[str, Any]) -> list[Run]:
    if scenario == "runs":
        return list(scenarios.small_runs(**params))
    if scenario == "bigrun":
        return [scenarios.big_run(**params)]
    raise ValueError(f"unknown scenario {scenario!r}")


def _prepare(target: Path, replace: bool) -> None:
    manifest = target.parent / MANIFEST
    if target.exists() and any(target.iterdir()):
        if not replace:
            raise SystemExit(f"{target} is not empty (use --replace to regenerate it)")
        if not manifest.exists():
            # Only ever delete what this generator made.
            raise SystemExit(f"{target} was not made by bench.generate; not touching it")
        manifest.unlink()
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)


def write_runs(target: Path, runs: list[Run], workers: int, seed: int = 0) -> int:
    """Write `runs` under the `.metaflow` folder `target`; returns the number of tasks."""
    root = str(target)
    writer = Writer(root, seed)
    for run in runs:
        writer.write_run_header(run)
    batches = list(_batches(root, runs))
    if workers > 1 and len(batches) > 1:
        with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(root, seed)) as pool:
            for _ in pool.map(_write_batch, batches):
                pass
    else:
        for batch in batches:
            _write_batch_with(writer, batch)
    for run in sorted(runs, key=lambda r: r.started_at):
        writer.finish_run(run)
    os.utime(root, ns=(time.time_ns(), max(r.started_at for r in runs) * 1_000_000))
    return sum(len(run.tasks) for run in runs)


Batch = list[tuple[RunContext, list[Task]]]


def _batches(root: str, runs: Iterable[Run]) -> Iterator[Batch]:
    batch: Batch = []
    size = 0
    for run in runs:
        ctx = RunContext.of(root, run)
        for i in range(0, len(run.tasks), TASKS_PER_BATCH):
            part = run.tasks[i : i + TASKS_PER_BATCH]
            batch.append((ctx, part))
            size += len(part)
            if size >= TASKS_PER_BATCH:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


_worker: Writer | None = None


def _start_worker(root: str, seed: int) -> None:
    global _worker
    _worker = Writer(root, seed + os.getpid())


def _write_batch(batch: Batch) -> None:
    assert _worker is not None
    _write_batch_with(_worker, batch)


def _write_batch_with(writer: Writer, batch: Batch) -> None:
    for ctx, tasks in batch:
        for task in tasks:
            writer.write_task(ctx, task)
    writer.forget_values()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--root", type=Path, help="sysroot or .metaflow folder (runs, bigrun)")
    parser.add_argument("--db", help="index database URL (archive)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--replace", action="store_true", help="delete a datastore this tool generated there"
    )
    commands = parser.add_subparsers(dest="scenario", required=True)
    runs = commands.add_parser("runs", help="many small runs of a few flows")
    runs.add_argument("--count", type=int, default=1000)
    runs.add_argument("--fail-every", type=int, default=10, help="every Nth run fails (0: none)")
    runs.add_argument("--foreach-width", type=int, default=8)
    runs.add_argument("--days", type=float, default=30.0, help="spread the runs over N days")
    big = commands.add_parser("bigrun", help="one run: start -> foreach of N tasks -> join -> end")
    big.add_argument("--tasks", type=int, default=100_000)
    big.add_argument("--retry-every", type=int, default=1000)
    big.add_argument("--catch-every", type=int, default=5000)
    archive = commands.add_parser("archive", help="an archive of runs straight into an index")
    archive.add_argument("--runs", type=int, default=1_000_000)
    archive.add_argument("--big-run-tasks", type=int, default=100_000)
    archive.add_argument("--seed", type=int, default=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.scenario == "archive":
        return _archive(parser, args)
    if args.root is None:
        parser.error(f"{args.scenario} needs --root")

    params = scenario_params(args)
    result = generate(args.root, args.scenario, params, args.workers, replace=args.replace)
    print(
        f"{datastore_path(args.root)}: {result.runs} runs, {result.tasks} tasks "
        f"in {result.seconds:.1f}s ({args.workers} workers)"
    )
    return 0


def _archive(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from bench.archive import generate_archive

    if not args.db:
        parser.error("archive needs --db")
    result = generate_archive(args.db, args.runs, args.big_run_tasks, args.seed)
    print(f"{args.db}: {result.runs:,} runs, {result.tasks:,} tasks in {result.seconds:.1f}s")
    if result.big_run:
        print(result.big_run)
    return 0


def scenario_params(args: argparse.Namespace) -> dict[str, Any]:
    if args.scenario == "runs":
        return {
            "count": args.count,
            "seed": args.seed,
            "fail_every": args.fail_every,
            "foreach_width": args.foreach_width,
            "days": args.days,
        }
    return {
        "tasks": args.tasks,
        "seed": args.seed,
        "retry_every": args.retry_every,
        "catch_every": args.catch_every,
    }


if __name__ == "__main__":
    sys.exit(main())
