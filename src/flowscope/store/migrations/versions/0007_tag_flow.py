"""run_tags carry their run's flow: a flow's runs with a tag are one index range (issue 10)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("run_tags", sa.Column("flow_id", sa.String(255), nullable=True))
    op.execute(
        "UPDATE run_tags SET flow_id = (SELECT runs.flow_id FROM runs WHERE runs.pk = run_tags.run_pk)"
    )
    op.create_index(
        "ix_run_tags_tag_flow_started", "run_tags", ["tag", "flow_id", "started_at", "run_pk"]
    )


def downgrade() -> None:
    op.drop_index("ix_run_tags_tag_flow_started", table_name="run_tags")
    with op.batch_alter_table("run_tags") as batch_op:
        batch_op.drop_column("flow_id")
