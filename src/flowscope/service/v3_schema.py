"""The v3 tables of metaflow-service, as its migrations leave them (newest migration).

Declared here once, for the queries of both directions: reading a team's database as a
source and being the metadata service. These declarations are for querying; the tables
are created by `flowscope db upgrade`, which on PostgreSQL makes them exactly as
metaflow-service's migrations do (`jsonb`, serial ids, the GIN and expression indexes),
and on SQLite (a one-process team server) as JSON text and integer keys with ids
flowscope assigns itself.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    FetchedValue,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

v3 = MetaData()

Json = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")
Name = String(255)

flows_v3 = Table(
    "flows_v3",
    v3,
    Column("flow_id", Name, primary_key=True),
    Column("user_name", Name),
    Column("ts_epoch", BigInteger, nullable=False),
    Column("tags", Json),
    Column("system_tags", Json),
)
Index("flows_v3_idx_ts_flow_desc", flows_v3.c.ts_epoch.desc(), flows_v3.c.flow_id.desc())

runs_v3 = Table(
    "runs_v3",
    v3,
    Column("flow_id", Name, nullable=False),
    # SERIAL on PostgreSQL (FetchedValue: the database fills it); flowscope assigns it on
    # SQLite.
    Column("run_number", Integer, nullable=False, server_default=FetchedValue()),
    Column("user_name", Name),
    Column("ts_epoch", BigInteger, nullable=False),
    Column("tags", Json),
    Column("system_tags", Json),
    Column("run_id", Name),
    Column("last_heartbeat_ts", BigInteger),  # epoch seconds
    PrimaryKeyConstraint("flow_id", "run_number", name="runs_v3_pkey"),
    ForeignKeyConstraint(["flow_id"], ["flows_v3.flow_id"], name="runs_v3_flow_id_fkey"),
    UniqueConstraint("flow_id", "run_id", name="runs_v3_flow_id_run_id_key"),
)
Index("runs_v3_idx_ts_epoch", runs_v3.c.ts_epoch)
Index("runs_v3_idx_flow_id_asc_ts_epoch_desc", runs_v3.c.flow_id, runs_v3.c.ts_epoch.desc())
Index("runs_v3_idx_str_ids_primary_key_v2", runs_v3.c.flow_id, runs_v3.c.run_id)
Index("runs_v3_idx_epoch_ts_desc", runs_v3.c.ts_epoch.desc())
Index(
    "runs_v3_idx_flow_ts_runnum_desc",
    runs_v3.c.flow_id,
    runs_v3.c.ts_epoch.desc(),
    runs_v3.c.run_number.desc(),
)

steps_v3 = Table(
    "steps_v3",
    v3,
    Column("flow_id", Name, nullable=False),
    Column("run_number", BigInteger, nullable=False),
    Column("step_name", Name, nullable=False),
    Column("user_name", Name),
    Column("ts_epoch", BigInteger, nullable=False),
    Column("tags", Json),
    Column("system_tags", Json),
    Column("run_id", Name),
    PrimaryKeyConstraint("flow_id", "run_number", "step_name", name="steps_v3_pkey"),
    ForeignKeyConstraint(
        ["flow_id", "run_number"],
        ["runs_v3.flow_id", "runs_v3.run_number"],
        name="steps_v3_flow_id_run_number_fkey",
    ),
    UniqueConstraint(
        "flow_id", "run_id", "step_name", name="steps_v3_flow_id_run_id_step_name_key"
    ),
)
Index(
    "steps_v3_idx_str_ids_primary_key_v2",
    steps_v3.c.flow_id,
    steps_v3.c.run_id,
    steps_v3.c.step_name,
)

tasks_v3 = Table(
    "tasks_v3",
    v3,
    Column("flow_id", Name, nullable=False),
    Column("run_number", BigInteger, nullable=False),
    Column("step_name", Name, nullable=False),
    Column("task_id", BigId, primary_key=True, autoincrement=True),  # BIGSERIAL
    Column("user_name", Name),
    Column("ts_epoch", BigInteger, nullable=False),
    Column("tags", Json),
    Column("system_tags", Json),
    Column("run_id", Name),
    Column("task_name", Name),
    Column("last_heartbeat_ts", BigInteger),  # epoch seconds
    ForeignKeyConstraint(
        ["flow_id", "run_number", "step_name"],
        ["steps_v3.flow_id", "steps_v3.run_number", "steps_v3.step_name"],
        name="tasks_v3_flow_id_run_number_step_name_fkey",
    ),
    UniqueConstraint(
        "flow_id",
        "run_number",
        "step_name",
        "task_name",
        name="tasks_v3_flow_id_run_number_step_name_task_name_key",
    ),
)
Index(
    "tasks_v3_idx_flow_id_run_id_step_name_task_name_v2",
    tasks_v3.c.flow_id,
    tasks_v3.c.run_id,
    tasks_v3.c.step_name,
    tasks_v3.c.task_name,
)
Index(
    "tasks_v3_idx_flow_run_step_ts_task_desc",
    tasks_v3.c.flow_id,
    tasks_v3.c.run_number,
    tasks_v3.c.step_name,
    tasks_v3.c.ts_epoch.desc(),
    tasks_v3.c.task_id.desc(),
)

metadata_v3 = Table(
    "metadata_v3",
    v3,
    Column("flow_id", Name, nullable=False),
    Column("run_number", BigInteger, nullable=False),
    Column("step_name", Name, nullable=False),
    Column("task_id", BigInteger, nullable=False),
    # BIGSERIAL on PostgreSQL; flowscope assigns it on SQLite.
    Column("id", BigId, nullable=False, autoincrement=False, server_default=FetchedValue()),
    Column("field_name", Name, nullable=False),
    Column("value", Text, nullable=False),
    Column("type", Name, nullable=False),
    Column("user_name", Name),
    Column("ts_epoch", BigInteger, nullable=False),
    Column("tags", Json),  # holds `attempt_id:N`
    Column("system_tags", Json),
    Column("run_id", Name),
    Column("task_name", Name),
    PrimaryKeyConstraint(
        "id", "flow_id", "run_number", "step_name", "task_id", "field_name", name="metadata_v3_pkey"
    ),
)
Index(
    "metadata_v3_akey",
    metadata_v3.c.flow_id,
    metadata_v3.c.run_number,
    metadata_v3.c.step_name,
    metadata_v3.c.task_id,
    metadata_v3.c.field_name,
)
Index(
    "metadata_v3_idx_str_ids_a_key",
    metadata_v3.c.flow_id,
    metadata_v3.c.run_id,
    metadata_v3.c.step_name,
    metadata_v3.c.task_name,
    metadata_v3.c.field_name,
)
Index(
    "metadata_v3_idx_str_ids_a_key_with_task_id",
    metadata_v3.c.flow_id,
    metadata_v3.c.run_id,
    metadata_v3.c.step_name,
    metadata_v3.c.task_id,
    metadata_v3.c.field_name,
)
Index(
    "metadata_v3_idx_flow_run_ts_id_desc",
    metadata_v3.c.flow_id,
    metadata_v3.c.run_number,
    metadata_v3.c.ts_epoch.desc(),
    metadata_v3.c.id.desc(),
)

artifact_v3 = Table(
    "artifact_v3",
    v3,
    Column("flow_id", Name, nullable=False),
    Column("run_number", BigInteger, nullable=False),
    Column("step_name", Name, nullable=False),
    Column("task_id", BigInteger, nullable=False),
    Column("name", Name, nullable=False),
    Column("location", Name, nullable=False),
    Column("ds_type", Name, nullable=False),
    Column("sha", Name),
    Column("type", Name),
    Column("content_type", Name),
    Column("user_name", Name),
    Column("attempt_id", SmallInteger, nullable=False),
    Column("ts_epoch", BigInteger, nullable=False),
    Column("tags", Json),
    Column("system_tags", Json),
    Column("run_id", Name),
    Column("task_name", Name),
    PrimaryKeyConstraint(
        "flow_id",
        "run_number",
        "step_name",
        "task_id",
        "attempt_id",
        "name",
        name="artifact_v3_pkey",
    ),
)
Index(
    "artifact_v3_idx_str_ids_primary_key_v2",
    artifact_v3.c.flow_id,
    artifact_v3.c.run_id,
    artifact_v3.c.step_name,
    artifact_v3.c.task_name,
    artifact_v3.c.attempt_id,
    artifact_v3.c.name,
)
Index(
    "artifact_v3_idx_str_ids_primary_key_with_task_id",
    artifact_v3.c.flow_id,
    artifact_v3.c.run_id,
    artifact_v3.c.step_name,
    artifact_v3.c.task_id,
    artifact_v3.c.attempt_id,
    artifact_v3.c.name,
)
Index(
    "artifact_v3_idx_latest_attempt",
    artifact_v3.c.flow_id,
    artifact_v3.c.run_number,
    artifact_v3.c.task_id,
    artifact_v3.c.name,
    artifact_v3.c.ts_epoch.desc(),
)

# PostgreSQL-only indexes of the runs list (an expression and a GIN index).
POSTGRES_ONLY_INDEXES = (
    text(
        "CREATE INDEX IF NOT EXISTS runs_v3_idx_gin_tags_combined "
        "ON runs_v3 USING gin ((tags || system_tags))"
    ),
    text(
        "CREATE INDEX IF NOT EXISTS runs_v3_idx_user_asc_ts_epoch_desc ON runs_v3 ("
        "(CASE WHEN system_tags ? ('user:' || user_name) THEN user_name ELSE NULL END) ASC, "
        "ts_epoch DESC)"
    ),
)

V3_TABLES = (flows_v3, runs_v3, steps_v3, tasks_v3, metadata_v3, artifact_v3)
