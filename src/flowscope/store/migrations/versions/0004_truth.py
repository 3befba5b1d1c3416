"""truth in every view: caught failures and current steps of a run; steps that never ran
are skipped (issue 9)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 13:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("caught_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("current_steps", sa.Text(), nullable=False, server_default="[]"))
    # What the indexer now writes for runs it will not read again (sealed): their caught
    # tasks counted, and a step without a single task of a run that is over is skipped.
    runs = sa.table("runs", sa.column("pk"), sa.column("caught_count"))
    tasks = sa.table("tasks", sa.column("run_pk"), sa.column("caught", sa.Boolean()))
    op.execute(
        runs.update().values(
            caught_count=sa.select(sa.func.count())
            .where(tasks.c.run_pk == runs.c.pk, tasks.c.caught == sa.true())
            .scalar_subquery()
        )
    )
    op.execute(
        "UPDATE steps SET status = 'skipped' WHERE status = 'pending'"
        " AND pending + running + completed + failed = 0"
        " AND run_pk IN (SELECT pk FROM runs WHERE status <> 'running')"
    )


def downgrade() -> None:
    op.execute("UPDATE steps SET status = 'pending' WHERE status = 'skipped'")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("current_steps")
        batch.drop_column("caught_count")
