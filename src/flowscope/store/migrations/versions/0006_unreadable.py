"""unreadable tasks: a flag per task and a count per run (issue 12)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # With a server default, SQLite adds NOT NULL columns in place, no table rebuild.
    op.add_column(
        "runs",
        sa.Column("unreadable_tasks", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "tasks",
        sa.Column("unreadable", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_column("unreadable")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("unreadable_tasks")
