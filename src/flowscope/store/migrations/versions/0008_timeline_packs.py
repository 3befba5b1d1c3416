"""timeline packs: a finished big run's packed timeline overview, kept (issue 10)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nothing to fill in: a run's pack is made when it is next sealed or first asked for.
    op.create_table(
        "timeline_packs",
        sa.Column(
            "run_pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("runs.pk", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("gzipped", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("timeline_packs")
