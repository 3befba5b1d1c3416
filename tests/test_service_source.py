"""flowscope reading a metaflow-service database as a source (issue 8, section 1).

The runs are real: made by the unmodified Metaflow client through flowscope's own
`/metadata` on SQLite and on PostgreSQL (tests/team_fixture.py). The service source syncs
those v3 tables into a separate index, and the API must then agree with what the Metaflow
client reads through the service, as the local suite checks for local runs. Where
flowscope knowingly differs from the client (a failed run has a finish time; a task whose
exception @catch caught is failed with `caught`), the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.team_fixture import TeamServer

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.ingest.service_source import ServiceSource
from flowscope.ingest.sources import ServiceTaskDetails
from flowscope.service_mode import load_artifact
from flowscope.store import Store

LOCATION = "team-database"


@pytest.fixture
def synced(team: TeamServer, tmp_path: Path) -> Iterator[tuple[ServiceSource, TestClient]]:
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    source = ServiceSource(store, team.engine, LOCATION, load_artifact)
    stats = source.sync()
    assert stats.errors == 0 and stats.runs_seen == stats.runs_written >= len(team.runs)
    ctx = AppContext(store=store)
    ctx.register_details("service", LOCATION, ServiceTaskDetails(team.engine))
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as api:
        yield source, api
    store.close()


def _get(api: TestClient, path: str, **params: Any) -> Any:
    answer = api.get(f"/api/v1{path}", params=params)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def _tasks(api: TestClient, flow_id: str, run_id: str) -> list[dict[str, Any]]:
    page = _get(api, f"/flows/{flow_id}/runs/{run_id}/tasks", limit=5000)
    assert page["next_cursor"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


def test_every_run_agrees_with_the_client(
    team: TeamServer, synced: tuple[ServiceSource, TestClient]
) -> None:
    _, api = synced
    for pathspec, view in team.view.items():
        flow_id, run_id = pathspec.split("/")
        run = _get(api, f"/flows/{flow_id}/runs/{run_id}")
        assert run["status"] == ("completed" if view["successful"] else "failed"), pathspec
        if not view["successful"]:
            assert run["status_reason"] == "error"
        assert sorted(run["tags"]) == view["tags"], pathspec
        assert sorted(run["system_tags"]) == view["system_tags"], pathspec
        assert run["started_at"] == view["created_at"], pathspec
        if view["finished_at_ms"] is not None:
            assert abs(run["finished_at"] - view["finished_at_ms"]) < 1000, pathspec
        else:
            # Knowingly better than the client: a failed run has ended, so it has a time.
            assert run["finished_at"] is not None
        steps = {
            s["step_name"] for s in _get(api, f"/flows/{flow_id}/runs/{run_id}/steps")["items"]
        }
        assert set(view["steps"]) <= steps, pathspec
        ours = {(t["step_name"], t["task_id"]): t for t in _tasks(api, flow_id, run_id)}
        theirs = {(step, t["id"]): t for step, tasks in view["steps"].items() for t in tasks}
        assert set(ours) == set(theirs), pathspec
        for key, client_task in theirs.items():
            task = ours[key]
            if client_task["finished"] and client_task["successful"]:
                assert (task["status"], task["caught"]) == ("completed", False), (pathspec, key)
            elif client_task["finished"]:
                # @catch: the client's `finished` and not `successful`; flowscope: failed, caught.
                assert (task["status"], task["caught"]) == ("failed", True), (pathspec, key)
            else:
                assert task["status"] == "failed", (pathspec, key)
            assert task["started_at"] == client_task["created_at"], (pathspec, key)
            assert task["attempt"] == client_task["current_attempt"], (pathspec, key)
            if client_task["finished_at"] is not None:
                assert abs(task["finished_at"] - client_task["finished_at"]) < 1000, key


def test_retries_are_attempts_as_the_client_reads_them(
    team: TeamServer, synced: tuple[ServiceSource, TestClient]
) -> None:
    _, api = synced
    flow_id, run_id = team.runs["retry"].split("/")
    view = team.view[team.runs["retry"]]["steps"]["flaky"][0]
    task = _get(api, f"/flows/{flow_id}/runs/{run_id}/steps/flaky/tasks/{view['id']}")
    assert [a["status"] for a in task["attempts"]] == [
        "completed" if view["attempts"][str(n)]["successful"] else "failed"
        for n in range(view["current_attempt"] + 1)
    ]
    assert [a["status_reason"] for a in task["attempts"]] == ["error", None]


def test_a_tasks_metadata_comes_from_the_service_database(
    team: TeamServer, synced: tuple[ServiceSource, TestClient]
) -> None:
    _, api = synced
    flow_id, run_id = team.runs["linear"].split("/")
    start = team.view[team.runs["linear"]]["steps"]["start"][0]
    task = _get(api, f"/flows/{flow_id}/runs/{run_id}/steps/start/tasks/{start['id']}")
    names = {m["field_name"] for m in task["metadata"]}
    assert names == set(start["metadata"])
    by_name = {m["field_name"]: m["value"] for m in task["metadata"]}
    assert by_name["script-name"] == start["metadata_dict"]["script-name"]


def test_the_graph_and_parameters_come_from_the_runs_datastore(
    team: TeamServer, synced: tuple[ServiceSource, TestClient]
) -> None:
    _, api = synced
    flow_id, run_id = team.runs["linear"].split("/")
    run = _get(api, f"/flows/{flow_id}/runs/{run_id}")
    assert run["parameters"]["count"] == "7"
    assert run["script_name"] == "linear_flow.py"
    steps = [s["step_name"] for s in _get(api, f"/flows/{flow_id}/runs/{run_id}/steps")["items"]]
    assert steps == ["start", "middle", "end"]  # in the graph's order, not by name


def test_include_file_parameters_show_the_included_content(
    team: TeamServer, synced: tuple[ServiceSource, TestClient]
) -> None:
    from tests.fixtures_runs import INCLUDED_BINARY, INCLUDED_TEXT

    _, api = synced
    flow_id, run_id = team.runs["include"].split("/")
    run = _get(api, f"/flows/{flow_id}/runs/{run_id}")
    # As the client's Run.data: the text; binary content by its size (tests/test_truth.py).
    assert run["parameters"]["notes"] == repr(INCLUDED_TEXT)
    assert run["parameters"]["blob"] == f"<{len(INCLUDED_BINARY):,} bytes>"


def test_a_second_sync_of_an_unchanged_database_rereads_only_live_runs(
    synced: tuple[ServiceSource, TestClient],
) -> None:
    """Runs that are over are sealed: a second pass skips them. Only a run that may
    still change (the hand-made run of test_metadata_service_flows, whose task never
    recorded an outcome, may be live) is read again."""
    source, api = synced
    before = _get(api, "/runs", limit=500)
    live = [k for k, run in source.store.stored_runs(source.source_id).items() if not run.sealed]
    assert all(flow_id == "StringIdsFlow" for flow_id, _ in live), live
    again = source.sync()
    assert (again.runs_written, again.errors) == (len(live), 0)
    assert _get(api, "/runs", limit=500) == before


def test_a_task_that_failed_for_good_fails_its_run_while_the_heartbeat_is_fresh(
    team: TeamServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failing run's runtime beat until it exited; judged at the moment of its last
    beat, it is failed all the same: its task raised on its only allowed attempt, after
    which Metaflow's runtime stops the run. (The clock is pinned to that moment: the
    database's clock is the only thing made up here.)"""
    flow_id, run_id = team.runs["failing"].split("/")
    with team.engine.connect() as conn:
        from flowscope.service import v3_reads as v3

        found = v3.run_by_exposed_id(conn, flow_id, run_id)
    assert found is not None and found.last_heartbeat_ts is not None
    beat_ms = found.last_heartbeat_ts * 1000
    monkeypatch.setattr(v3, "db_now_ms", lambda _conn: beat_ms + 1000)
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ServiceSource(store, team.engine, LOCATION, load_artifact).sync()
    ref = store.find_run(flow_id, run_id)
    assert ref is not None
    run = store.get_run(ref)
    assert run is not None and (run["status"], run["status_reason"]) == ("failed", "error")
    store.close()
