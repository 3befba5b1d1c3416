"""The team server of the service tests: one flowscope `/metadata` per database (a SQLite
file, PostgreSQL) with real runs made through it by the unmodified Metaflow client.

Session-scoped, so the modules that check what was written (test_metadata_service_flows)
and what flowscope's source reads back from it (test_service_source) share one set of runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from tests.fixtures_runs import INCLUDED_BINARY, INCLUDED_TEXT
from tests.metadata_service import client_call, client_view, run_flow, service_env, serving
from tests.pg import fresh_pg

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.api.metadata import create_metadata_app
from flowscope.service import v3_ddl
from flowscope.service.v3_shapes import V3Change
from flowscope.store import Store
from flowscope.store.database import create_engine

HEAL_ENV = "FLOWSCOPE_FIXTURE_HEAL"
TAG_EDITS = """
import sys
from metaflow import Run, namespace
namespace(None)
run = Run(sys.argv[1])
run.add_tag("added")
run.remove_tag("to_remove")
run.replace_tag("to_replace", "replaced")
try:
    run.remove_tag("user:tester")
except Exception as exc:
    print(type(exc).__name__)
"""


@dataclass
class TeamServer:
    engine: Engine
    env: dict[str, str]
    runs: dict[str, str] = field(default_factory=dict)  # fixture name -> pathspec
    view: dict[str, Any] = field(default_factory=dict)  # pathspec -> client view
    changes: list[V3Change] = field(default_factory=list)
    tag_edit_output: str = ""


def _flows(server: TeamServer) -> list[Callable[[], None]]:
    env = server.env

    def single(name: str, flow: str, cls: str, *args: str) -> Callable[[], None]:
        def launch() -> None:
            server.runs[name] = f"{cls}/{run_flow(env, flow, *args)}"

        return launch

    def failing_then_resumed() -> None:
        failed = run_flow(env, "failing_flow.py", should_fail=True)
        server.runs["failing"] = f"FailingFlow/{failed}"
        resumed = run_flow(
            {**env, HEAL_ENV: "1"}, "failing_flow.py", "--origin-run-id", failed, command="resume"
        )
        server.runs["resumed"] = f"FailingFlow/{resumed}"

    def tags_then_edits() -> None:
        tags = ("--tag", "alpha", "--tag", "to_remove", "--tag", "to_replace")
        pathspec = f"TagsFlow/{run_flow(env, 'tags_flow.py', *tags)}"
        server.runs["tags"] = pathspec
        server.tag_edit_output = client_call(env, TAG_EDITS, pathspec)

    def include() -> None:
        sysroot = Path(env["METAFLOW_DATASTORE_SYSROOT_LOCAL"])
        notes, blob = sysroot / "notes.txt", sysroot / "blob.bin"
        notes.write_text(INCLUDED_TEXT, encoding="utf-8")
        blob.write_bytes(INCLUDED_BINARY)
        run_id = run_flow(env, "include_flow.py", "--notes", str(notes), "--blob", str(blob))
        server.runs["include"] = f"IncludeFlow/{run_id}"

    return [
        failing_then_resumed,
        include,
        single("foreach", "foreach_flow.py", "ForeachFlow"),
        tags_then_edits,
        single("retry", "retry_flow.py", "RetryFlow"),
        single("linear", "linear_flow.py", "LinearFlow", "--count", "7", "--tag", "beta"),
        single("branch", "branch_flow.py", "BranchFlow"),
        single("catch", "catch_flow.py", "CatchFlow"),
    ]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def team(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TeamServer]:
    scratch = tmp_path_factory.mktemp(f"team-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{scratch / 'team.sqlite'}"
    else:
        url = fresh_pg(request.getfixturevalue("pg_server"))
    engine = create_engine(url)
    assert v3_ddl.upgrade(engine).created
    changes: list[V3Change] = []
    lock = threading.Lock()

    def on_change(change: V3Change) -> None:
        with lock:
            changes.append(change)

    store = Store(f"sqlite:///{scratch / 'index.sqlite'}")
    ctx = AppContext(store=store, metadata_app=create_metadata_app(engine, on_change))
    ctx.index.ready.set()
    sysroot = scratch / "sysroot"
    (sysroot / ".metaflow").mkdir(parents=True)
    with serving(create_app(ctx)) as base:
        server = TeamServer(engine, service_env(sysroot, f"{base}/metadata"), changes=changes)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for done in [pool.submit(flow) for flow in _flows(server)]:
                done.result()
        server.view = client_view(server.env, *server.runs.values())
        yield server
    store.close()
    engine.dispose()
