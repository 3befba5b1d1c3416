"""Truth in every view (issue 9), on real fixture runs, with the Metaflow client as oracle."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from tests import oracle


def _get(api: TestClient, path: str, **params: Any) -> Any:
    response = api.get(f"/api/v1{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _run_path(pathspec: str) -> str:
    flow_id, run_id = pathspec.split("/")
    return f"/flows/{flow_id}/runs/{run_id}"


# ---- steps that never ran ------------------------------------------------------------


def test_steps_that_never_ran_in_a_finished_run_are_skipped(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    # The untaken branch of a switch (`small`), and the steps after the failure of a run
    # that failed early (`end`): the client has no step for them at all.
    for name, never_ran in (("switch", {"small"}), ("failing", {"end"})):
        pathspec = fixture_runs[name]
        ran = set(oracle.oracle_steps(pathspec))
        dag = _get(api, _run_path(pathspec) + "/dag")
        assert set(dag["steps"]) - ran == never_ran, name
        steps = {s["step_name"]: s for s in _get(api, _run_path(pathspec) + "/steps")["items"]}
        for step_name, step in steps.items():
            if step_name in never_ran:
                assert step["status"] == "skipped", (name, step_name)
                assert sum(step["task_counts"].values()) == 0
                assert step["started_at"] is None and step["finished_at"] is None
            else:
                assert step["status"] in ("completed", "failed"), (name, step_name)
        run = _get(api, _run_path(pathspec))
        assert run["status"] != "running"
        # Counted apart: a skipped step is neither pending nor failed.
        assert run["step_counts"]["skipped"] == len(never_ran)
        assert run["step_counts"]["pending"] == 0
        assert sum(run["step_counts"].values()) == len(steps)
        statuses = [s["status"] for s in steps.values()]
        assert run["step_counts"]["failed"] == statuses.count("failed")
        assert run["step_counts"]["completed"] == statuses.count("completed")


def test_a_finished_run_has_no_pending_step(api: TestClient, fixture_runs: dict[str, str]) -> None:
    for name, pathspec in fixture_runs.items():
        statuses = [s["status"] for s in _get(api, _run_path(pathspec) + "/steps")["items"]]
        assert "pending" not in statuses, name
