"""`flowscope db upgrade` makes the v3 tables as metaflow-service's migrations leave them.

The expected catalog (`tests/v3_catalog.json`) was read from a database made by
metaflow-service's own migration files (see `tests/v3_catalog.py` to re-check it against a
copy of them); here the same catalog is read from a database made by `flowscope db upgrade`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.pg import fresh_pg
from tests.v3_catalog import differences, load_expected, read_catalog

from flowscope.cli import main
from flowscope.service import v3_ddl
from flowscope.service.v3_schema import V3_TABLES, flows_v3, runs_v3
from flowscope.store.database import create_engine


def _catalog(url: str) -> dict[str, object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return read_catalog(conn)
    finally:
        engine.dispose()


def _seed(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(flows_v3).values(flow_id="KeptFlow", ts_epoch=1, tags=["a"]))
        values = {"flow_id": "KeptFlow", "ts_epoch": 2, "run_id": "kept", "tags": ["b"]}
        if engine.dialect.name == "sqlite":
            values["run_number"] = 41
        conn.execute(sa.insert(runs_v3).values(**values))
    engine.dispose()


def _rows(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for t in V3_TABLES for r in conn.execute(sa.select(t))]
    engine.dispose()
    return rows


def test_postgres_catalog_equals_metaflow_service_migrations(pg_server: str) -> None:
    url = fresh_pg(pg_server)
    assert main(["db", "upgrade", "--db", url]) == 0
    problems = differences(load_expected(), _catalog(url))
    assert problems == [], "\n".join(problems)


def test_goose_sees_every_migration_applied(pg_server: str) -> None:
    url = fresh_pg(pg_server)
    engine = create_engine(url)
    result = v3_ddl.upgrade(engine)
    assert result.created
    assert result.goose_version == v3_ddl.GOOSE_VERSIONS[-1]
    with engine.connect() as conn:
        # What `goose status` asks for each migration file: its newest row, applied.
        for version in v3_ddl.GOOSE_VERSIONS:
            row = conn.execute(
                sa.text(
                    "SELECT tstamp, is_applied FROM goose_db_version WHERE version_id = :v "
                    "ORDER BY tstamp DESC LIMIT 1"
                ),
                {"v": version},
            ).one()
            assert row.is_applied and row.tstamp is not None
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_again_leaves_tables_and_data_untouched(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    else:
        url = fresh_pg(request.getfixturevalue("pg_server"))
    assert main(["db", "upgrade", "--db", url]) == 0
    _seed(url)
    before = _rows(url)
    catalog = _catalog(url) if kind == "postgresql" else None
    engine = create_engine(url)
    again = v3_ddl.upgrade(engine)
    engine.dispose()
    assert not again.created
    assert main(["db", "upgrade", "--db", url]) == 0
    assert _rows(url) == before and len(before) == 2
    if catalog is not None:
        assert _catalog(url) == catalog


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_partial_schema_is_refused_and_left_alone(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'partial.sqlite'}"
    else:
        url = fresh_pg(request.getfixturevalue("pg_server"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE flows_v3 (flow_id VARCHAR(255) PRIMARY KEY)"))
    assert main(["db", "upgrade", "--db", url]) == 2
    assert "partial schema" in capsys.readouterr().err
    assert set(sa.inspect(engine).get_table_names()) == {"flows_v3"}
    engine.dispose()


def test_sqlite_tables_take_flowscope_assigned_ids(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ids.sqlite'}"
    engine = create_engine(url)
    assert v3_ddl.upgrade(engine).created
    names = set(sa.inspect(engine).get_table_names())
    assert names == {t.name for t in V3_TABLES}
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("runs_v3")}
    assert {"runs_v3_idx_run_number", "runs_v3_idx_flow_ts_runnum_desc"} <= indexes
    engine.dispose()


def test_unreachable_database_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    assert main(["db", "upgrade", "--db", "postgresql://postgres@127.0.0.1:9/none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowscope: db upgrade failed:") and err.count("\n") == 1
