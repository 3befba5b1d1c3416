"""A read-only role on a database where `flowscope db upgrade` already made flowscope's
index schema (as the README's "next to an existing metaflow-service" says to): flowscope
keeps its index in the local cache and says so, instead of failing with "permission denied
for schema flowscope" (the role may not even look inside that schema)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa
from tests.pg import PG_ADMIN_URL

from flowscope.index_location import INDEX_SCHEMA, choose_index


def test_a_read_only_role_beside_an_upgraded_database_uses_the_local_cache(
    pg_server: str, tmp_path: Path
) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"flowscope_ro_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade = subprocess.run(
            [sys.executable, "-m", "flowscope.cli", "db", "upgrade", "--db", url],
            capture_output=True,
            text=True,
            check=False,
        )
        assert upgrade.returncode == 0, upgrade.stderr
        owner = sa.create_engine(url)
        with owner.begin() as conn:
            assert conn.execute(
                sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": INDEX_SCHEMA}
            ).scalar()
            conn.execute(sa.text(f"CREATE ROLE {name}_ro LOGIN"))
            conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}_ro"))
        owner.dispose()
        read_only = url.replace("postgres@", f"{name}_ro@")
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        location = choose_index(read_only)
        assert location.note is not None and "cannot write" in location.note
        synced = subprocess.run(
            [sys.executable, "-m", "flowscope.cli", "index", "--db", read_only],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert synced.returncode == 0, synced.stderr
        assert "cannot write flowscope's index schema" in synced.stderr
        assert "0 runs" in synced.stdout
        assert (tmp_path / "cache" / "flowscope").is_dir()
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {name}_ro"))
        admin.dispose()
