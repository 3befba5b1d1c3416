"""PostgreSQL for the tests: the admin URL and fresh schemas in the session's database."""

from __future__ import annotations

import os
import uuid

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "FLOWSCOPE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def fresh_pg(pg_server: str) -> str:
    """An empty schema in the session database, reached through search_path."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(pg_server)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{pg_server}?options=-csearch_path%3D{schema}"
