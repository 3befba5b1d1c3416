"""What Metaflow records beyond statuses (issue 9), on real fixture runs, against the
Metaflow client: decorators, exceptions, configs, @parallel gangs, foreach paths,
`resume` clones, where a run ran, triggers."""

from __future__ import annotations

import json
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


# ---- exceptions ----------------------------------------------------------------------


def test_every_failed_attempt_has_its_exception(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    pathspec = fixture_runs["timeout"]
    mf = oracle._client()
    task = _client_run(pathspec)["slow"].task
    detail = _get(api, _task_path(pathspec, "slow", task.id))
    found = {e["attempt"]: e for e in detail["exceptions"]}
    assert sorted(found) == [0, 1]

    # Attempt 0: @timeout's TimeoutException, in `_exception`, as the client has it.
    first = mf.Task(task.pathspec, attempt=0).exception
    assert found[0]["type"] == first.type == "metaflow.plugins.timeout_decorator.TimeoutException"
    assert found[0]["source"] == "_exception" and not found[0]["caught"]
    assert found[0]["traceback"] == first.stacktrace
    assert found[0]["message"].startswith("Step slow timed out after")

    # Attempt 1: the same exception, kept by @catch in its variable.
    caught = mf.Task(task.pathspec, attempt=1)["timed_out"].data
    assert found[1]["type"] == caught.type and found[1]["caught"]
    assert found[1]["source"] == "timed_out"
    assert "timeout_flow.py" in found[1]["traceback"]
    assert detail["exception"] == found[1]


def test_retried_task_keeps_the_first_attempts_exception(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    pathspec = fixture_runs["retry"]
    task = _client_run(pathspec)["flaky"].task
    detail = _get(api, _task_path(pathspec, "flaky", task.id))
    assert [e["attempt"] for e in detail["exceptions"]] == [0]
    theirs = oracle._client().Task(task.pathspec, attempt=0).exception
    assert detail["exceptions"][0]["type"] == theirs.type == "builtins.RuntimeError"
    assert detail["exceptions"][0]["message"] == "flaky failure on the first attempt"


# ---- configs -------------------------------------------------------------------------


def test_configs_are_apart_from_parameters(api: TestClient, fixture_runs: dict[str, str]) -> None:
    pathspec = fixture_runs["config"]
    flow_id, run_id = pathspec.split("/")
    ours = _get(api, f"/flows/{flow_id}/runs/{run_id}")
    params_task = _client_run(pathspec)["_parameters"].task
    assert ours["parameters"] == {"alpha": repr(params_task["alpha"].data)} == {"alpha": "0.5"}
    settings = params_task["settings"].data
    assert settings == {"learning_rate": 0.1, "layers": [64, 32]}
    assert ours["configs"] == {"settings": repr(settings)}


# ---- @parallel -----------------------------------------------------------------------


def test_parallel_gang_is_labelled(api: TestClient, fixture_runs: dict[str, str]) -> None:
    pathspec = fixture_runs["parallel"]
    flow_id, run_id = pathspec.split("/")
    dag = _get(api, f"/flows/{flow_id}/runs/{run_id}/dag")
    recorded = oracle._graph_info(_client_run(pathspec))["steps"]
    assert dag["steps"]["start"]["num_parallel"] == recorded["start"]["num_parallel"] == 3
    assert dag["steps"]["start"]["type"] == "split-parallel"

    client_tasks = {t.id: t for t in _client_run(pathspec)["train"]}
    assert sorted(client_tasks) == ["2", "2_node_1", "2_node_2"]
    for task_id, task in client_tasks.items():
        detail = _get(api, _task_path(pathspec, "train", task_id))
        control = task.metadata_dict.get("internal_task_type") == "control_task"
        assert detail["parallel"] == {
            "role": "control" if control else "worker",
            "node_index": task["node"].data,  # current.parallel.node_index in the task
            "num_parallel": 3,
        }, task_id
    assert [t for t in client_tasks if "_node_" not in t] == ["2"]
    # Outside the gang: no gang.
    start = _get(api, _task_path(pathspec, "start", _client_run(pathspec)["start"].task.id))
    assert start["parallel"] is None


# ---- nested foreach ------------------------------------------------------------------


def test_nested_foreach_label_is_the_full_path(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    pathspec = fixture_runs["nested_foreach"]
    flow_id, run_id = pathspec.split("/")
    base = f"/flows/{flow_id}/runs/{run_id}/tasks"
    ours = {t["task_id"]: t["foreach_label"] for t in _get(api, base, step_name="inner")["items"]}
    for task in _client_run(pathspec)["inner"]:
        stack = task["_foreach_stack"].data
        assert len(stack) == 2
        expected = " › ".join(f"{f.var}[{f.index}]={f.value}" for f in stack)
        assert ours[task.id] == expected
        assert expected.startswith("letters[")

    # The task list filters by foreach value (any level, any case).
    only_b = _get(api, base, foreach="=B")["items"]
    assert {t["step_name"] for t in only_b} == {"outer", "inner", "inner_join"}
    assert all("letters[1]=b" in t["foreach_label"] for t in only_b)
    assert len([t for t in only_b if t["step_name"] == "inner"]) == 2
    inner_2 = _get(api, base, foreach="numbers[1]=2", step_name="inner")["items"]
    assert sorted(t["foreach_label"] for t in inner_2) == [
        "letters[0]=a › numbers[1]=2",
        "letters[1]=b › numbers[1]=2",
    ]
    assert _get(api, base, foreach="100%_x")["items"] == []


# ---- resume --------------------------------------------------------------------------


def test_resumed_runs_clones_link_to_their_origin(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    pathspec = fixture_runs["resumed"]
    origin_run = fixture_runs["failing"].split("/")[1]
    flow_id, run_id = pathspec.split("/")
    clones = _get(api, f"/flows/{flow_id}/runs/{run_id}/clones")
    assert clones["truncated"] is False
    expected = {}
    for step in _client_run(pathspec):
        for task in step:
            meta = task.metadata_dict
            if meta.get("origin-task-id"):
                expected[(step.id, task.id)] = (meta["origin-run-id"], meta["origin-task-id"])
    # `start` succeeded in the failing run: resume cloned it; middle and end ran again.
    assert {step for step, _ in expected} == {"start"}
    ours = {
        (c["step_name"], c["task_id"]): (c["origin"]["run_id"], c["origin"]["task_id"])
        for c in clones["items"]
    }
    assert ours == expected
    (step, task_id), (run, origin_task) = next(iter(expected.items()))
    assert run == origin_run
    detail = _get(api, _task_path(pathspec, step, task_id))
    assert detail["origin"] == {
        "run_id": origin_run,
        "task_id": origin_task,
        "pathspec": f"{flow_id}/{origin_run}/{step}/{origin_task}",
    }
    middle = _client_run(pathspec)["middle"].task
    assert _get(api, _task_path(pathspec, "middle", middle.id))["origin"] is None
    # A run that was not resumed has none.
    failing_flow, failing_id = fixture_runs["failing"].split("/")
    assert _get(api, f"/flows/{failing_flow}/runs/{failing_id}/clones")["items"] == []


# ---- where it ran --------------------------------------------------------------------
# The `argo` and `sfn` fixtures are real local runs launched with the environment the
# Argo Workflows and Step Functions compilers give their tasks, plus the metadata only the
# remote decorators write, registered through Metaflow's own provider (fixtures_runs.py
# says which writer each record imitates).


def test_argo_run_shows_its_scheduler_code_and_pods(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    pathspec = fixture_runs["argo"]
    flow_id, run_id = pathspec.split("/")
    run = _client_run(pathspec)
    ours = _get(api, f"/flows/{flow_id}/runs/{run_id}")
    assert "runtime:argo-workflows" in run.system_tags
    start_meta = run["start"].task.metadata_dict
    assert ours["scheduler"]["name"] == "argo-workflows"
    assert ours["scheduler"]["production_token"] == "scheduledflow-0-abcd"
    assert "production:scheduledflow-0-abcd" in run.system_tags
    details = {d["name"]: d["value"] for d in ours["scheduler"]["details"]}
    for name in ("argo-workflow-name", "argo-workflow-template", "argo-workflow-namespace"):
        assert details[name] == start_meta[name]
    # Written by Metaflow itself from METAFLOW_CODE_* (the Argo compiler sets them).
    assert ours["code_package"] == json.loads(start_meta["code-package"])
    assert ours["code_package"]["sha"] == "c0de5a1e"
    assert ours["git_info"] == json.loads(start_meta["git-info"])

    for step in run:
        for task in step:
            detail = _get(api, _task_path(pathspec, step.id, task.id))
            compute = detail["compute"]
            assert compute["platform"] == "kubernetes"
            fields = {d["name"]: d["value"] for d in compute["details"]}
            meta = task.metadata_dict
            assert fields["kubernetes-pod-name"] == meta["kubernetes-pod-name"]
            assert (
                fields["kubernetes-pod-namespace"] == meta["kubernetes-pod-namespace"] == "mf-prod"
            )
            assert compute["spot_termination"] is None


def test_sfn_run_shows_batch_jobs_logs_and_spot_termination(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    pathspec = fixture_runs["sfn"]
    flow_id, run_id = pathspec.split("/")
    run = _client_run(pathspec)
    ours = _get(api, f"/flows/{flow_id}/runs/{run_id}")
    assert ours["scheduler"]["name"] == "step-functions"
    details = {d["name"]: d["value"] for d in ours["scheduler"]["details"]}
    start_meta = run["start"].task.metadata_dict
    assert details["aws-step-functions-execution"] == start_meta["aws-step-functions-execution"]
    assert ours["code_package"] is None

    end = run["end"].task
    compute = _get(api, _task_path(pathspec, "end", end.id))["compute"]
    fields = {d["name"]: d["value"] for d in compute["details"]}
    assert compute["platform"] == "batch"
    for name in ("aws-batch-job-id", "aws-batch-awslogs-group", "aws-batch-awslogs-stream"):
        assert fields[name] == end.metadata_dict[name]
    assert compute["spot_termination"] == {
        "received_at": end.metadata_dict["spot-termination-received-at"],
        "termination_time": end.metadata_dict["spot-termination-time"],
    }
    start = _get(api, _task_path(pathspec, "start", run["start"].task.id))["compute"]
    assert start["platform"] == "batch" and start["spot_termination"] is None


def test_local_run_has_no_scheduler_nor_compute(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    pathspec = fixture_runs["linear"]
    flow_id, run_id = pathspec.split("/")
    ours = _get(api, f"/flows/{flow_id}/runs/{run_id}")
    assert ours["scheduler"] is None and ours["code_package"] is None
    run = _client_run(pathspec)
    assert "runtime:dev" in run.system_tags
    start = run["start"].task
    assert _get(api, _task_path(pathspec, "start", start.id))["compute"] is None
    git = start.metadata_dict.get("git-info")
    assert ours["git_info"] == (json.loads(git) if git else None)


# ---- triggers ------------------------------------------------------------------------


def test_triggered_run_names_its_event_and_the_run_behind_it(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    # `execution-triggers` as Argo's decorator writes it for @trigger_on_finish, naming
    # the end task of the real `parallel` run (fixtures_runs.py).
    pathspec = fixture_runs["argo"]
    flow_id, run_id = pathspec.split("/")
    trigger = _client_run(pathspec).trigger
    assert trigger is not None
    ours = _get(api, f"/flows/{flow_id}/runs/{run_id}")["triggers"]
    # The client turns the epoch seconds into a naive local datetime.
    assert [(e["name"], e["type"], e["id"]) for e in ours] == [
        (e.name, e.type, e.id) for e in trigger.events
    ]
    assert [e["timestamp"] for e in ours] == [e.timestamp.timestamp() for e in trigger.events]
    upstream = trigger.run
    assert upstream is not None and upstream.pathspec == fixture_runs["parallel"]
    up_flow, up_run = upstream.pathspec.split("/")
    assert ours[0]["run"] == {"flow_id": up_flow, "run_id": up_run, "known": True}
    # Runs nobody triggered have none.
    other_flow, other_run = fixture_runs["sfn"].split("/")
    assert _client_run(fixture_runs["sfn"]).trigger is None
    assert _get(api, f"/flows/{other_flow}/runs/{other_run}")["triggers"] == []


# ---- refreshing cards ----------------------------------------------------------------


def test_refreshing_card_serves_its_data_and_takes_updates(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    from metaflow.cards import get_cards

    pathspec = fixture_runs["refreshing_card"]
    task = _client_run(pathspec)["start"].task
    [theirs] = list(get_cards(task, id="progress"))
    base = _task_path(pathspec, "start", task.id)
    [ours] = _get(api, f"{base}/cards")["items"]
    assert ours["id"] == theirs.hash
    data = _get(api, f"{base}/cards/{theirs.hash}/data")
    expected = theirs.get_data()
    assert expected is not None
    assert data["reload_token"] == expected["reload_token"] == "final"
    assert data["data"] == expected["data"]
    assert [c["source"] for c in data["data"].values()] == ["# tick 3"]

    # The card comes with the bridge that takes updates by postMessage, and is still
    # served sandboxed, fetching nothing itself.
    card = api.get(f"/api/v1{base}/cards/{theirs.hash}")
    assert card.status_code == 200
    assert b"flowscope-card-data" in card.content and b"metaflow_card_update" in card.content
    csp = card.headers["content-security-policy"]
    assert "sandbox allow-scripts" in csp and "connect-src 'none'" in csp
    assert card.content.index(b"flowscope-card-ready") > card.content.index(
        b"METAFLOW_RELOAD_TOKEN"
    )

    # Every card of the `card` run: data exactly when the client has some.
    other = fixture_runs["card"]
    for step in ("start", "end"):
        other_task = _client_run(other)[step].task
        other_base = _task_path(other, step, other_task.id)
        for client_card in get_cards(other_task):
            theirs_data = client_card.get_data()
            response = api.get(f"/api/v1{other_base}/cards/{client_card.hash}/data")
            if theirs_data is None:
                assert response.status_code == 404
            else:
                assert response.json()["data"] == theirs_data["data"]
