"""Creating metaflow-service's v3 tables: `flowscope db upgrade`.

On PostgreSQL the tables come out as metaflow-service's own migrations leave them at their
newest version (same columns in the same order, types, sequences, constraint and index
names, the GIN and expression indexes), and goose's version table records every one of
those migrations as applied. So metaflow-service's migration service sees a current
database and both services can share it. The statements below are written for the final
state, not replayed migration by migration; `tests/test_v3_ddl.py` compares the catalog
they make with the one metaflow-service's migrations make (`tests/v3_catalog.json`).

On SQLite (a one-process team server) the same tables are made from the declarations in
`v3_schema`: JSON as text, integer keys, ids and run numbers assigned by flowscope.

An existing set of v3 tables is never altered: `upgrade` creates what is missing only when
nothing is there yet, in one transaction, so it is safe to run again and again.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from flowscope.service.v3_schema import V3_TABLES, v3

GOOSE_TABLE = "goose_db_version"
# metaflow-service's migration versions, oldest first (its migration_files/ folder).
# goose also records version 0 when it creates its table.
GOOSE_VERSIONS = (
    1,
    20200603104139,
    20201002000616,
    20210202145952,
    20210260056859,
    20211202100726,
    20220503175500,
    20230118020300,
    20260615000000,
    20260706000000,
    20260706000001,
    20260706000002,
    20260706000003,
)
# Held for the transaction, so two `db upgrade`s at once cannot both create.
_ADVISORY_LOCK = 0x666C6F77_7633  # "flowv3"

_PG_TABLES = (
    """CREATE TABLE flows_v3 (
        flow_id VARCHAR(255) NOT NULL,
        user_name VARCHAR(255),
        ts_epoch BIGINT NOT NULL,
        tags JSONB,
        system_tags JSONB,
        CONSTRAINT flows_v3_pkey PRIMARY KEY (flow_id)
    )""",
    """CREATE TABLE runs_v3 (
        flow_id VARCHAR(255) NOT NULL,
        run_number SERIAL NOT NULL,
        user_name VARCHAR(255),
        ts_epoch BIGINT NOT NULL,
        tags JSONB,
        system_tags JSONB,
        run_id VARCHAR(255),
        last_heartbeat_ts BIGINT,
        CONSTRAINT runs_v3_pkey PRIMARY KEY (flow_id, run_number),
        CONSTRAINT runs_v3_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES flows_v3 (flow_id),
        CONSTRAINT runs_v3_flow_id_run_id_key UNIQUE (flow_id, run_id)
    )""",
    """CREATE TABLE steps_v3 (
        flow_id VARCHAR(255) NOT NULL,
        run_number BIGINT NOT NULL,
        step_name VARCHAR(255) NOT NULL,
        user_name VARCHAR(255),
        ts_epoch BIGINT NOT NULL,
        tags JSONB,
        system_tags JSONB,
        run_id VARCHAR(255),
        CONSTRAINT steps_v3_pkey PRIMARY KEY (flow_id, run_number, step_name),
        CONSTRAINT steps_v3_flow_id_run_number_fkey FOREIGN KEY (flow_id, run_number)
            REFERENCES runs_v3 (flow_id, run_number),
        CONSTRAINT steps_v3_flow_id_run_id_step_name_key UNIQUE (flow_id, run_id, step_name)
    )""",
    """CREATE TABLE tasks_v3 (
        flow_id VARCHAR(255) NOT NULL,
        run_number BIGINT NOT NULL,
        step_name VARCHAR(255) NOT NULL,
        task_id BIGSERIAL NOT NULL,
        user_name VARCHAR(255),
        ts_epoch BIGINT NOT NULL,
        tags JSONB,
        system_tags JSONB,
        run_id VARCHAR(255),
        task_name VARCHAR(255),
        last_heartbeat_ts BIGINT,
        CONSTRAINT tasks_v3_pkey PRIMARY KEY (task_id),
        CONSTRAINT tasks_v3_flow_id_run_number_step_name_fkey
            FOREIGN KEY (flow_id, run_number, step_name)
            REFERENCES steps_v3 (flow_id, run_number, step_name),
        CONSTRAINT tasks_v3_flow_id_run_number_step_name_task_name_key
            UNIQUE (flow_id, run_number, step_name, task_name)
    )""",
    # flow_id is NOT NULL although declared nullable at first: it has always been part of
    # the primary key, and dropping a primary key keeps its columns' NOT NULL.
    """CREATE TABLE metadata_v3 (
        flow_id VARCHAR(255) NOT NULL,
        run_number BIGINT NOT NULL,
        step_name VARCHAR(255) NOT NULL,
        task_id BIGINT NOT NULL,
        id BIGSERIAL NOT NULL,
        field_name VARCHAR(255) NOT NULL,
        value TEXT NOT NULL,
        type VARCHAR(255) NOT NULL,
        user_name VARCHAR(255),
        ts_epoch BIGINT NOT NULL,
        tags JSONB,
        system_tags JSONB,
        run_id VARCHAR(255),
        task_name VARCHAR(255),
        CONSTRAINT metadata_v3_pkey
            PRIMARY KEY (id, flow_id, run_number, step_name, task_id, field_name)
    )""",
    """CREATE TABLE artifact_v3 (
        flow_id VARCHAR(255) NOT NULL,
        run_number BIGINT NOT NULL,
        step_name VARCHAR(255) NOT NULL,
        task_id BIGINT NOT NULL,
        name VARCHAR(255) NOT NULL,
        location VARCHAR(255) NOT NULL,
        ds_type VARCHAR(255) NOT NULL,
        sha VARCHAR(255),
        type VARCHAR(255),
        content_type VARCHAR(255),
        user_name VARCHAR(255),
        attempt_id SMALLINT NOT NULL,
        ts_epoch BIGINT NOT NULL,
        tags JSONB,
        system_tags JSONB,
        run_id VARCHAR(255),
        task_name VARCHAR(255),
        CONSTRAINT artifact_v3_pkey
            PRIMARY KEY (flow_id, run_number, step_name, task_id, attempt_id, name)
    )""",
)

# name -> (table, what it indexes). Besides the ones the constraints above make.
_PG_INDEXES = {
    "flows_v3_idx_ts_flow_desc": ("flows_v3", "(ts_epoch DESC, flow_id DESC)"),
    "runs_v3_idx_ts_epoch": ("runs_v3", "(ts_epoch)"),
    "runs_v3_idx_gin_tags_combined": ("runs_v3", "USING gin ((tags || system_tags))"),
    "runs_v3_idx_flow_id_asc_ts_epoch_desc": ("runs_v3", "(flow_id, ts_epoch DESC)"),
    # The verified owner: user_name only when a `user:<name>` system tag vouches for it.
    "runs_v3_idx_user_asc_ts_epoch_desc": (
        "runs_v3",
        "((CASE WHEN system_tags ? ('user:' || user_name) THEN user_name ELSE NULL END),"
        " ts_epoch DESC)",
    ),
    "runs_v3_idx_epoch_ts_desc": ("runs_v3", "(ts_epoch DESC)"),
    "runs_v3_idx_str_ids_primary_key_v2": ("runs_v3", "(flow_id, run_id)"),
    "runs_v3_idx_flow_ts_runnum_desc": ("runs_v3", "(flow_id, ts_epoch DESC, run_number DESC)"),
    "steps_v3_idx_str_ids_primary_key_v2": ("steps_v3", "(flow_id, run_id, step_name)"),
    "tasks_v3_idx_flow_id_run_id_step_name_task_name_v2": (
        "tasks_v3",
        "(flow_id, run_id, step_name, task_name)",
    ),
    "tasks_v3_idx_flow_run_step_ts_task_desc": (
        "tasks_v3",
        "(flow_id, run_number, step_name, ts_epoch DESC, task_id DESC)",
    ),
    "metadata_v3_akey": ("metadata_v3", "(flow_id, run_number, step_name, task_id, field_name)"),
    "metadata_v3_idx_str_ids_a_key": (
        "metadata_v3",
        "(flow_id, run_id, step_name, task_name, field_name)",
    ),
    "metadata_v3_idx_str_ids_a_key_with_task_id": (
        "metadata_v3",
        "(flow_id, run_id, step_name, task_id, field_name)",
    ),
    "metadata_v3_idx_flow_run_ts_id_desc": (
        "metadata_v3",
        "(flow_id, run_number, ts_epoch DESC, id DESC)",
    ),
    "artifact_v3_idx_str_ids_primary_key_v2": (
        "artifact_v3",
        "(flow_id, run_id, step_name, task_name, attempt_id, name)",
    ),
    "artifact_v3_idx_str_ids_primary_key_with_task_id": (
        "artifact_v3",
        "(flow_id, run_id, step_name, task_id, attempt_id, name)",
    ),
    "artifact_v3_idx_latest_attempt": (
        "artifact_v3",
        "(flow_id, run_number, task_id, name, ts_epoch DESC)",
    ),
}

# goose's own table, as goose (pressly/goose v3, postgres dialect) creates it.
_PG_GOOSE_TABLE = f"""CREATE TABLE {GOOSE_TABLE} (
    id SERIAL NOT NULL,
    version_id BIGINT NOT NULL,
    is_applied BOOLEAN NOT NULL,
    tstamp TIMESTAMP NULL DEFAULT now(),
    PRIMARY KEY (id)
)"""

# SQLite only: run numbers are max + 1 over the whole table (PostgreSQL's SERIAL is one
# sequence for all flows too), and this makes that max an index lookup.
_SQLITE_RUN_NUMBER_INDEX = "CREATE INDEX runs_v3_idx_run_number ON runs_v3 (run_number)"


class PartialSchemaError(RuntimeError):
    """Some v3 tables exist and others do not: not something flowscope will touch."""


@dataclass(frozen=True)
class UpgradeResult:
    created: bool  # False: the v3 tables were there already and were left alone
    goose_version: int | None  # the newest applied migration goose records, if any

    def describe(self) -> str:
        if self.created:
            return "created metaflow-service's v3 tables" + (
                f" (goose version {self.goose_version})" if self.goose_version else ""
            )
        version = f" at goose version {self.goose_version}" if self.goose_version else ""
        return f"metaflow-service's v3 tables are present{version}; left unchanged"


def upgrade(engine: Engine) -> UpgradeResult:
    """Create the v3 tables on a database that has none; leave existing ones alone."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        present = _present_tables(conn)
        names = [t.name for t in V3_TABLES]
        if present >= set(names):
            return UpgradeResult(created=False, goose_version=goose_version(conn))
        if present & set(names):
            raise PartialSchemaError(
                "this database has some of metaflow-service's v3 tables "
                f"({', '.join(n for n in names if n in present)}) but not "
                f"{', '.join(n for n in names if n not in present)}; flowscope leaves a "
                "partial schema alone (finish it with metaflow-service's migrations)"
            )
        if engine.dialect.name == "postgresql":
            if GOOSE_TABLE in present:
                raise PartialSchemaError(
                    f"this database has a {GOOSE_TABLE} table but no v3 tables; flowscope "
                    "will not record metaflow-service's migrations in another tool's table"
                )
            _create_postgres(conn)
        else:
            v3.create_all(conn)
            conn.execute(sa.text(_SQLITE_RUN_NUMBER_INDEX))
        return UpgradeResult(created=True, goose_version=goose_version(conn))


def _present_tables(conn: Connection) -> set[str]:
    inspector = sa.inspect(conn)
    return set(inspector.get_table_names())


def _create_postgres(conn: Connection) -> None:
    for statement in _PG_TABLES:
        conn.execute(sa.text(statement))
    for name, (table, what) in _PG_INDEXES.items():
        conn.execute(sa.text(f"CREATE INDEX {name} ON {table} {what}"))
    conn.execute(sa.text(_PG_GOOSE_TABLE))
    # In goose's order: its table's row 0, then every migration as applied.
    for version in (0, *GOOSE_VERSIONS):
        conn.execute(
            sa.text(f"INSERT INTO {GOOSE_TABLE} (version_id, is_applied) VALUES (:v, true)"),
            {"v": version},
        )


def goose_version(conn: Connection) -> int | None:
    """The current version as goose tells it: the newest row's version, if applied."""
    if GOOSE_TABLE not in _present_tables(conn):
        return None
    rows = conn.execute(
        sa.text(f"SELECT version_id, is_applied FROM {GOOSE_TABLE} ORDER BY id DESC")
    ).all()
    rolled_back: set[int] = set()
    for version_id, is_applied in rows:
        if version_id in rolled_back:
            continue
        if is_applied:
            return int(version_id)
        rolled_back.add(version_id)
    return None
