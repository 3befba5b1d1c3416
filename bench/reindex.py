"""Benchmark: "Re-indexing an unchanged datastore of 1,000 runs takes under 2 seconds".

    python -m bench.reindex                   # 1,000 runs, SQLite and PostgreSQL
    python -m bench.reindex --count 1000 --repeat 5 --no-postgres

Generates the runs (or reuses the folder), indexes them once from scratch, then
re-indexes the unchanged datastore `--repeat` times in-process (`LocalIndexer.index_once`,
what `flowscope serve` does on every pass) and once through the real CLI (`flowscope
index`, a fresh process: interpreter start-up, imports and migrations included).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import common, generate
from flowscope.ingest.local_indexer import LocalIndexer, PassStats
from flowscope.store import Store

TARGET_SECONDS = 2.0


@dataclass
class Result:
    backend: str
    first: PassStats
    again: list[PassStats]
    cli_seconds: float
    cli_output: str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reindex", description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where the runs are generated")
    parser.add_argument("--workers", type=int, default=2, help="processes that generate")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--pg-admin-url", default=common.PG_ADMIN_URL)
    args = parser.parse_args(argv)

    sysroot = args.dir or common.SCRATCH / f"runs-{args.count}"
    params = {"count": args.count, "seed": 0, "fail_every": 10, "foreach_width": 8, "days": 30.0}
    made = generate.ensure(sysroot, "runs", params, args.workers)
    datastore = generate.datastore_path(sysroot)
    print(f"datastore: {datastore} ({made.runs} runs, {made.tasks} tasks)")
    print(f"machine: {common.machine()}\n")

    results = []
    with tempfile.TemporaryDirectory(prefix="flowscope-reindex-") as scratch:
        sqlite_url = f"sqlite:///{Path(scratch) / 'index.sqlite'}"
        results.append(measure("sqlite", sqlite_url, datastore, args.repeat))
        if not args.no_postgres:
            with common.scratch_postgres(args.pg_admin_url) as pg_url:
                results.append(measure("postgresql", pg_url, datastore, args.repeat))
    print(report(results, made.runs))
    ok = all(common.spread([s.seconds for s in r.again])[1] < TARGET_SECONDS for r in results)
    return 0 if ok else 1


def measure(backend: str, url: str, datastore: Path, repeat: int) -> Result:
    store = Store(url)
    try:
        first = LocalIndexer(store, datastore).index_once()
        # A new indexer per pass, as a fresh `flowscope index` would start.
        again = [LocalIndexer(store, datastore).index_once() for _ in range(repeat)]
    finally:
        store.close()
    cli_seconds, output = _cli_index(url, datastore)
    return Result(backend, first, again, cli_seconds, output)


def _cli_index(url: str, datastore: Path) -> tuple[float, str]:
    command = [sys.executable, "-m", "flowscope.cli", "index", "--root", str(datastore)]
    seconds, done = common.timed(
        lambda: subprocess.run(
            [*command, "--db", url], capture_output=True, text=True, check=True, timeout=600
        )
    )
    return seconds, done.stdout.strip()


def report(results: list[Result], runs: int) -> str:
    rows = []
    for r in results:
        low, mid, high = common.spread([s.seconds for s in r.again])
        read = sorted({s.runs_read for s in r.again})
        cli_pass = re.search(r"in ([\d.]+)s", r.cli_output)
        rows.append(
            [
                r.backend,
                f"{r.first.seconds:.2f} s ({r.first.runs_read} runs, {r.first.tasks_read} tasks)",
                f"{low:.3f} / {mid:.3f} / {high:.3f} s",
                ",".join(str(n) for n in read),
                f"{r.cli_seconds:.2f} s" + (f" (pass {cli_pass[1]} s)" if cli_pass else ""),
                "yes" if mid < TARGET_SECONDS else "NO",
            ]
        )
    headers = [
        "database",
        "first index",
        f"re-index x{len(results[0].again)} min / median / max",
        "runs read",
        "`flowscope index` wall",
        f"< {TARGET_SECONDS:.0f} s",
    ]
    return f"Re-indexing an unchanged datastore of {runs} runs\n\n" + common.table(headers, rows)


if __name__ == "__main__":
    sys.exit(main())
