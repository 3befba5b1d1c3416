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


# ---- a run's true start --------------------------------------------------------------


def test_a_run_starts_with_its_first_task_even_after_its_tags_were_edited(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    # The `tags` run had `Run(...).add_tag/remove_tag/replace_tag` applied after it ended
    # (tests/fixtures_runs.py): in local metadata that rewrites the run's `_self.json`,
    # ts_epoch included.
    pathspec = fixture_runs["tags"]
    client_run = oracle.oracle_run(pathspec)
    tasks = oracle.oracle_tasks(pathspec)
    first_task = min(t["started_at"] for t in tasks)
    last_finish = max(t["finished_at"] for t in tasks)
    # What the client says: the run was created after its last task finished.
    assert client_run["started_at"] > last_finish

    ours = _get(api, _run_path(pathspec))
    # Knowingly not the client's `Run.created_at`: the earlier of the run record and its
    # first task is the run's true start.
    assert ours["started_at"] == first_task
    assert ours["started_at"] < client_run["started_at"]
    assert ours["finished_at"] is not None and ours["finished_at"] >= ours["started_at"]
    assert ours["duration_ms"] == ours["finished_at"] - ours["started_at"] > 0
    listed = _get(api, "/runs", flow_id=pathspec.split("/")[0])["items"]
    assert [r["started_at"] for r in listed if r["run_id"] == ours["run_id"]] == [first_task]


def test_an_unedited_run_starts_with_its_record(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    # Where the run record was not rewritten it is the earlier: the client's created_at.
    pathspec = fixture_runs["linear"]
    assert _get(api, _run_path(pathspec))["started_at"] == oracle.oracle_run(pathspec)["started_at"]


# ---- one definition of a task's times -------------------------------------------------


def test_a_task_has_the_same_start_end_and_duration_in_every_view(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    from tests.test_timeline_api import decode_overview

    for name in ("linear", "foreach", "retry", "catch", "failing"):
        base = _run_path(fixture_runs[name])
        listed = _get(api, base + "/tasks", limit=5000)["items"]
        overview = decode_overview(api.get(f"/api/v1{base}/timeline/overview").content)
        spans = {(t["step_name"], t["task_id"]): t for t in overview["tasks"]}
        client = {
            (t["step_name"], t["task_id"]): t for t in oracle.oracle_tasks(fixture_runs[name])
        }
        for item in listed:
            key = (item["step_name"], item["task_id"])
            detail = _get(api, f"{base}/steps/{key[0]}/tasks/{key[1]}")
            times = ("started_at", "finished_at", "duration_ms")
            assert {k: detail[k] for k in times} == {k: item[k] for k in times}, (name, key)
            assert (spans[key]["started_at"], spans[key]["finished_at"]) == (
                item["started_at"],
                item["finished_at"],
            )
            # The definition (docs/API.md): from the task's registration (the client's
            # Task.created_at) to its latest attempt's end.
            assert item["started_at"] == client[key]["started_at"], (name, key)
            attempts = detail["attempts"]
            assert item["finished_at"] == attempts[-1]["finished_at"], (name, key)
            assert item["duration_ms"] == item["finished_at"] - item["started_at"]
            assert item["started_at"] <= attempts[0]["started_at"], (name, key)


# ---- a task whose failure @catch swallowed ---------------------------------------------


def test_a_caught_task_has_one_status_in_the_list_and_on_its_own(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    pathspec = fixture_runs["catch"]
    base = _run_path(pathspec)
    (listed,) = _get(api, base + "/tasks", step_name="risky")["items"]
    detail = _get(api, f"{base}/steps/risky/tasks/{listed['task_id']}")
    for task in (listed, detail):
        assert (task["status"], task["status_reason"], task["caught"]) == ("failed", "error", True)
    # Its attempt ended fine (attempt_ok), which the client's Task.finished reports; that is
    # the attempt's status, not the task's (the UI labels it as the attempt's).
    client = oracle.oracle_task(f"{pathspec}/risky/{listed['task_id']}")
    assert client["caught"] is True
    assert [a["status"] for a in detail["attempts"]] == [a["status"] for a in client["attempts"]]
    assert detail["attempts"][-1]["status"] == "completed"


# ---- IncludeFile parameters -----------------------------------------------------------


def _client_data(pathspec: str, name: str) -> Any:
    import metaflow

    oracle._client()
    return metaflow.Run(pathspec).data.__getattr__(name)


def test_include_file_parameters_show_their_content_as_the_client_reads_it(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    from tests.fixtures_runs import INCLUDED_BINARY, INCLUDED_TEXT

    pathspec = fixture_runs["include"]
    text, binary = _client_data(pathspec, "notes"), _client_data(pathspec, "blob")
    assert (text, binary) == (INCLUDED_TEXT, INCLUDED_BINARY)  # the oracle's own view

    run = _get(api, _run_path(pathspec))
    # Text as the client's repr; binary by its size (knowingly not the client's repr of
    # 1,024 bytes of escapes).
    assert run["parameters"]["notes"] == repr(text)
    assert run["parameters"]["blob"] == f"<{len(binary):,} bytes>"

    (start,) = _get(api, _run_path(pathspec) + "/tasks", step_name="start")["items"]
    base = f"{_run_path(pathspec)}/steps/start/tasks/{start['task_id']}/artifacts"
    notes = _get(api, f"{base}/notes")
    assert notes["previewable"] is True
    assert (notes["preview_kind"], notes["preview"]) == ("text", text)
    blob = _get(api, f"{base}/blob")
    assert (blob["preview_kind"], blob["preview_data"]) == ("bytes", {"size": len(binary)})
    for detail, expected in ((notes, text.encode()), (blob, binary)):
        response = api.get(detail["download_url"])
        assert response.status_code == 200
        assert response.content == expected
        assert "attachment" in response.headers["content-disposition"]
    # Any other artifact is a Python value, not a file: no download.
    assert _get(api, f"{base}/lines")["download_url"] is None
    assert api.get(f"/api/v1{base}/lines/download").status_code == 404


def test_an_included_file_is_read_only_where_metaflow_puts_it(tmp_path: Any) -> None:
    from flowscope.datastore import NotFoundError
    from flowscope.datastore.included_file import IncludedFileRef
    from flowscope.datastore.local import LocalDatastore

    (tmp_path / ".metaflow").mkdir()
    secret = tmp_path / "secret"
    secret.write_bytes(b"not yours")
    datastore = LocalDatastore(tmp_path / ".metaflow")
    for url in (
        f"local://{secret}",
        f"local://{tmp_path}/data/Other/{'a' * 40}",
        f"local:///elsewhere/data/F/{'a' * 40}",
        f"local://{tmp_path}/data/F/../../secret",
    ):
        ref = IncludedFileRef()
        ref.__setstate__(
            {"_descriptor": {"type": "uploader-v2", "sub-type": "uploaded", "url": url}}
        )
        try:
            datastore.read_included_file(ref, "F", max_bytes=1000)
        except NotFoundError:
            continue
        raise AssertionError(f"read {url}")


# ---- metadata listed once -------------------------------------------------------------

TWICE_RECORDED = (
    "git-info",
    "metaflow_version",
    "python_version",
    "runtime",
    "script-name",
    "user",
)


def test_metadata_lists_each_field_once_per_attempt(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    import metaflow

    oracle._client()
    for name, step in (("linear", "start"), ("retry", "flaky")):
        pathspec = fixture_runs[name]
        (task,) = _get(api, _run_path(pathspec) + "/tasks", step_name=step)["items"]
        detail = _get(api, f"{_run_path(pathspec)}/steps/{step}/tasks/{task['task_id']}")
        ours = [(m["field_name"], m["value"], m["type"], m["attempt"]) for m in detail["metadata"]]
        assert len(ours) == len(set(ours)), name
        client = metaflow.Task(f"{pathspec}/{step}/{task['task_id']}").metadata
        theirs = [(m.name, m.value, m.type) for m in client]
        # The client lists Metaflow's double recordings (the runtime's, then the task's);
        # flowscope keeps one of each, and nothing else is lost.
        for field in TWICE_RECORDED:
            per_attempt = [o[3] for o in ours if o[0] == field]
            assert sorted(per_attempt) == list(range(task["attempt"] + 1)), (name, field)
            assert [t[0] for t in theirs].count(field) > len(per_attempt), (name, field)
        assert {o[:3] for o in ours} == set(theirs), name


# ---- a completed run with caught failures ---------------------------------------------


def test_a_completed_run_says_how_many_failures_it_went_on_past(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    for name, pathspec in fixture_runs.items():
        client = oracle.oracle_run(pathspec)
        caught = sum(t["caught"] for t in oracle.oracle_tasks(pathspec))
        run = _get(api, _run_path(pathspec))
        assert run["caught_count"] == caught, name
        listed = _get(api, "/runs", flow_id=pathspec.split("/")[0])["items"]
        (item,) = [r for r in listed if r["run_id"] == run["run_id"]]
        assert item["caught_count"] == caught, name
        # Over: no run is at any step any more.
        assert item["current_steps"] == [] == run["current_steps"], name
        if name == "catch":
            assert (client["status"], caught) == ("completed", 1)


# ---- where a running run is -----------------------------------------------------------


def test_the_runs_list_says_which_steps_a_running_run_is_at(tmp_path: Any) -> None:
    # A real flow, indexed while it runs (the client cannot say what is running: it has no
    # notion of a live task, so here the flow's own timing is the reference).
    from tests.helpers import kill_group, start_flow, wait_for

    from flowscope.ingest.local_indexer import LocalIndexer
    from flowscope.store import RunFilters, Store

    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer = LocalIndexer(store, tmp_path / ".metaflow")
    flow = start_flow(tmp_path, "slow_flow.py", SLOW_FLOW_SLEEP_S="1", SLOW_FLOW_WIDTH="2")

    def listed() -> dict[str, Any] | None:
        indexer.index_once()
        items, _ = store.list_runs(RunFilters(flow_id="SlowFlow"), "-started_at", 10, None)
        return items[0] if items else None

    try:

        def at_work() -> dict[str, Any] | None:
            run = listed()
            return run if run and run["current_steps"] == ["work"] else None

        run = wait_for(at_work, timeout=90, every=0.3)
        assert run["status"] == "running"
        ref = store.find_run("SlowFlow", run["run_id"])
        assert ref is not None
        running, _ = store.list_tasks(ref, "work", "running", "task_id", 10, None)
        assert running  # `work` is where its tasks run
        assert flow.wait(timeout=120) == 0
    finally:
        if flow.poll() is None:
            kill_group(flow)

    done = wait_for(lambda: (r := listed()) and r["status"] == "completed" and r, timeout=60)
    assert done["current_steps"] == []
    assert store.get_run(ref)["current_steps"] == []  # type: ignore[index]
    store.close()
