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
    """A PostgreSQL URL whose connections work inside `schema` (libpq `options`, replacing
    any search_path the URL set)."""
    parsed = sa.engine.make_url(url)
    query = {k: v for k, v in parsed.query.items() if k != "options"}
    base = parsed.set(query=query).render_as_string(hide_password=False)
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


def index_schema_for(conn: sa.Connection) -> str:
    """`flowscope` beside v3 tables in `public`; `flowscope_<schema>` beside v3 tables in
    another schema (metaflow-service's DB_SCHEMA_NAME), so two deployments sharing one
    database keep two indexes."""
    current = conn.execute(sa.text("SELECT current_schema()")).scalar()
    return INDEX_SCHEMA if current in (None, "public") else f"{INDEX_SCHEMA}_{current}"


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
            schema = index_schema_for(conn)
            if create and _may_create_schema(conn, schema):
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                conn.commit()
            if _may_write_schema(conn, schema):
                return IndexLocation(in_schema(db_url, schema))
    finally:
        engine.dispose()
    cache = local_cache_url(db_url)
    return IndexLocation(
        cache,
        note=(
            f"flowscope: this database role cannot write flowscope's index schema in "
            f"{redacted(db_url)}; keeping the index in {cache.removeprefix('sqlite:///')} "
            "(run `flowscope db upgrade --db URL` as a role that may, or pass --index URL)"
        ),
    )


def _may_create_schema(conn: sa.Connection, schema: str) -> bool:
    exists = conn.execute(
        sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
    ).first()
    if exists:
        return False
    return bool(
        conn.execute(
            sa.text("SELECT has_database_privilege(current_database(), 'CREATE')")
        ).scalar()
    )


def _may_write_schema(conn: sa.Connection, schema: str) -> bool:
    """The schema exists and this role may create tables in it (migrations) or, once
    they exist, write them."""
    exists = conn.execute(
        sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
    ).first()
    if not exists:
        return False
    if conn.execute(sa.text("SELECT has_schema_privilege(:s, 'CREATE')"), {"s": schema}).scalar():
        return True
    # Without USAGE even looking up a table in the schema is refused (permission denied).
    if not conn.execute(
        sa.text("SELECT has_schema_privilege(:s, 'USAGE')"), {"s": schema}
    ).scalar():
        return False
    runs = conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": f"{schema}.runs"}).scalar()
    if runs is None:
        return False
    return bool(
        conn.execute(
            sa.text("SELECT has_table_privilege(:t, 'INSERT,UPDATE,DELETE')"),
            {"t": f"{schema}.runs"},
        ).scalar()
    )
