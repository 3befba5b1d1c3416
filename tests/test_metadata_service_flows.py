"""Real flows run with the unmodified Metaflow client against flowscope's `/metadata`.

For each database (a SQLite file, PostgreSQL) one flowscope server is started with
`/metadata` mounted; real runs (linear, branch, foreach, retry, catch, failing, resume, tag
edits) are made through it with `METAFLOW_DEFAULT_METADATA=service`, and then the Metaflow
client, pointed at the same service, must read back what they wrote; the v3 rows are
checked with SQL as well.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.metadata_service import client_call, run_flow, service_env, serving
from tests.team_fixture import TeamServer

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.api.metadata import create_metadata_app
from flowscope.service import v3_ddl
from flowscope.service.v3_schema import artifact_v3, metadata_v3, runs_v3, tasks_v3
from flowscope.store import Store
from flowscope.store.database import create_engine


def _view(team: TeamServer, name: str) -> dict[str, Any]:
    view: dict[str, Any] = team.view[team.runs[name]]
    return view


def _only_task(team: TeamServer, name: str, step: str) -> dict[str, Any]:
    tasks = _view(team, name)["steps"][step]
    assert len(tasks) == 1
    task: dict[str, Any] = tasks[0]
    return task


def test_run_ids_are_the_service_numbers(team: TeamServer) -> None:
    ids = sorted(int(p.split("/")[1]) for p in team.runs.values())
    assert ids == list(range(1, len(team.runs) + 1))
    for pathspec, view in team.view.items():
        assert view["id"] == pathspec.split("/")[1]


def test_linear_run_reads_back(team: TeamServer) -> None:
    view = _view(team, "linear")
    assert view["successful"] and view["finished"] and view["finished_at"]
    assert set(view["steps"]) == {"start", "middle", "end"}
    assert view["tags"] == ["beta"]
    assert "user:tester" in view["system_tags"]
    start = _only_task(team, "linear", "start")
    assert {"name", "total"} <= set(start["artifacts"])
    assert start["metadata_dict"]["script-name"] == "linear_flow.py"
    assert start["metadata_dict"]["ds-type"] == "local"
    assert {"attempt", "attempt_ok", "attempt-done"} <= set(start["metadata"])
    # Steps and tasks carry their run's tags, as the service answers them.
    assert "beta" in start["tags"]
    assert "doubled" in _only_task(team, "linear", "middle")["artifacts"]


def test_branch_and_foreach_read_back(team: TeamServer) -> None:
    branch = _view(team, "branch")
    assert branch["successful"]
    assert set(branch["steps"]) == {"start", "left", "right", "join", "end"}
    foreach = _view(team, "foreach")
    assert foreach["successful"]
    squares = foreach["steps"]["square"]
    assert len(squares) == 4 and all(t["successful"] for t in squares)
    assert all("result" in t["artifacts"] for t in squares)
    assert len({t["id"] for t in squares}) == 4


def test_retry_attempts_read_back(team: TeamServer) -> None:
    flaky = _only_task(team, "retry", "flaky")
    assert flaky["current_attempt"] == 1
    assert flaky["successful"] and flaky["finished"]
    assert flaky["attempts"]["0"]["successful"] is False
    assert flaky["attempts"]["1"]["successful"] is True
    assert "recovered_on" in flaky["attempts"]["1"]["artifacts"]
    assert "recovered_on" not in flaky["attempts"]["0"]["artifacts"]
    assert _view(team, "retry")["successful"]


def test_caught_failure_reads_back(team: TeamServer) -> None:
    risky = _only_task(team, "catch", "risky")
    assert risky["finished"] and not risky["successful"]
    assert "failure" in risky["artifacts"]
    assert _view(team, "catch")["successful"]


def test_failed_and_resumed_runs_read_back(team: TeamServer) -> None:
    failing = _view(team, "failing")
    assert not failing["successful"] and not failing["finished"]
    assert "end" not in failing["steps"]
    middle = _only_task(team, "failing", "middle")
    assert not middle["successful"] and middle["has_exception"]
    resumed = _view(team, "resumed")
    assert resumed["successful"]
    origin = team.runs["failing"].split("/")[1]
    start = _only_task(team, "resumed", "start")
    assert start["metadata_dict"]["origin-run-id"] == origin
    assert "planned" in start["artifacts"]  # cloned from the failed run


def test_tag_mutation_through_the_client(team: TeamServer) -> None:
    view = _view(team, "tags")
    assert view["tags"] == ["added", "alpha", "replaced"]
    assert "user:tester" in view["system_tags"]
    # Removing a system tag is refused (422), which the client raises.
    assert team.tag_edit_output.strip() == "MetaflowTaggingError"
    # Tasks read through the service show the run's tags after the edit.
    assert {"added", "replaced"} <= set(_only_task(team, "tags", "end")["tags"])


def test_v3_rows_match_what_the_client_reads(team: TeamServer) -> None:
    with team.engine.connect() as conn:
        for pathspec, view in team.view.items():
            flow_id, run = pathspec.split("/")
            number = int(run)
            run_row = conn.execute(
                sa.select(runs_v3).where(
                    runs_v3.c.flow_id == flow_id, runs_v3.c.run_number == number
                )
            ).one()
            assert run_row.run_id is None
            assert sorted(run_row.tags) == view["tags"]
            assert run_row.last_heartbeat_ts is not None
            assert abs(run_row.last_heartbeat_ts - time.time()) < 3600  # seconds, not ms
            tasks = {
                (r.step_name, str(r.task_id)): r
                for r in conn.execute(
                    sa.select(tasks_v3).where(
                        tasks_v3.c.flow_id == flow_id, tasks_v3.c.run_number == number
                    )
                )
            }
            seen = {(step, t["id"]) for step, ts in view["steps"].items() for t in ts}
            assert seen == {k for k in tasks if k[0] != "_parameters"}
            assert all(r.last_heartbeat_ts is not None for r in tasks.values())
            for step, step_tasks in view["steps"].items():
                for task in step_tasks:
                    task_id = int(task["id"])

                    def fields(of_task: int) -> set[str]:
                        return {
                            r.field_name
                            for r in conn.execute(
                                sa.select(metadata_v3.c.field_name).where(
                                    metadata_v3.c.task_id == of_task
                                )
                            )
                        }

                    expected = fields(task_id)
                    origin = task["metadata_dict"].get("origin-task-id")
                    if origin:  # a clone: the client adds its origin task's metadata
                        expected |= fields(int(origin))
                    assert expected == set(task["metadata"]), (pathspec, step)
                    for attempt, seen_attempt in task["attempts"].items():
                        # The client lists no private (`_`) artifacts; it reads them (its
                        # `successful` and `finished` above are `_success` and `_task_ok`).
                        names = sorted(
                            r.name
                            for r in conn.execute(
                                sa.select(artifact_v3.c.name).where(
                                    artifact_v3.c.task_id == task_id,
                                    artifact_v3.c.attempt_id == int(attempt),
                                )
                            )
                            if not r.name.startswith("_")
                        )
                        assert names == seen_attempt["artifacts"], (pathspec, step, attempt)


def test_every_run_was_announced_after_its_writes(team: TeamServer) -> None:
    with team.engine.connect() as conn:
        numbers = {
            (r.flow_id, r.run_number)
            for r in conn.execute(sa.select(runs_v3.c.flow_id, runs_v3.c.run_number))
        }
    announced: dict[tuple[str, int], set[str]] = {}
    for change in team.changes:
        announced.setdefault((change.flow_id, change.run_number), set()).add(change.what)
    assert set(announced) == numbers
    for key, kinds in announced.items():
        assert {"run", "step", "task", "metadata", "artifacts"} <= kinds, key
    tags_run = team.runs["tags"].split("/")
    assert "tags" in announced[(tags_run[0], int(tags_run[1]))]


def test_metadata_is_not_in_the_public_api_spec(team: TeamServer) -> None:
    import httpx

    base = team.env["METAFLOW_SERVICE_URL"].removesuffix("/metadata")
    spec = httpx.get(f"{base}/api/v1/openapi.json").json()
    assert spec["paths"] and not [p for p in spec["paths"] if p.startswith("/metadata")]
    assert httpx.get(f"{base}/metadata/ping").text == "pong"


READ_TAGS = """
import sys
from metaflow import Run, namespace
namespace(None)
print(",".join(sorted(Run(sys.argv[1]).user_tags)))
"""


def test_a_flow_runs_with_the_clients_api_key(tmp_path: Path) -> None:
    """METAFLOW_SERVICE_AUTH_KEY is what the client sends as x-api-key; without it, no access."""
    engine = create_engine(f"sqlite:///{tmp_path / 'team.sqlite'}")
    v3_ddl.upgrade(engine)
    key = "team-key-0123456789"
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store, metadata_app=create_metadata_app(engine, api_keys=[key]))
    sysroot = tmp_path / "sysroot"
    (sysroot / ".metaflow").mkdir(parents=True)
    with serving(create_app(ctx)) as base:
        keyed = service_env(sysroot, f"{base}/metadata", METAFLOW_SERVICE_AUTH_KEY=key)
        run_id = run_flow(keyed, "tags_flow.py", "--tag", "keyed")
        assert client_call(keyed, READ_TAGS, f"TagsFlow/{run_id}").strip() == "keyed"
        # Without the key (and with one retry, not five), the client is turned away.
        unkeyed = service_env(sysroot, f"{base}/metadata", METAFLOW_SERVICE_RETRY_COUNT="1")
        with pytest.raises(AssertionError, match="401"):
            client_call(unkeyed, READ_TAGS, f"TagsFlow/{run_id}")
    store.close()
    engine.dispose()


READ_STRING_IDS = """
import json, sys
from metaflow import Run, Task, namespace
namespace(None)
run = Run(sys.argv[1])
task = Task(sys.argv[1] + "/start/t-1")
print(json.dumps({
    "run": run.id,
    "steps": sorted(s.id for s in run),
    "tasks": sorted(t.id for t in run["start"]),
    "metadata": task.metadata_dict,
    "artifacts": sorted(a.id for a in task.artifacts),
    "tags": sorted(run.user_tags),
}))
"""


def test_string_run_and_task_ids_read_back_through_the_client(team: TeamServer) -> None:
    """Schedulers register string ids (`argo-…`, `t-…`); the client reads them as given."""
    import json

    import httpx

    base = team.env["METAFLOW_SERVICE_URL"]
    with httpx.Client(base_url=base) as http:
        assert http.post("/flows/StringIdsFlow", json={}).status_code == 200
        run = http.post(
            "/flows/StringIdsFlow/run",
            json={"run_number": "argo-123", "tags": ["sched"], "system_tags": ["user:tester"]},
        )
        assert run.json()["run_number"] == "argo-123"
        http.post("/flows/StringIdsFlow/runs/argo-123/steps/start/step", json={})
        task = http.post(
            "/flows/StringIdsFlow/runs/argo-123/steps/start/task", json={"task_id": "t-1"}
        )
        assert task.json()["task_id"] == "t-1"
        http.post(
            "/flows/StringIdsFlow/runs/argo-123/steps/start/tasks/t-1/metadata",
            json=[
                {"field_name": "attempt", "value": "0", "type": "attempt", "tags": ["attempt_id:0"]}
            ],
        )
        http.post(
            "/flows/StringIdsFlow/runs/argo-123/steps/start/tasks/t-1/artifact",
            json=[
                {
                    "name": "model",
                    "attempt_id": 0,
                    "sha": "abc",
                    "ds_type": "local",
                    "location": ":root:/nowhere/.metaflow",
                    "content_type": "gzip+pickle-v4",
                    "type": "metaflow.artifact",
                }
            ],
        )
    seen = json.loads(client_call(team.env, READ_STRING_IDS, "StringIdsFlow/argo-123"))
    assert seen == {
        "run": "argo-123",
        "steps": ["start"],
        "tasks": ["t-1"],
        "metadata": {"attempt": "0"},
        "artifacts": ["model"],
        "tags": ["sched"],
    }
