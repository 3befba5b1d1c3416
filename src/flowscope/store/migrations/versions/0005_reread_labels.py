"""every run is read once more: foreach labels now name the full foreach path and tasks
record what Metaflow records (issue 9), which only a fresh read of a run writes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sealed runs and unchanged tasks are skipped by their fingerprints; without them the
    # next pass of every source reads each run again and rewrites it.
    runs = sa.table("runs", sa.column("fingerprint"), sa.column("sealed", sa.Boolean()))
    tasks = sa.table("tasks", sa.column("fingerprint"))
    state = sa.table("state", sa.column("key"))
    op.execute(runs.update().values(fingerprint=None, sealed=False))
    op.execute(tasks.update().values(fingerprint=None))
    # A service source resumes from its saved mark; without it, it syncs in full.
    op.execute(state.delete().where(state.c.key.like("service-mark:%")))


def downgrade() -> None:
    pass  # nothing to undo: the index is as a first read would make it
