"""Where flowscope keeps its index when `--db` names a metaflow-service database.

The index is derived and rebuildable. Next to a team's v3 tables it lives in a schema of
its own, `flowscope`, in the same database (PostgreSQL) or in the same file (SQLite), so
every flowscope server on that database shares it. A role that may only read gets the
index in the local cache instead (or wherever `--index` says), and is told so in one line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from platformdirs import user_cache_dir

from flowscope.store.database import create_engine

INDEX_SCHEMA = "flowscope"


@dataclass(frozen=True)
class IndexLocation:
    url: str
    note: str | None = None  # one line for the user, when the index is not where expected


def in_schema(url: str, schema: str = INDEX_SCHEMA) -> str:
    """A PostgreSQL URL whose connections work inside `schema` (libpq `options`)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def redacted(url: str) -> str:
    """The URL without its password: what logs, /health and the sources table show."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def local_cache_url(db_url: str) -> str:
    digest = hashlib.sha256(redacted(db_url).encode()).hexdigest()[:16]
    return f"sqlite:///{Path(user_cache_dir('flowscope')) / f'service-{digest}.sqlite'}"


def choose_index(db_url: str, index_url: str | None = None, create: bool = True) -> IndexLocation:
    """The index for a service database: `index_url` when given, else the database's own
    `flowscope` schema when this role may use it (creating it if `create`), else the
    local cache."""
    if index_url:
        return IndexLocation(index_url)
    if not db_url.startswith("postgresql"):
        return IndexLocation(db_url)  # SQLite: the index's tables sit beside the v3 tables
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            if create and _may_create_schema(conn):
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{INDEX_SCHEMA}"'))
                conn.commit()
            if _may_write_schema(conn):
                return IndexLocation(in_schema(db_url))
    finally:
        engine.dispose()
    cache = local_cache_url(db_url)
    return IndexLocation(
        cache,
        note=(
            f"flowscope: this database role cannot write a `{INDEX_SCHEMA}` schema in "
            f"{redacted(db_url)}; keeping the index in {cache.removeprefix('sqlite:///')} "
            "(run `flowscope db upgrade --db URL` as a role that may, or pass --index URL)"
        ),
    )


def _may_create_schema(conn: sa.Connection) -> bool:
    exists = conn.execute(
        sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": INDEX_SCHEMA}
    ).first()
    if exists:
        return False
    return bool(
        conn.execute(
            sa.text("SELECT has_database_privilege(current_database(), 'CREATE')")
        ).scalar()
    )


def _may_write_schema(conn: sa.Connection) -> bool:
    """The schema exists and this role may create tables in it (migrations) or, once
    they exist, write them."""
    exists = conn.execute(
        sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": INDEX_SCHEMA}
    ).first()
    if not exists:
        return False
    if conn.execute(
        sa.text("SELECT has_schema_privilege(:s, 'CREATE')"), {"s": INDEX_SCHEMA}
    ).scalar():
        return True
    runs = conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": f"{INDEX_SCHEMA}.runs"}).scalar()
    if runs is None:
        return False
    return bool(
        conn.execute(
            sa.text("SELECT has_table_privilege(:t, 'INSERT,UPDATE,DELETE')"),
            {"t": f"{INDEX_SCHEMA}.runs"},
        ).scalar()
    )
