"""Shared fixtures: real Metaflow runs, real SQLite files, a real PostgreSQL server and a
real S3-compatible server (moto) on loopback.

The store fixtures are parametrised over both databases. PostgreSQL is the local server
on 127.0.0.1:5432 (or FLOWSCOPE_TEST_PG_URL); each test session makes its own database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from tests import oracle
from tests.fixtures_runs import fixture_sysroot, run_fixture_flows
from tests.pg import PG_ADMIN_URL, fresh_pg
from tests.s3_server import CREDENTIALS, S3Server, start_moto

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sysroot holding every fixture run (made once per session)."""
    sysroot = fixture_sysroot(tmp_path_factory.mktemp("mf-fixtures"))
    oracle.configure(sysroot)  # before anything imports metaflow in this process
    run_fixture_flows(sysroot)
    return sysroot


@pytest.fixture(scope="session")
def fixture_runs(fixture_root: Path) -> dict[str, str]:
    """fixture name -> `Flow/run_id` of the real run."""
    return run_fixture_flows(fixture_root)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A fresh PostgreSQL database for this session; its URL."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"flowscope_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:  # pragma: no cover - CI always has PostgreSQL
        pytest.fail(f"PostgreSQL is required for the test suite ({PG_ADMIN_URL}): {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite'}"
    return fresh_pg(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def indexed_store(fixture_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One SQLite index of every fixture run, shared by the read-only API tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('index') / 'index.sqlite'}"
    opened = Store(url)
    stats = LocalIndexer(opened, fixture_root / ".metaflow").index_once()
    assert stats.errors == 0
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def api(indexed_store: Store) -> Iterator[TestClient]:
    ctx = AppContext(store=indexed_store)
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as client:
        yield client


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A moto S3 server on loopback for the whole session (stopped at the end).

    Its credentials are put in this process's environment too, so that boto3 (flowscope's
    S3 reader, the Metaflow client in a test) finds them through its usual chain.
    """
    server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        try:
            yield server
        finally:
            server.stop()


# Session fixtures defined in their own modules (imported last: they use the ones above).
from tests.team_fixture import team  # noqa: E402, F401
