"""Syncing a metaflow-service database, and following it (issue 8, section 1).

    python -m bench.service_sync [--runs 1000000] [--big-run-tasks 100000] [--lag-samples 10]

1. An archive in PostgreSQL (`flowscope_bench_v3_<runs>`, made once by `flowscope db
   upgrade` and `bench.generate_v3`, reused while its row count matches).
2. `flowscope index --db <archive>`: the first sync into a fresh index, timed, into SQLite
   (`--index sqlite:///…`) and into PostgreSQL (the archive's own `flowscope` schema).
   Target: 1,000,000 runs with about 9,000,000 metadata rows in 5 minutes.
3. Lag: with `flowscope serve --db <archive>` following the synced index, new runs are
   committed straight into the v3 tables (as metaflow-service would commit them: a run, its
   steps, a task, its metadata), and the time until `/api/v1/runs` lists each one is
   measured. Target: 2 s. (A run written through flowscope's own `/metadata` wakes the
   follower directly; tests/test_service_follow.py checks that path.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.common import PG_ADMIN_URL, SCRATCH, free_port, machine, table

SYNC_TARGET_S = 300.0
LAG_TARGET_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--big-run-tasks", type=int, default=100_000)
    parser.add_argument("--lag-samples", type=int, default=10)
    parser.add_argument("--no-postgres-index", action="store_true")
    args = parser.parse_args()

    archive = _archive(args.runs, args.big_run_tasks)
    rows = _counts(archive)
    results = []
    sqlite_index = SCRATCH / f"v3-index-{args.runs}.sqlite"
    sqlite_index.unlink(missing_ok=True)
    results.append(("SQLite", _sync(archive, f"sqlite:///{sqlite_index}")))
    if not args.no_postgres_index:
        _drop_index_schema(archive)
        results.append(("PostgreSQL (schema flowscope)", _sync(archive, None)))
    lags = _lag(archive, f"sqlite:///{sqlite_index}", args.lag_samples)

    print(f"flowscope service sync; {machine()}")
    print(
        f"archive: {rows['runs_v3']:,} runs, {rows['tasks_v3']:,} tasks, "
        f"{rows['metadata_v3']:,} metadata rows, {rows['artifact_v3']:,} artifacts"
    )
    print(
        table(
            ["index", "first sync", "target 5 min"],
            [
                [name, f"{seconds:.0f} s", "ok" if seconds <= SYNC_TARGET_S else "missed"]
                for name, seconds in results
            ],
        )
    )
    print(
        table(
            ["new run committed to v3 -> listed by /runs", "median", "worst", "target 2 s"],
            [
                [
                    f"{len(lags)} runs, polling (no notify triggers)",
                    f"{statistics.median(lags):.2f} s",
                    f"{max(lags):.2f} s",
                    "ok" if max(lags) <= LAG_TARGET_S else "missed",
                ]
            ],
        )
    )
    out = SCRATCH / "service_sync.json"
    out.write_text(
        json.dumps({"machine": machine(), "rows": rows, "sync_s": dict(results), "lag_s": lags})
    )
    print(f"wrote {out}")
    missed = any(s > SYNC_TARGET_S for _, s in results) or max(lags) > LAG_TARGET_S
    return 1 if missed else 0


def _archive(runs: int, big: int) -> str:
    name = f"flowscope_bench_v3_{runs}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    admin = sa.create_engine(_driver(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is not None:
            try:
                if _counts(url)["runs_v3"] == runs:
                    return url
            except sa.exc.SQLAlchemyError:
                pass
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _run([sys.executable, "-m", "flowscope.cli", "db", "upgrade", "--db", url])
    _drop_index_schema(url)  # db upgrade also prepares flowscope's index; measured fresh below
    datastore = SCRATCH / f"v3-datastore-{runs}" / ".metaflow"
    _run(
        [
            sys.executable,
            "-m",
            "bench.generate_v3",
            "--db",
            url,
            "--runs",
            str(runs),
            "--big-run-tasks",
            str(big),
            "--datastore",
            str(datastore),
        ]
    )
    return url


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(_driver(url))
    with engine.connect() as conn:
        counts = {
            t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() or 0)
            for t in ("runs_v3", "tasks_v3", "metadata_v3", "artifact_v3")
        }
    engine.dispose()
    return counts


def _drop_index_schema(url: str) -> None:
    engine = sa.create_engine(_driver(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS flowscope CASCADE"))
    engine.dispose()


def _sync(archive: str, index: str | None) -> float:
    command = [sys.executable, "-m", "flowscope.cli", "index", "--db", archive]
    if index:
        command += ["--index", index]
    started = time.monotonic()
    _run(command)
    return time.monotonic() - started


def _lag(archive: str, index: str, samples: int) -> list[float]:
    from flowscope.service.v3_writes import V3Writes
    from flowscope.store.database import create_engine

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowscope.cli",
            "serve",
            "--db",
            archive,
            "--index",
            index,
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    writes = V3Writes(create_engine(archive))
    lags: list[float] = []
    try:
        _wait(lambda: _phase(base) == "following", 1800)
        for i in range(samples):
            committed = time.time()
            number = _commit_run(writes, i)
            while True:
                items = httpx.get(
                    f"{base}/api/v1/runs", params={"flow_id": "LagProbeFlow", "limit": 5}
                ).json()["items"]
                if any(item["run_id"] == str(number) for item in items):
                    lags.append(time.time() - committed)
                    break
                if time.time() - committed > 60:
                    lags.append(float("inf"))
                    break
                time.sleep(0.02)
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return lags


def _commit_run(writes: object, i: int) -> int:
    """A run, a step, a task and its first metadata, as the client's first calls make them."""
    from flowscope.service.v3_writes import Conflict, V3Writes

    assert isinstance(writes, V3Writes)
    with contextlib.suppress(Conflict):  # made by an earlier sample
        writes.create_flow("LagProbeFlow", {"user_name": "bench"})
    run = writes.create_run(
        "LagProbeFlow", {"user_name": "bench", "tags": [], "system_tags": ["user:bench"]}
    )
    number = int(run["run_number"])
    writes.create_step("LagProbeFlow", str(number), "start", {"user_name": "bench"})
    return number


def _phase(base: str) -> str | None:
    try:
        sync = httpx.get(f"{base}/api/v1/health", timeout=5).json().get("sync") or {}
    except httpx.HTTPError:
        return None
    phase = sync.get("phase")
    return str(phase) if phase else None


def _wait(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise SystemExit("timed out waiting for the server")


def _run(command: list[str]) -> None:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    print(done.stdout.strip(), f"({time.monotonic() - started:.0f} s)", file=sys.stderr)


def _driver(url: str) -> str:
    return "postgresql+psycopg://" + url.removeprefix("postgresql://")


if __name__ == "__main__":
    Path(SCRATCH).mkdir(parents=True, exist_ok=True)
    raise SystemExit(main())
