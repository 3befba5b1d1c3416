"""What PostgreSQL's catalog says about the v3 tables, to compare two databases.

`read_catalog(conn)` describes the tables of the connection's current schema: columns in
order with their types, nullability and defaults; constraints with their definitions;
every index with its definition; the sequences and what owns them; and goose's version
rows. `tests/v3_catalog.json` is that description for a database made by
metaflow-service's own migrations. To remake or re-check it from a copy of
metaflow-service (its SQL files are not part of flowscope):

    python -m tests.v3_catalog --migrations PATH/services/migration_service/migration_files \
        [--write]

It applies the migrations' "Up" sections in order, as goose would (statement by statement,
outside a transaction where a file says NO TRANSACTION), in a scratch database, records
each version in goose's table the way goose does, and compares (or writes) the catalog.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

CATALOG_FILE = Path(__file__).parent / "v3_catalog.json"
TABLES = (
    "flows_v3",
    "runs_v3",
    "steps_v3",
    "tasks_v3",
    "metadata_v3",
    "artifact_v3",
    "goose_db_version",
)
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def read_catalog(conn: Connection) -> dict[str, Any]:
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    tables = list(TABLES)

    def rows(sql: str) -> list[dict[str, Any]]:
        result = conn.execute(sa.text(sql), {"schema": schema, "tables": tables})
        return [dict(r._mapping) for r in result]

    columns = rows(
        """SELECT c.relname AS table, a.attnum AS position, a.attname AS name,
                  format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
                  pg_get_expr(d.adbin, d.adrelid) AS default
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE n.nspname = :schema AND c.relname = ANY(:tables)
             AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY c.relname, a.attnum"""
    )
    constraints = rows(
        """SELECT c.relname AS table, k.conname AS name, k.contype AS kind,
                  pg_get_constraintdef(k.oid) AS definition
           FROM pg_constraint k
           JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = :schema AND c.relname = ANY(:tables)
           ORDER BY c.relname, k.conname"""
    )
    indexes = rows(
        """SELECT tablename AS table, indexname AS name, indexdef AS definition
           FROM pg_indexes WHERE schemaname = :schema AND tablename = ANY(:tables)
           ORDER BY tablename, indexname"""
    )
    sequences = rows(
        """SELECT s.sequencename AS name, s.data_type::text AS type, s.start_value AS start,
                  s.increment_by AS increment, s.min_value AS min, s.max_value AS max,
                  s.cycle AS cycle, s.cache_size AS cache,
                  owner_table.relname AS owned_by_table, owner_col.attname AS owned_by_column
           FROM pg_sequences s
           JOIN pg_namespace n ON n.nspname = s.schemaname
           JOIN pg_class seq ON seq.relname = s.sequencename AND seq.relnamespace = n.oid
           LEFT JOIN pg_depend dep ON dep.objid = seq.oid AND dep.deptype = 'a'
               AND dep.classid = 'pg_class'::regclass
           LEFT JOIN pg_class owner_table ON owner_table.oid = dep.refobjid
           LEFT JOIN pg_attribute owner_col ON owner_col.attrelid = dep.refobjid
               AND owner_col.attnum = dep.refobjsubid
           WHERE s.schemaname = :schema
           ORDER BY s.sequencename"""
    )
    present = {r["table"] for r in columns}
    goose: list[list[Any]] = []
    if "goose_db_version" in present:
        goose = [
            [int(v), bool(a)]
            for v, a in conn.execute(
                sa.text("SELECT version_id, is_applied FROM goose_db_version ORDER BY id")
            )
        ]
    # Definitions name the schema when it is not `public`; the comparison is of shapes.
    for item in (*constraints, *indexes):
        item["definition"] = item["definition"].replace(f"{schema}.", "")
    for column in columns:
        if column["default"]:
            column["default"] = column["default"].replace(f"{schema}.", "")
    return {
        "columns": columns,
        "constraints": constraints,
        "indexes": indexes,
        "sequences": sequences,
        "goose_versions": goose,
    }


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """One line per catalog entry that is in one description and not the other."""
    out: list[str] = []
    for section in expected.keys() | actual.keys():
        want = {json.dumps(x, sort_keys=True) for x in expected.get(section, [])}
        got = {json.dumps(x, sort_keys=True) for x in actual.get(section, [])}
        out += [f"{section}: missing {x}" for x in sorted(want - got)]
        out += [f"{section}: unexpected {x}" for x in sorted(got - want)]
    return out


def load_expected() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    return loaded


@contextmanager
def scratch_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration; its URL."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"flowscope_v3_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


_GOOSE_TABLE = """CREATE TABLE goose_db_version (
    id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL,
    tstamp timestamp NULL default now(), PRIMARY KEY(id))"""


def apply_migrations(url: str, folder: Path) -> None:
    """Apply goose-format SQL migrations (their Up sections) the way goose runs them."""
    files = sorted(folder.glob("*.sql"), key=lambda p: int(p.name.split("_", 1)[0]))
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(_GOOSE_TABLE)
        conn.exec_driver_sql(
            "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true)"
        )
        for path in files:
            text = path.read_text(encoding="utf-8")
            up = text.split("-- +goose Up", 1)[1].split("-- +goose Down", 1)[0]
            body = "\n".join(line for line in up.splitlines() if not line.strip().startswith("--"))
            statements = [s.strip() for s in body.split(";") if s.strip()]
            in_tx = "+goose NO TRANSACTION" not in text
            version = int(path.name.split("_", 1)[0])
            if in_tx:
                conn.exec_driver_sql("BEGIN")
            for statement in statements:
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql(
                "INSERT INTO goose_db_version (version_id, is_applied) VALUES (%s, true)",
                (version,),
            )
            if in_tx:
                conn.exec_driver_sql("COMMIT")
    engine.dispose()


def catalog_of(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return read_catalog(conn)
    finally:
        engine.dispose()


def _one_entry_a_line(catalog: dict[str, Any]) -> str:
    sections = [
        f"  {json.dumps(name)}: [\n"
        + ",\n".join(f"    {json.dumps(entry, ensure_ascii=False)}" for entry in entries)
        + "\n  ]"
        for name, entries in catalog.items()
    ]
    return "{\n" + ",\n".join(sections) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--migrations", type=Path, required=True)
    parser.add_argument("--write", action="store_true", help=f"rewrite {CATALOG_FILE.name}")
    args = parser.parse_args(argv)
    with scratch_database() as url:
        apply_migrations(url, args.migrations)
        catalog = catalog_of(url)
    if args.write:
        CATALOG_FILE.write_text(_one_entry_a_line(catalog), encoding="utf-8")
        print(f"wrote {CATALOG_FILE}")
        return 0
    problems = differences(load_expected(), catalog)
    for line in problems:
        print(line)
    print(f"{CATALOG_FILE.name}: {'differs' if problems else 'matches the migrations'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
