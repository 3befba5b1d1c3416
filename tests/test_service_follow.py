"""Following a metaflow-service database while serving (issue 8, sections 1 and 2).

Real servers and real flows: `flowscope serve --db … --metadata-service` as `server.build`
wires it, the unmodified Metaflow client writing through `/metadata`, PostgreSQL for the
read-only role and for replicas sharing one index.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.helpers import LIVE_FLOWS, wait_for
from tests.metadata_service import run_flow, service_env, serving
from tests.pg import PG_ADMIN_URL

from flowscope.api.app import create_app
from flowscope.index_location import INDEX_SCHEMA, choose_index
from flowscope.ingest import service_follow
from flowscope.server import MetadataService, build
from flowscope.service import v3_ddl
from flowscope.service.v3_schema import V3_TABLES
from flowscope.store.database import create_engine


@contextmanager
def team_server(url: str, index_url: str | None = None) -> Iterator[str]:
    """What `flowscope serve --db URL --metadata-service` runs, on a free port."""
    ctx, follower = build(None, url, index_url=index_url, metadata=MetadataService())
    assert follower is not None
    follower.start()
    try:
        with serving(create_app(ctx)) as base:
            yield base
    finally:
        follower.stop()
        ctx.store.close()


def _runs(base: str, flow_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(
        f"{base}/api/v1/runs", params={"flow_id": flow_id}
    ).json()["items"]
    return items


def test_a_run_written_through_metadata_is_indexed_by_the_write_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With polling stretched to an hour, only /metadata's own writes can wake the
    follower: the run must still appear, and end completed, with its tasks."""
    monkeypatch.setattr(service_follow, "POLL_EVERY_S", 3600.0)
    url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    v3_ddl.upgrade(create_engine(url))
    sysroot = tmp_path / "sysroot"
    (sysroot / ".metaflow").mkdir(parents=True)
    with team_server(url) as base:
        wait_for(lambda: httpx.get(f"{base}/api/v1/health").json()["ready"], timeout=30)
        env = service_env(sysroot, f"{base}/metadata")
        run_id = run_flow(env, "branch_flow.py")

        def completed() -> dict[str, Any] | None:
            runs = [r for r in _runs(base, "BranchFlow") if r["run_id"] == run_id]
            return runs[0] if runs and runs[0]["status"] == "completed" else None

        wait_for(completed, timeout=60, every=0.1)
        steps = httpx.get(f"{base}/api/v1/flows/BranchFlow/runs/{run_id}/steps").json()["items"]
        assert {s["step_name"]: s["task_counts"]["completed"] for s in steps} == {
            "start": 1,
            "left": 1,
            "right": 1,
            "join": 1,
            "end": 1,
        }


def test_a_killed_run_turns_failed_within_60s_of_its_last_heartbeat(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    v3_ddl.upgrade(create_engine(url))
    sysroot = tmp_path / "sysroot"
    (sysroot / ".metaflow").mkdir(parents=True)
    with team_server(url) as base:
        env = service_env(sysroot, f"{base}/metadata", SLOW_FLOW_SLEEP_S="5", SLOW_FLOW_WIDTH="2")
        flow = subprocess.Popen(
            [sys.executable, str(LIVE_FLOWS / "slow_flow.py"), "--no-pylint", "run"],
            cwd=sysroot,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:

            def running_work() -> dict[str, Any] | None:
                runs = _runs(base, "SlowFlow")
                if not runs or runs[0]["status"] != "running":
                    return None
                tasks = httpx.get(
                    f"{base}/api/v1/flows/SlowFlow/runs/{runs[0]['run_id']}/tasks",
                    params={"step_name": "work", "status": "running"},
                ).json()["items"]
                return runs[0] if tasks else None

            run = wait_for(running_work, timeout=120, every=0.5)
        finally:
            os.killpg(flow.pid, signal.SIGKILL)
            flow.wait(timeout=30)
        killed_at = time.monotonic()

        def failed() -> dict[str, Any] | None:
            found = [r for r in _runs(base, "SlowFlow") if r["run_id"] == run["run_id"]]
            return found[0] if found and found[0]["status"] == "failed" else None

        dead = wait_for(failed, timeout=90, every=0.5)
        # The heartbeats stop with the processes; stale after 30 s, so failed well
        # within 60 s of the last one (the deadline above only guards a stuck test).
        assert time.monotonic() - killed_at < 60
        assert dead["status_reason"] == "lost"
        tasks = httpx.get(
            f"{base}/api/v1/flows/SlowFlow/runs/{run['run_id']}/tasks", params={"limit": 100}
        ).json()["items"]
        assert not [t for t in tasks if t["status"] == "running"]


# ---- PostgreSQL: a read-only role, and replicas -------------------------------------


@pytest.fixture
def team_pg(pg_server: str) -> Iterator[str]:
    """A database of its own with metaflow-service's tables and one real run in them."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"flowscope_team_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    v3_ddl.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {name}_ro"))
        admin.dispose()


def _one_run(url: str, tmp_path: Path) -> str:
    sysroot = tmp_path / "sysroot"
    (sysroot / ".metaflow").mkdir(parents=True, exist_ok=True)
    with team_server(url) as base:
        return run_flow(service_env(sysroot, f"{base}/metadata"), "linear_flow.py")


def _v3_digest(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        digest = {
            t.name: str(
                conn.execute(
                    sa.text(
                        f"SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t.name} x"
                    )
                ).scalar()
            )
            for t in V3_TABLES
        }
    engine.dispose()
    return digest


def test_a_read_only_role_keeps_the_index_elsewhere_and_writes_nothing(
    team_pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _one_run(team_pg, tmp_path)
    name = team_pg.rsplit("/", 1)[1]
    admin = create_engine(team_pg)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name}_ro LOGIN"))
        conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}_ro"))
        # The schema made by the sync above (as the owner) stays out of its reach.
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{INDEX_SCHEMA}" CASCADE'))
    admin.dispose()
    read_only = team_pg.replace("postgres@", f"{name}_ro@")
    before = _v3_digest(team_pg)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    location = choose_index(read_only)
    assert location.note is not None and "cannot write" in location.note
    assert location.url.startswith(f"sqlite:///{tmp_path / 'cache'}")
    done = subprocess.run(
        [sys.executable, "-m", "flowscope.cli", "index", "--db", read_only],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cannot write" in done.stderr and "1 runs" in done.stdout
    # The role could not have written (its grants are SELECT only), and nothing changed.
    assert _v3_digest(team_pg) == before
    from flowscope.store import Store

    store = Store(location.url)
    ref = store.find_run("LinearFlow", run_id)
    assert ref is not None and store.get_run(ref)["status"] == "completed"  # type: ignore[index]
    store.close()


def test_replicas_share_one_index_with_one_writer(team_pg: str, tmp_path: Path) -> None:
    run_id = _one_run(team_pg, tmp_path)
    index = choose_index(team_pg).url
    first, first_follow = build(None, team_pg, index_url=index)
    second, second_follow = build(None, team_pg, index_url=index)
    assert first_follow is not None and second_follow is not None
    first_follow.start()
    try:
        wait_for(lambda: first.index.sync and first.index.sync.phase == "following", timeout=60)
        second_follow.start()
        wait_for(lambda: second.index.sync and second.index.sync.phase == "standby", timeout=30)
        with serving(create_app(first)) as a, serving(create_app(second)) as b:
            assert _runs(a, "LinearFlow") == _runs(b, "LinearFlow")
            assert [r["run_id"] for r in _runs(b, "LinearFlow")] == [run_id]
        # The writer stops: the other takes over.
        first_follow.stop()
        wait_for(lambda: second.index.sync and second.index.sync.phase == "following", timeout=60)
    finally:
        first_follow.stop()
        second_follow.stop()
        first.store.close()
        second.store.close()
