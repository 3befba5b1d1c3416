"""A metaflow-service database in read mode, and secrets in logs (issue 12, point 4).

tests/test_service_follow.py shows a SELECT-only role works and changes nothing; it cannot
show that flowscope never *tries* to write, since that role could not. Here the role
owns the v3 tables and may write them: `flowscope index` and `flowscope serve` in read
mode (no `--metadata-service`) index, serve the API and have no /metadata to write
through, and PostgreSQL's own row counters of the v3 tables (which count rolled-back
writes too) do not move, nor does their content.

And a real `flowscope serve` with an x-api-key on /metadata and a password in its
database URL never prints either, whatever requests it gets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa
from tests.e2e_server import _free_port, _wait_ready
from tests.test_service_follow import _one_run, _v3_digest, team_pg  # noqa: F401

from flowscope.service.v3_schema import V3_TABLES
from flowscope.store.database import create_engine


def _v3_writes(url: str) -> dict[str, int]:
    """Rows ever inserted, updated or deleted in each v3 table, by anyone, as PostgreSQL
    counts them: a write rolled back (refused, failed) counts too. Backends report their
    counts when they exit, and the flowscope processes have exited when this is read."""
    engine = create_engine(url)
    names = [t.name for t in V3_TABLES]
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        rows = conn.execute(
            sa.text(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
                "WHERE schemaname = 'public' AND relname = ANY(:names)"
            ),
            {"names": names},
        ).all()
    engine.dispose()
    found = {name: int(count) for name, count in rows}
    assert set(found) == set(names)
    return found


@contextmanager
def _serve(args: list[str], env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "flowscope.cli", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, timeout=120)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_read_mode_never_writes_the_v3_tables(team_pg: str, tmp_path: Path) -> None:  # noqa: F811
    run_id = _one_run(team_pg, tmp_path)
    before, writes = _v3_digest(team_pg), _v3_writes(team_pg)
    assert sum(writes.values()) > 0  # the run was written: the counters count
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    indexed = subprocess.run(
        [sys.executable, "-m", "flowscope.cli", "index", "--db", team_pg],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr
    with _serve(["serve", "--db", team_pg], env) as (url, server):
        run = httpx.get(f"{url}/api/v1/flows/LinearFlow/runs/{run_id}").json()
        assert run["status"] == "completed"
        tasks = httpx.get(f"{url}/api/v1/flows/LinearFlow/runs/{run_id}/tasks").json()["items"]
        for task in tasks:
            base = f"{url}/api/v1/flows/LinearFlow/runs/{run_id}/steps/{task['step_name']}/tasks/{task['task_id']}"
            assert httpx.get(base).status_code == 200
            assert httpx.get(f"{base}/logs/stdout").status_code in (200, 404)
            assert httpx.get(f"{base}/artifacts").status_code in (200, 404)
        # No metadata service in read mode: its write routes are not there at all.
        for method, path in (
            ("POST", "/metadata/flows/LinearFlow"),
            ("POST", f"/metadata/flows/LinearFlow/runs/{run_id}/heartbeat"),
            ("PATCH", f"/metadata/flows/LinearFlow/runs/{run_id}/tag/mutate"),
        ):
            assert httpx.request(method, url + path, json={}).status_code in (404, 405)
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output
    assert _v3_digest(team_pg) == before
    assert _v3_writes(team_pg) == writes  # not one row written, nor tried and rolled back


API_KEY = "x-api-key-SECRET-4c1d9e"
DB_PASSWORD = "db-password-SECRET-77aa"


def test_no_secret_reaches_the_logs(team_pg: str, tmp_path: Path) -> None:  # noqa: F811
    with_password = team_pg.replace("postgres@", f"postgres:{DB_PASSWORD}@")
    assert DB_PASSWORD in with_password  # trust auth: the password is accepted and unused
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "FLOWSCOPE_METADATA_API_KEYS": "second-key",
    }
    args = ["-v", "serve", "--db", with_password, "--metadata-service"]
    with _serve([*args, "--metadata-api-key", API_KEY], env) as (url, server):
        health = httpx.get(f"{url}/api/v1/health")
        assert DB_PASSWORD not in health.text and API_KEY not in health.text
        for key in (API_KEY, "second-key", API_KEY + "-wrong", ""):
            headers = {"x-api-key": key} if key else {}
            for method, path in (
                ("GET", "/metadata/ping"),
                ("GET", "/metadata/flows"),
                ("POST", "/metadata/flows/SecretFlow"),
                ("GET", "/metadata/no/such/route"),
                ("GET", "/api/v1/runs"),
            ):
                answer = httpx.request(method, url + path, headers=headers, json={})
                assert answer.status_code < 500, (method, path, answer.text)
                if path.startswith("/metadata") and key not in (API_KEY, "second-key"):
                    assert answer.status_code == 401
                    assert API_KEY not in answer.text
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "flowscope:" in output  # it did log (its start-up lines at least)
    assert DB_PASSWORD not in output, output
    assert API_KEY not in output, output
    assert "second-key" not in output, output
