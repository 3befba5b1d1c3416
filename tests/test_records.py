"""What Metaflow records beyond statuses (issue 9), on real fixture runs, against the
Metaflow client: decorators, exceptions, configs, @parallel gangs, foreach paths,
`resume` clones, where a run ran, triggers."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from tests import oracle


def _get(api: TestClient, path: str, **params: Any) -> Any:
    response = api.get(f"/api/v1{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _client_run(pathspec: str) -> Any:
    return oracle._client().Run(pathspec)


def _task_path(pathspec: str, step: str, task_id: str) -> str:
    flow_id, run_id = pathspec.split("/")
    return f"/flows/{flow_id}/runs/{run_id}/steps/{step}/tasks/{task_id}"


# ---- decorators ----------------------------------------------------------------------


def test_step_decorators_match_graph_info(api: TestClient, fixture_runs: dict[str, str]) -> None:
    pathspec = fixture_runs["timeout"]
    run = _client_run(pathspec)
    recorded = oracle._graph_info(run)["steps"]
    flow_id, run_id = pathspec.split("/")
    dag = _get(api, f"/flows/{flow_id}/runs/{run_id}/dag")
    for name in ("start", "slow", "end"):
        ours = [(d["name"], d["attributes"]) for d in dag["steps"][name]["decorators"]]
        theirs = [(d["name"], d["attributes"]) for d in recorded[name]["decorators"]]
        assert ours == theirs, name
    names = {d["name"] for d in dag["steps"]["slow"]["decorators"]}
    assert names == {"timeout", "retry", "catch"}
    start = {d["name"]: d["attributes"] for d in dag["steps"]["start"]["decorators"]}
    assert start["resources"]["cpu"] == 1 and start["resources"]["memory"] == 1024
    assert start["environment"]["vars"] == {"FLOWSCOPE_GREETING": "hello"}
    assert "card" in start

    # The task page carries its step's decorators.
    slow_task = run["slow"].task
    detail = _get(api, _task_path(pathspec, "slow", slow_task.id))
    assert [d["name"] for d in detail["decorators"]] == [
        d["name"] for d in recorded["slow"]["decorators"]
    ]
    timeout = next(d for d in detail["decorators"] if d["name"] == "timeout")
    assert timeout["attributes"]["seconds"] == 2
