"""runs list at scale: an index per filter and sort key, tags with their run's start,
run id search (issue 10)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from flowscope.store import search

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SORTS = ("started_at", "finished_at", "duration_ms")
FILTERS = ("flow_id", "user", "status", "project", "branch")
# Made by 0001 with the same columns: kept.
KEPT = {"ix_runs_started", "ix_runs_finished", "ix_runs_duration"}
KEPT |= {"ix_runs_flow_started", "ix_runs_user_started", "ix_runs_status_started"}


def _name(sort: str, column: str | None = None) -> str:
    return "ix_runs_" + "_".join(c.split("_")[0] for c in (column, sort) if c is not None)


def upgrade() -> None:
    # (project, branch, started_at) served project-and-branch only; now one per column.
    op.drop_index("ix_runs_project_started", table_name="runs")
    for sort in SORTS:
        for column in FILTERS:
            name = _name(sort, column)
            if name not in KEPT:
                op.create_index(name, "runs", [column, sort, "pk"])
    op.add_column(
        "run_tags",
        sa.Column(
            "started_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
    )
    op.execute(
        "UPDATE run_tags SET started_at = (SELECT runs.started_at FROM runs WHERE runs.pk = run_tags.run_pk)"
    )
    op.create_index("ix_run_tags_tag_started", "run_tags", ["tag", "started_at", "run_pk"])
    search.create(op.get_bind(), rebuild=True)


def downgrade() -> None:
    search.drop(op.get_bind())
    op.drop_index("ix_run_tags_tag_started", table_name="run_tags")
    with op.batch_alter_table("run_tags") as batch:
        batch.drop_column("started_at")
    for sort in SORTS:
        for column in FILTERS:
            name = _name(sort, column)
            if name not in KEPT:
                op.drop_index(name, table_name="runs")
    op.create_index("ix_runs_project_started", "runs", ["project", "branch", "started_at", "pk"])
