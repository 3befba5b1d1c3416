"""Bad rows in a metaflow-service database never stop the service source or the server
(issue 12, point 1).

The database is a copy of the team server's (real runs made by the Metaflow client through
flowscope's /metadata, tests/team_fixture.py) in SQLite, where a column holds whatever was
written: clones of a real run are added with damaged rows (tags that are not lists, text
in number columns, garbage attempt tags and outcomes, timestamps from the far future,
artifacts that point nowhere, a run without tasks,
duplicated rows, unicode names, huge values). The sync must finish, the intact runs must be
exactly what a sync of the undamaged copy gives, and the API must answer 2xx/4xx only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from starlette.testclient import TestClient
from tests.helpers import snapshot
from tests.team_fixture import TeamServer

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.ingest.service_source import ServiceSource
from flowscope.ingest.sources import ServiceTaskDetails
from flowscope.service import v3_ddl
from flowscope.service.v3_schema import (
    artifact_v3,
    flows_v3,
    metadata_v3,
    runs_v3,
    steps_v3,
    tasks_v3,
)
from flowscope.service_mode import load_artifact
from flowscope.store import Store
from flowscope.store.database import create_engine

LOCATION = "damaged-team-database"
TABLES = (flows_v3, runs_v3, steps_v3, tasks_v3, metadata_v3, artifact_v3)


def _copy(source: Engine, url: str) -> Engine:
    engine = create_engine(url)
    assert v3_ddl.upgrade(engine).created
    with source.connect() as src, engine.begin() as dst:
        for table in TABLES:
            rows = [dict(r._mapping) for r in src.execute(sa.select(table))]
            if rows:
                dst.execute(sa.insert(table), rows)
    return engine


class Cloner:
    """Copies of one real run under new run numbers, with their steps, tasks (new task
    ids), metadata and artifacts, to be damaged one way each."""

    def __init__(self, conn: Connection, flow_id: str, run_number: int) -> None:
        self.conn, self.flow_id, self.run_number = conn, flow_id, run_number
        self.next_run = int(conn.execute(sa.select(sa.func.max(runs_v3.c.run_number))).scalar()) + 1
        self.next_task = int(conn.execute(sa.select(sa.func.max(tasks_v3.c.task_id))).scalar()) + 1
        self.next_meta = int(conn.execute(sa.select(sa.func.max(metadata_v3.c.id))).scalar()) + 1

    def _rows(self, table: sa.Table) -> list[dict[str, Any]]:
        query = sa.select(table).where(
            table.c.flow_id == self.flow_id, table.c.run_number == self.run_number
        )
        return [dict(r._mapping) for r in self.conn.execute(query)]

    def clone(self, with_tasks: bool = True) -> int:
        """(Rows of a run that does not exist cannot be made: the v3 tables' foreign keys
        refuse them, in metaflow-service's PostgreSQL as here.)"""
        number = self.next_run
        self.next_run += 1
        task_ids: dict[int, int] = {}
        for table in (runs_v3, steps_v3, tasks_v3, metadata_v3, artifact_v3):
            if table is not runs_v3 and not with_tasks:
                continue
            rows = self._rows(table)
            for row in rows:
                row["run_number"] = number
                if "run_id" in row:
                    row["run_id"] = None
                if table is tasks_v3:
                    task_ids[row["task_id"]] = self.next_task
                    row["task_id"] = self.next_task
                    row["task_name"] = None
                    self.next_task += 1
                elif "task_id" in row:
                    row["task_id"] = task_ids.get(row["task_id"], row["task_id"])
                    if "task_name" in row:
                        row["task_name"] = None
                if table is metadata_v3:
                    row["id"] = self.next_meta
                    self.next_meta += 1
            if rows:
                self.conn.execute(sa.insert(table), rows)
        return number

    def raw(self, sql: str, **params: Any) -> None:
        self.conn.execute(sa.text(sql), params)


def _not_lists(c: Cloner, n: int) -> None:
    c.raw(
        "UPDATE runs_v3 SET tags = '{\"not\": \"a list\"}', system_tags = '42' WHERE run_number = :n",
        n=n,
    )


def _text_in_numbers(c: Cloner, n: int) -> None:
    c.raw(
        "UPDATE runs_v3 SET ts_epoch = 'yesterday', last_heartbeat_ts = 'soon' WHERE run_number = :n",
        n=n,
    )


def _task_text_in_numbers(c: Cloner, n: int) -> None:
    c.raw(
        "UPDATE tasks_v3 SET ts_epoch = 'early', last_heartbeat_ts = 'x' WHERE run_number = :n", n=n
    )
    c.raw(
        "UPDATE metadata_v3 SET ts_epoch = 'late' WHERE run_number = :n AND field_name = 'attempt'",
        n=n,
    )


def _garbage_attempts(c: Cloner, n: int) -> None:
    c.raw(
        "UPDATE metadata_v3 SET value = 'perhaps' WHERE run_number = :n AND field_name = 'attempt_ok'",
        n=n,
    )
    c.raw(
        "UPDATE metadata_v3 SET tags = '[\"attempt_id:banana\"]' "
        "WHERE run_number = :n AND field_name = 'attempt-done'",
        n=n,
    )


def _far_future(c: Cloner, n: int) -> None:
    c.raw("UPDATE metadata_v3 SET ts_epoch = 99999999999999999 WHERE run_number = :n", n=n)
    c.raw("UPDATE runs_v3 SET ts_epoch = -5 WHERE run_number = :n", n=n)


def _artifacts_nowhere(c: Cloner, n: int) -> None:
    c.raw(
        "UPDATE artifact_v3 SET location = 's3://no-such-bucket/x', sha = 'bogus', "
        "ds_type = 'martian' WHERE run_number = :n",
        n=n,
    )


def _duplicated_rows(c: Cloner, n: int) -> None:
    rows = [
        dict(r._mapping)
        for r in c.conn.execute(sa.select(metadata_v3).where(metadata_v3.c.run_number == n))
    ]
    for row in rows:
        row["id"] = c.next_meta
        c.next_meta += 1
    c.conn.execute(sa.insert(metadata_v3), rows)


def _unicode_names(c: Cloner, n: int) -> None:
    c.raw("UPDATE tasks_v3 SET task_name = 'täsk ' || task_id WHERE run_number = :n", n=n)
    c.raw(
        "UPDATE runs_v3 SET run_id = 'rün with späces ☃', user_name = NULL WHERE run_number = :n",
        n=n,
    )


def _huge_values(c: Cloner, n: int) -> None:
    c.raw(
        "UPDATE metadata_v3 SET value = :v WHERE run_number = :n AND field_name = 'foreach-stack'",
        v="[" + ",".join(['"x=1"'] * 200_000) + "]",
        n=n,
    )
    c.raw("UPDATE runs_v3 SET tags = :v WHERE run_number = :n", v='["' + "t" * 100_000 + '"]', n=n)


DAMAGES: dict[str, Callable[[Cloner, int], None]] = {
    "tags that are not lists": _not_lists,
    "text in the run's number columns": _text_in_numbers,
    "text in a task's number columns": _task_text_in_numbers,
    "garbage attempt tags and outcomes": _garbage_attempts,
    "timestamps from the far future and before 1970": _far_future,
    "artifacts that point nowhere": _artifacts_nowhere,
    "every metadata row twice": _duplicated_rows,
    "unicode and spaces in names, no user": _unicode_names,
    "huge values": _huge_values,
}


@pytest.mark.parametrize("team", ["sqlite"], indirect=True)
def test_bad_service_rows_never_stop_the_sync_and_lose_nothing(
    team: TeamServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clean_engine = _copy(team.engine, f"sqlite:///{tmp_path / 'clean-v3.sqlite'}")
    clean = Store(f"sqlite:///{tmp_path / 'clean-index.sqlite'}")
    assert ServiceSource(clean, clean_engine, LOCATION, load_artifact).sync().errors == 0
    expected = snapshot(clean)
    clean.close()
    clean_engine.dispose()
    intact = {key for key in expected if key != "__flows__"}

    engine = _copy(team.engine, f"sqlite:///{tmp_path / 'damaged-v3.sqlite'}")
    flow_id, run_id = team.runs["linear"].split("/")
    with engine.begin() as conn:
        number = int(
            conn.execute(
                sa.select(runs_v3.c.run_number).where(
                    runs_v3.c.flow_id == flow_id,
                    sa.or_(
                        runs_v3.c.run_id == run_id,
                        sa.cast(runs_v3.c.run_number, sa.String) == run_id,
                    ),
                )
            ).scalar()
        )
        cloner = Cloner(conn, flow_id, number)
        damaged = {}
        for name, damage in DAMAGES.items():
            clone = cloner.clone()
            damage(cloner, clone)
            damaged[name] = clone
        damaged["a run without tasks"] = cloner.clone(with_tasks=False)

    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    source = ServiceSource(store, engine, LOCATION, load_artifact)
    first = source.sync()  # must return, whatever it met
    again = source.sync()
    source.follow_once()
    assert again.runs_seen == first.runs_seen
    got = snapshot(store)
    assert {k: got[k] for k in intact} == {k: expected[k] for k in intact}

    ctx = AppContext(store=store)
    ctx.register_details("service", LOCATION, ServiceTaskDetails(engine))
    ctx.index.ready.set()
    shown = 0
    with TestClient(create_app(ctx)) as api:
        listed = api.get("/api/v1/runs", params={"flow_id": flow_id, "limit": 500})
        assert listed.status_code == 200
        for run in listed.json()["items"]:
            base = f"/api/v1/flows/{quote(run['flow_id'])}/runs/{quote(run['run_id'])}"
            for sub in ("", "/steps", "/dag", "/timeline", "/tasks?limit=500"):
                answer = api.get(base + sub)
                assert answer.status_code < 500, (base + sub, answer.text[:300])
            for task in api.get(base + "/tasks?limit=500").json()["items"]:
                path = f"{base}/steps/{quote(task['step_name'])}/tasks/{quote(task['task_id'])}"
                for sub in ("", "/metadata", "/artifacts"):
                    answer = api.get(path + sub)
                    assert answer.status_code < 500, (path + sub, answer.text[:300])
            shown += 1
    # What could be read is shown: the intact run and most damaged copies.
    assert shown >= len(DAMAGES) // 2 + 1, shown
    # Warned once per bad run, not once per sync.
    messages = [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert len(messages) == len(set(messages)), messages
    store.close()
    engine.dispose()
