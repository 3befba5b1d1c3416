"""The index schema: one definition for SQLite and PostgreSQL.

Everything a list page shows is a column here, computed at ingest, so no request ever
re-derives statuses or durations from raw metadata (the existing UI's slow path).
Every list is read through an index that ends in a unique tie-breaker, for keyset paging.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from flowscope.store.search import is_search_object

metadata = MetaData()

# Epoch milliseconds overflow 32-bit integers, and PostgreSQL's INTEGER is 32-bit.
Millis = BigInteger().with_variant(Integer(), "sqlite")
# SQLite only aliases rowid (and so autoincrements) for exactly INTEGER PRIMARY KEY.
PrimaryKey = BigInteger().with_variant(Integer(), "sqlite")

sources = Table(
    "sources",
    metadata,
    Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # "local", later "service", "generator"
    Column("location", Text, nullable=False),
    UniqueConstraint("kind", "location", name="uq_sources_kind_location"),
)

flows = Table(
    "flows",
    metadata,
    Column("flow_id", String(255), primary_key=True),
    Column("run_count", Integer, nullable=False, default=0),
    Column("last_run_pk", PrimaryKey, nullable=True),
    Column("last_started_at", Millis, nullable=True),
)

runs = Table(
    "runs",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("source_id", PrimaryKey, ForeignKey("sources.id"), nullable=False),
    Column("flow_id", String(255), nullable=False),
    Column("run_id", String(255), nullable=False),
    Column("user", String(255), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(16), nullable=True),
    Column("started_at", Millis, nullable=True),
    Column("finished_at", Millis, nullable=True),
    Column("duration_ms", Millis, nullable=True),
    Column("tags", Text, nullable=False, default="[]"),  # JSON list, user tags
    Column("system_tags", Text, nullable=False, default="[]"),  # JSON list
    Column("project", String(255), nullable=True),
    Column("branch", String(255), nullable=True),
    Column("parameters", Text, nullable=True),  # JSON object name -> repr string
    Column("graph", Text, nullable=True),  # JSON of the flow graph (from _graph_info)
    Column("origin_run_id", String(255), nullable=True),
    # Where the run's logs, artifacts and cards live (`ds-type`/`ds-root` metadata):
    # "local" and a folder, or "s3" and an s3:// URL.
    Column("ds_type", String(32), nullable=True),
    Column("ds_root", Text, nullable=True),
    Column("first_failure_step", String(255), nullable=True),
    Column("first_failure_task", String(255), nullable=True),
    Column("task_count", Integer, nullable=False, default=0),
    # Tasks whose exception @catch swallowed: a completed run may hide failures (issue 9).
    Column("caught_count", Integer, nullable=False, default=0, server_default="0"),
    # JSON list of the steps a running run is at (tasks running or waiting), else "[]".
    Column("current_steps", Text, nullable=False, default="[]", server_default="[]"),
    # How many of its tasks some file of which could not be read (issue 12).
    Column("unreadable_tasks", Integer, nullable=False, default=0, server_default="0"),
    Column("last_activity_at", Millis, nullable=True),
    # Ingest bookkeeping: what the source looked like when last read, so that an
    # unchanged run costs a couple of stat() calls on the next pass.
    Column("fingerprint", Text, nullable=True),
    Column("sealed", Boolean, nullable=False, default=False),
    UniqueConstraint("flow_id", "run_id", name="uq_runs_flow_run"),
)
# The runs list sorts by one of these and filters by any of those (issue 10): every
# filter column has an index per sort key, so a filtered page is read in order, 101 index
# entries and no sort, whatever the filter (store/runs_list.py picks which one).
RUN_SORT_COLUMNS = ("started_at", "finished_at", "duration_ms")
RUN_FILTER_COLUMNS = ("flow_id", "user", "status", "project", "branch")
for _sort in RUN_SORT_COLUMNS:
    Index(f"ix_runs_{_sort.split('_')[0]}", runs.c[_sort], runs.c.pk)
    for _column in RUN_FILTER_COLUMNS:
        Index(
            f"ix_runs_{_column.split('_')[0]}_{_sort.split('_')[0]}",
            runs.c[_column],
            runs.c[_sort],
            runs.c.pk,
        )
Index("ix_runs_source", runs.c.source_id, runs.c.sealed)


def run_index_name(sort: str, column: str | None = None) -> str:
    """The index that reads runs in `sort` order, among those with one `column` value."""
    return "ix_runs_" + "_".join(c.split("_")[0] for c in (column, sort) if c is not None)


run_tags = Table(
    "run_tags",
    metadata,
    Column("tag", String(512), primary_key=True),
    Column("run_pk", PrimaryKey, ForeignKey("runs.pk", ondelete="CASCADE"), primary_key=True),
    Column("is_system", Boolean, nullable=False, default=False),
    # The run's start, copied from runs: a tag's runs are then read newest first straight
    # from an index, like the list's other filters (issue 10), instead of sorting them all.
    Column("started_at", Millis, nullable=True),
    # The run's flow, copied too: the commonest mix of filters, a flow's runs with a tag,
    # is then one index range in order, however few runs both match (none, at worst).
    Column("flow_id", String(255), nullable=True),
)
Index("ix_run_tags_run", run_tags.c.run_pk)
Index("ix_run_tags_tag_started", run_tags.c.tag, run_tags.c.started_at, run_tags.c.run_pk)
Index(
    "ix_run_tags_tag_flow_started",
    run_tags.c.tag,
    run_tags.c.flow_id,
    run_tags.c.started_at,
    run_tags.c.run_pk,
)

steps = Table(
    "steps",
    metadata,
    Column("run_pk", PrimaryKey, ForeignKey("runs.pk", ondelete="CASCADE"), primary_key=True),
    Column("step_name", String(255), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Column("type", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("started_at", Millis, nullable=True),
    Column("finished_at", Millis, nullable=True),
    Column("pending", Integer, nullable=False, default=0),
    Column("running", Integer, nullable=False, default=0),
    Column("completed", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
)

tasks = Table(
    "tasks",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("run_pk", PrimaryKey, ForeignKey("runs.pk", ondelete="CASCADE"), nullable=False),
    Column("step_name", String(255), nullable=False),
    Column("task_id", String(255), nullable=False),
    # Numeric ids sort numerically ("10" after "9"); other ids sort after all numbers.
    Column("task_key", Millis, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(16), nullable=True),
    Column("caught", Boolean, nullable=False, default=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("started_at", Millis, nullable=True),
    Column("finished_at", Millis, nullable=True),
    Column("duration_ms", Millis, nullable=True),
    Column("foreach_label", Text, nullable=True),
    Column("fingerprint", Text, nullable=True),
    # Some file or folder of the task could not be read: shown from the rest (issue 12).
    Column("unreadable", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("run_pk", "step_name", "task_id", name="uq_tasks_run_step_task"),
)
Index("ix_tasks_run_key", tasks.c.run_pk, tasks.c.task_key, tasks.c.pk)
Index("ix_tasks_run_step_key", tasks.c.run_pk, tasks.c.step_name, tasks.c.task_key, tasks.c.pk)
Index("ix_tasks_run_status_key", tasks.c.run_pk, tasks.c.status, tasks.c.task_key, tasks.c.pk)
Index("ix_tasks_run_started", tasks.c.run_pk, tasks.c.started_at, tasks.c.pk)
Index("ix_tasks_run_finished", tasks.c.run_pk, tasks.c.finished_at, tasks.c.pk)
Index("ix_tasks_run_duration", tasks.c.run_pk, tasks.c.duration_ms, tasks.c.pk)

attempts = Table(
    "attempts",
    metadata,
    Column("task_pk", PrimaryKey, ForeignKey("tasks.pk", ondelete="CASCADE"), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(16), nullable=True),
    Column("started_at", Millis, nullable=True),
    Column("finished_at", Millis, nullable=True),
)

# An append-only change log written in the same transaction as the change itself, so a
# live subscriber can resume from any event id without missing anything.
events = Table(
    "events",
    metadata,
    Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    Column("ts", Millis, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("flow_id", String(255), nullable=False),
    Column("run_id", String(255), nullable=False),
    Column("step_name", String(255), nullable=True),
    Column("task_id", String(255), nullable=True),
    Column("data", Text, nullable=False),  # JSON payload
)
Index("ix_events_run", events.c.flow_id, events.c.run_id, events.c.id)

# Derived from the tasks, like everything here: a finished big run's timeline overview,
# packed and gzipped, made at the timeline version it was packed at (store/timeline_pack.py).
timeline_packs = Table(
    "timeline_packs",
    metadata,
    Column("run_pk", PrimaryKey, ForeignKey("runs.pk", ondelete="CASCADE"), primary_key=True),
    Column("version", String(32), nullable=False),
    Column("gzipped", LargeBinary, nullable=False),
)

state = Table(
    "state",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=True),
)


def include_name(name: str | None, _type: str, _parents: object) -> bool:
    """For Alembic's comparison of a database with this schema: the search index is made
    by store/search.py, outside SQLAlchemy's tables."""
    return not is_search_object(name)
