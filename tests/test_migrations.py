"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from flowscope.store import RunFilters, Store
from flowscope.store.schema import include_name, metadata


def test_migrated_schema_matches_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_name": include_name}), metadata
        )
    assert [
        d
        for d in diff
        if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
    ] == []


def test_migrating_twice_is_harmless(store_url: str) -> None:
    Store(store_url).close()
    again = Store(store_url)
    again.close()


def test_head_revision_constant_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from flowscope.store.database import HEAD_REVISION, MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def _index_at(store_url: str, revision: str, tables: list[str]) -> tuple[Any, Any]:
    """An index migrated up to `revision` only, and the named tables as they are there."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from flowscope.store.database import MIGRATIONS, create_engine

    engine = create_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    meta = sa.MetaData()
    meta.reflect(engine, only=tables)
    return engine, meta


def test_0004_counts_caught_tasks_and_skips_steps_of_runs_that_are_over(store_url: str) -> None:
    # An index written before 0004: sealed runs are not read again, so the migration must
    # give them what the indexer now writes (issue 9).
    import sqlalchemy as sa

    engine, meta = _index_at(store_url, "0003", ["sources", "runs", "steps", "tasks"])
    runs, steps, tasks = meta.tables["runs"], meta.tables["steps"], meta.tables["tasks"]
    with engine.begin() as conn:
        conn.execute(sa.insert(meta.tables["sources"]).values(id=1, kind="local", location="x"))
        for pk, status in ((1, "completed"), (2, "running")):
            conn.execute(
                sa.insert(runs).values(
                    pk=pk,
                    source_id=1,
                    flow_id="F",
                    run_id=str(pk),
                    status=status,
                    tags="[]",
                    system_tags="[]",
                    task_count=2,
                    sealed=False,
                )
            )
            for step, counts in (("risky", 1), ("small", 0)):
                conn.execute(
                    sa.insert(steps).values(
                        run_pk=pk,
                        step_name=step,
                        position=0,
                        status="pending",
                        pending=0,
                        running=0,
                        completed=counts,
                        failed=0,
                    )
                )
            for task_id, caught in (("1", True), ("2", False)):
                conn.execute(
                    sa.insert(tasks).values(
                        run_pk=pk,
                        step_name="risky",
                        task_id=task_id,
                        task_key=int(task_id),
                        status="failed" if caught else "completed",
                        caught=caught,
                        attempt=0,
                    )
                )
    Store(store_url).close()
    with engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT pk, caught_count FROM runs")).all()) == {
            1: 1,
            2: 1,
        }
        skipped = conn.execute(
            sa.text("SELECT run_pk, step_name FROM steps WHERE status = 'skipped'")
        ).all()
        assert [tuple(row) for row in skipped] == [(1, "small")]  # not in the running run
    engine.dispose()


def test_0005_has_every_run_read_again(store_url: str) -> None:
    # Labels and records written before issue 9's readers must not stay in sealed runs:
    # the migration drops what lets a pass skip a run or a task, and the saved sync marks.
    import sqlalchemy as sa

    engine, meta = _index_at(store_url, "0004", ["sources", "runs", "tasks", "state"])
    runs, tasks, state = meta.tables["runs"], meta.tables["tasks"], meta.tables["state"]
    with engine.begin() as conn:
        conn.execute(sa.insert(meta.tables["sources"]).values(id=1, kind="service", location="x"))
        conn.execute(
            sa.insert(runs).values(
                pk=1,
                source_id=1,
                flow_id="F",
                run_id="1",
                status="completed",
                tags="[]",
                system_tags="[]",
                task_count=1,
                sealed=True,
                fingerprint="v3:9",
            )
        )
        conn.execute(
            sa.insert(tasks).values(
                run_pk=1,
                step_name="start",
                task_id="2",
                task_key=2,
                status="completed",
                caught=False,
                attempt=0,
                fingerprint="9:1",
            )
        )
        conn.execute(sa.insert(state).values(key="service-mark:1", value="{}"))
        conn.execute(sa.insert(state).values(key="other", value="kept"))
    Store(store_url).close()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sealed, fingerprint FROM runs")).one() == (False, None)
        assert conn.execute(sa.text("SELECT fingerprint FROM tasks")).scalar() is None
        assert conn.execute(sa.text("SELECT key FROM state")).scalars().all() == ["other"]
    engine.dispose()


def test_0007_gives_every_tag_row_its_runs_flow(store_url: str) -> None:
    # A flow's runs with a tag are read through the tag rows' copy of the flow (issue 10):
    # rows written before 0007 must have it, or those runs would vanish from that list.
    import sqlalchemy as sa

    engine, meta = _index_at(store_url, "0006", ["sources", "runs", "run_tags"])
    runs, run_tags = meta.tables["runs"], meta.tables["run_tags"]
    with engine.begin() as conn:
        conn.execute(sa.insert(meta.tables["sources"]).values(id=1, kind="local", location="x"))
        for pk, flow in ((1, "FlowA"), (2, "FlowB")):
            conn.execute(
                sa.insert(runs).values(
                    pk=pk,
                    source_id=1,
                    flow_id=flow,
                    run_id=str(pk),
                    status="completed",
                    tags='["nightly"]',
                    system_tags="[]",
                    task_count=0,
                    sealed=True,
                    started_at=pk,
                )
            )
            conn.execute(
                sa.insert(run_tags).values(tag="nightly", run_pk=pk, is_system=False, started_at=pk)
            )
    store = Store(store_url)
    with engine.connect() as conn:
        assert sorted(
            tuple(row) for row in conn.execute(sa.text("SELECT run_pk, flow_id FROM run_tags"))
        ) == [(1, "FlowA"), (2, "FlowB")]
    page = store.list_runs(RunFilters(flow_id="FlowB", tags=["nightly"]), "-started_at", 10, None)
    assert [run["run_id"] for run in page[0]] == ["2"]
    store.close()
    engine.dispose()
