"""Opening the index database: engines, pragmas, migrations.

SQLite is used deliberately: WAL so readers never wait for the indexer, one writer,
foreign keys on, and a busy timeout so a reader never fails on a checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.compiler import SQLCompiler

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration. Checked against Alembic's own view by a test; knowing it lets an
# up-to-date database skip importing Alembic at all (a second of start-up on a busy
# machine, most of `flowscope index` on an unchanged datastore).
HEAD_REVISION = "0008"


class IndexUnusable(Exception):
    """The index database cannot be written now: the disk is full, the location is
    read-only, or the file is damaged. The transaction under way was rolled back, so the
    index holds what it held before (issue 12); what to do is in the message."""


def unusable(exc: sa.exc.DatabaseError, url: str) -> IndexUnusable:
    reason = str(exc.orig) if exc.orig is not None else str(exc)
    text = reason.lower()
    if "full" in text or "no space" in text or "could not extend" in text:
        hint = "free some space there, or point --db elsewhere"
    elif "readonly" in text or "read-only" in text or "read only" in text:
        hint = "make it writable, or point --db at a writable location"
    elif "locked" in text or "deadlock" in text:
        hint = "another process held the index too long; the next pass tries again"
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        hint = "run `flowscope index --rebuild` to build it again from the datastore"
    else:
        hint = "`flowscope index --rebuild` builds it again from the datastore"
    return IndexUnusable(f"cannot write the index {safe_url(url)}: {reason} ({hint})")


def safe_url(url: str) -> str:
    """The URL without a password, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<index>"


def discard_index(url: str) -> None:
    """Remove everything flowscope keeps in the index at `url`, so that the next `Store`
    builds it from scratch: `flowscope index --rebuild`. A SQLite file is deleted with its
    journal files (a damaged file cannot be trusted to drop its own tables); in
    PostgreSQL flowscope's tables are dropped, and nothing else."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(path + suffix).unlink(missing_ok=True)
        return
    from flowscope.store.schema import metadata

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        engine.dialect.statement_compiler = _hinting(engine.dialect.statement_compiler)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    _fast_json_for_psycopg()
    return sa.create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def _hinting(compiler: type[SQLCompiler]) -> type[SQLCompiler]:
    """SQLite's compiler, rendering table hints: `INDEXED BY ix` and `NOT INDEXED` name how
    the runs list reads a table (store/runs_list.py). SQLAlchemy renders hints only for
    the databases whose syntax it knows them in, and SQLite is not among them."""

    class HintingCompiler(compiler):  # type: ignore[valid-type,misc]
        def get_from_hint_text(self, table: object, text: str | None) -> str | None:
            return text

    return HintingCompiler


def _fast_json_for_psycopg() -> None:
    """psycopg decodes json/jsonb with the standard library; a sync of a team's database
    decodes millions of tag lists, and orjson does it several times faster."""
    import orjson
    import psycopg.types.json

    psycopg.types.json.set_json_loads(orjson.loads)


# SQLite's page cache, per connection. The pool holds up to 16 connections, and each
# cache fills up to its size with whatever pages its requests read: a cache of the size
# a bulk write wants on every one of them made the server's memory grow toward a gigabyte
# (the operating system caches the file anyway). A write transaction has the bigger one
# while it runs (Store.write).
READ_CACHE_KB = 16 * 1024
WRITE_CACHE_KB = 64 * 1024


@contextmanager
def write_cache(conn: Connection) -> Iterator[None]:
    """The bigger page cache on this SQLite connection while a write runs; back to the
    reader's size after (SQLite frees the pages beyond it)."""
    conn.exec_driver_sql(f"PRAGMA cache_size=-{WRITE_CACHE_KB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size=-{READ_CACHE_KB}")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size=-{READ_CACHE_KB}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        return None  # a new database: no version table yet


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if is_sqlite(engine):
        _migrate_sqlite(engine, config)
        return
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _migrate_sqlite(engine: Engine, config: Any) -> None:
    """Every migration in one transaction. Python's sqlite3 (before 3.12's `autocommit`)
    opens no transaction before DDL, so each CREATE would commit on its own and a process
    killed mid-migration would leave half a schema that no later start can migrate
    (found by bench.crash_soak, issue 12). The driver is told to leave transactions
    alone, and the migrations run between one BEGIN and one COMMIT."""
    from alembic import command

    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        before = raw.isolation_level
        raw.isolation_level = None
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.exec_driver_sql("COMMIT")
            except BaseException:
                raw.rollback()
                raise
        finally:
            raw.isolation_level = before
