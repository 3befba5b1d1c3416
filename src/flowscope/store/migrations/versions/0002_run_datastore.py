"""where a run's data lives: ds_type and ds_root

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: SQLite adds them in place, no table rebuild.
    op.add_column("runs", sa.Column("ds_type", sa.String(length=32), nullable=True))
    op.add_column("runs", sa.Column("ds_root", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("ds_root")
        batch_op.drop_column("ds_type")
