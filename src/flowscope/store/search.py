"""Searching runs by a piece of their run id, through an index on both databases.

`q` on the runs list is a case-insensitive substring of a flow or run id. Flow ids are
few (the flows table), so they are matched there; run ids are a million, so a substring
of one needs a trigram index: SQLite's FTS5 `trigram` tokenizer (an external-content
table kept current by triggers) and PostgreSQL's `pg_trgm` GIN index. Neither helps a
query shorter than three characters; those are matched while walking the list in order.

These objects are not SQLAlchemy tables (a virtual table, an extension's operator
class), so they are made here, by the migration and by the bulk loader, and left out of
the schema comparison by `is_search_object`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

FTS_TABLE = "runs_fts"
TRIGRAM_INDEX = "ix_runs_run_id_trgm"
MIN_QUERY = 3  # a trigram index finds substrings of three characters or more

INSERT_TRIGGER = "runs_fts_insert"
SQLITE_TRIGGERS = {
    INSERT_TRIGGER: f"""CREATE TRIGGER runs_fts_insert AFTER INSERT ON runs BEGIN
        INSERT INTO {FTS_TABLE}(rowid, run_id) VALUES (new.pk, new.run_id); END""",
    "runs_fts_delete": f"""CREATE TRIGGER runs_fts_delete AFTER DELETE ON runs BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, run_id) VALUES ('delete', old.pk, old.run_id);
        END""",
    "runs_fts_update": f"""CREATE TRIGGER runs_fts_update AFTER UPDATE OF run_id ON runs BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, run_id) VALUES ('delete', old.pk, old.run_id);
        INSERT INTO {FTS_TABLE}(rowid, run_id) VALUES (new.pk, new.run_id); END""",
}


def is_search_object(name: str | None) -> bool:
    """Tables and indexes made here (FTS5 adds shadow tables `runs_fts_*`)."""
    return bool(name) and (name == TRIGRAM_INDEX or str(name).startswith(FTS_TABLE))


def create(conn: Connection, rebuild: bool = False) -> None:
    """Make the search index (idempotent). `rebuild` fills it from the runs already there."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            "run_id, content='runs', content_rowid='pk', tokenize='trigram')"
        )
        create_triggers(conn)
        if rebuild:
            conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        return
    schema = _trigram_schema(conn)
    if schema is None:
        return
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON runs "
        f'USING gin (run_id "{schema}".gin_trgm_ops)'
    )


def drop(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        drop_triggers(conn)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    else:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


def create_triggers(conn: Connection) -> None:
    for name, ddl in SQLITE_TRIGGERS.items():
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql(ddl)


@contextmanager
def filled_after(conn: Connection, first_pk: int, last_pk: int) -> Iterator[None]:
    """Runs with keys `first_pk`..`last_pk`, inserted inside the block, are added to the
    search index in one statement when it ends rather than by the trigger row by row
    (on SQLite: a run's trigger cost about 20 times its share of one statement).

    For the caller's transaction only, which must already hold SQLite's write lock: the
    trigger is dropped and made again inside it, so no other connection ever sees the
    schema without it, and a rollback puts it back."""
    if conn.dialect.name != "sqlite":
        yield  # PostgreSQL's trigram index is an index: nothing to fill
        return
    conn.exec_driver_sql(f"DROP TRIGGER {INSERT_TRIGGER}")
    yield
    conn.exec_driver_sql(
        f"INSERT INTO {FTS_TABLE}(rowid, run_id) SELECT pk, run_id FROM runs "
        "WHERE pk BETWEEN ? AND ?",
        (first_pk, last_pk),
    )
    conn.exec_driver_sql(SQLITE_TRIGGERS[INSERT_TRIGGER])


def drop_triggers(conn: Connection) -> None:
    """The bulk loader fills runs without them, then rebuilds the index in one pass."""
    for name in SQLITE_TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def _trigram_schema(conn: Connection) -> str | None:
    """The schema pg_trgm lives in, installing it if it can be; None when it cannot.

    An extension exists once per database, in one schema, so its operator class is named
    with that schema (a database can hold several flowscope schemas, as the tests do)."""
    found = conn.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'"
        )
    ).scalar()
    if found is not None:
        return str(found)
    try:
        with conn.begin_nested():
            has_public = conn.execute(
                sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")
            ).scalar()
            conn.exec_driver_sql(
                "CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" SCHEMA public" if has_public else "")
            )
    except sa.exc.DBAPIError as exc:
        log.warning(
            "run id search will scan the runs table: PostgreSQL's pg_trgm extension "
            "cannot be installed here (%s)",
            str(exc.orig).strip().splitlines()[0],
        )
        return None
    return _trigram_schema(conn)


def fts_phrase(q: str) -> str:
    """`q` as an FTS5 phrase: with the trigram tokenizer, a phrase matches as a substring."""
    return '"' + q.replace('"', '""') + '"'


def like_pattern(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
