"""Alembic environment: migrations run programmatically from flowscope.store.database."""

from __future__ import annotations

from alembic import context

from flowscope.store.schema import include_name, metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # offline / CLI use: `alembic -x url=...`
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite://")
    context.configure(
        url=url, target_metadata=metadata, render_as_batch=True, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
