"""Filling an empty index in bulk: the benchmark archive's path (bench/archive.py).

An indexer writes one run per transaction, with every index kept current; a million
runs that way take an hour. Here the rows arrive in primary-key order with their keys
given, the secondary indexes and the search index are dropped first and built once at
the end (a sort, not a million B-tree inserts), SQLite runs without a journal and
PostgreSQL reads the rows through COPY. The schema is the store's own: tables, columns
and indexes come from schema.py, the search index from search.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from flowscope.store import schema as s
from flowscope.store import search, writes

BULK_TABLES = (s.runs, s.run_tags, s.steps, s.tasks, s.attempts)
SERIAL_KEYS = ((s.runs, "pk"), (s.tasks, "pk"))


class BulkWriter:
    def __init__(self, dbapi: Any, sqlite: bool) -> None:
        self.dbapi = dbapi
        self.sqlite = sqlite
        self.flow_ids: set[str] = set()

    def insert(
        self, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Append rows (tuples in `columns` order) to `table`."""
        names = ", ".join(f'"{c}"' for c in columns)
        cursor = self.dbapi.cursor()
        try:
            if self.sqlite:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
            else:
                with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        finally:
            cursor.close()

    def commit(self) -> None:
        self.dbapi.commit()


@contextmanager
def bulk_load(engine: sa.Engine) -> Iterator[BulkWriter]:
    """A writer into an empty, migrated index; indexes, search and statistics are made
    when the block ends. Refuses an index that already holds runs."""
    with engine.connect() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(s.runs)).scalar():
            raise ValueError("bulk loading needs an empty index")
    engine.dispose()  # SQLite changes journal mode only with no other connection open
    sqlite = engine.dialect.name == "sqlite"
    constraints = [] if sqlite else _constraints(engine)
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    assert dbapi is not None
    try:
        cursor = dbapi.cursor()
        for statement in _before(sqlite, constraints):
            cursor.execute(statement)
        cursor.close()
        dbapi.commit()
        writer = BulkWriter(dbapi, sqlite)
        yield writer
        dbapi.commit()
    finally:
        raw.close()
    engine.dispose()
    _after(engine, sqlite, constraints)


def _constraints(engine: sa.Engine) -> list[tuple[str, str, str, str]]:
    """PostgreSQL keys and foreign keys of the bulk tables, and the foreign keys of other
    tables that point at them (a key cannot go while one depends on it): (table, name,
    kind, definition).

    COPY into a table with its keys is five times slower than into a bare one; the keys
    are added back afterwards, exactly as they were."""
    names = [table.name for table in BULK_TABLES]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid) "
                "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                "WHERE (c.oid = ANY(CAST(:tables AS regclass[])) AND k.contype IN ('p', 'u', 'f')) "
                "OR (k.confrelid = ANY(CAST(:tables AS regclass[])) AND k.contype = 'f')"
            ),
            {"tables": names},
        )
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]


def _before(sqlite: bool, constraints: list[tuple[str, str, str, str]]) -> list[str]:
    statements = []
    if sqlite:
        statements += [
            "PRAGMA foreign_keys=OFF",
            "PRAGMA journal_mode=OFF",
            "PRAGMA synchronous=OFF",
            "PRAGMA cache_size=-262144",
        ]
        statements += [f"DROP TRIGGER IF EXISTS {name}" for name in search.SQLITE_TRIGGERS]
        statements.append(f"DROP TABLE IF EXISTS {search.FTS_TABLE}")
    else:
        statements += [
            "SET synchronous_commit = off",
            f"DROP INDEX IF EXISTS {search.TRIGRAM_INDEX}",
        ]
        # Foreign keys first: they depend on the keys they point at.
        for table, name, _kind, _ in sorted(constraints, key=lambda c: c[2] != "f"):
            statements.append(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{name}"')
    statements += [f"DROP INDEX IF EXISTS {index.name}" for index in _indexes()]
    return statements


def _indexes() -> list[sa.Index]:
    return [index for table in BULK_TABLES for index in sorted(table.indexes, key=str)]


def _after(engine: sa.Engine, sqlite: bool, constraints: list[tuple[str, str, str, str]]) -> None:
    with engine.begin() as conn:
        if not sqlite:
            conn.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        for table, name, _kind, definition in sorted(constraints, key=lambda c: c[2] == "f"):
            conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for index in _indexes():
            conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
        search.create(conn, rebuild=True)
        if not sqlite:
            for keyed, column in SERIAL_KEYS:
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{keyed.name}', '{column}'), "
                        f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {keyed.name}), false)"
                    )
                )
        flow_ids = conn.execute(sa.select(s.runs.c.flow_id).distinct()).scalars().all()
        writes.refresh_flows(conn, flow_ids)
    if sqlite:
        with engine.begin() as conn:
            # Statistics from a sample: enough for the planner, seconds instead of minutes.
            conn.exec_driver_sql("PRAGMA analysis_limit=2000")
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(
                "VACUUM ANALYZE " + ", ".join(t.name for t in (*BULK_TABLES, s.flows))
            )
