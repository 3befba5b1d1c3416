"""API behaviour beyond the oracle: errors, paging of logs, search, previews, safety,
the UI shell, and serving under a path prefix."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.store import Store


def _middle(api: TestClient, fixture_runs: dict[str, str]) -> str:
    flow_id, run_id = fixture_runs["linear"].split("/")
    tasks = api.get(f"/api/v1/flows/{flow_id}/runs/{run_id}/tasks", params={"step_name": "middle"})
    task_id = tasks.json()["items"][0]["task_id"]
    return f"/api/v1/flows/{flow_id}/runs/{run_id}/steps/middle/tasks/{task_id}"


def test_unknown_things_are_json_404s(api: TestClient, fixture_runs: dict[str, str]) -> None:
    flow_id, run_id = fixture_runs["linear"].split("/")
    for path in (
        "/api/v1/flows/NoFlow/runs/1",
        f"/api/v1/flows/{flow_id}/runs/nope/steps",
        f"/api/v1/flows/{flow_id}/runs/{run_id}/steps/nostep/tasks/1",
        f"/api/v1/flows/{flow_id}/runs/{run_id}/steps/start/tasks/999999",
        "/api/v1/no/such/endpoint",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert "error" in response.json()


def test_bad_parameters_are_json_errors(api: TestClient) -> None:
    assert api.get("/api/v1/runs", params={"limit": 501}).status_code == 422
    assert api.get("/api/v1/runs", params={"order": "sideways"}).status_code == 422
    response = api.get("/api/v1/runs", params={"cursor": "garbage!"})
    # The spec gives the cursor's pattern (store/paging.py), so a made-up one is a 422.
    assert response.status_code == 422 and "cursor" in response.json()["error"]


def test_health_and_openapi(api: TestClient) -> None:
    assert api.get("/api/v1/health").json() == {
        "status": "ok",
        "ready": True,
        "root": None,
        "database": None,
        "sync": None,
        "auth": "none",
        "user": None,
    }
    spec = api.get("/api/v1/openapi.json").json()
    assert "/api/v1/runs" in spec["paths"]


def test_flows_list_recent_runs_and_users(api: TestClient, fixture_runs: dict[str, str]) -> None:
    flows = {f["flow_id"]: f for f in api.get("/api/v1/flows").json()["items"]}
    retry = flows["RetryFlow"]
    assert retry["run_count"] == 1 and retry["users"] == ["tester"]
    assert [r["run_id"] for r in retry["recent"]] == [fixture_runs["retry"].split("/")[1]]
    project = flows["ProjectFlow"]
    started = [r["started_at"] for r in project["recent"]]
    assert started == sorted(started, reverse=True) and len(started) == 2
    assert project["last_run"]["run_id"] == project["recent"][0]["run_id"]


def test_run_names_its_script(api: TestClient, fixture_runs: dict[str, str]) -> None:
    flow_id, run_id = fixture_runs["linear"].split("/")
    assert api.get(f"/api/v1/flows/{flow_id}/runs/{run_id}").json()["script_name"] == (
        "linear_flow.py"
    )


def test_timeline_is_compressed_and_cached(api: TestClient, fixture_runs: dict[str, str]) -> None:
    flow_id, run_id = fixture_runs["foreach"].split("/")
    url = f"/api/v1/flows/{flow_id}/runs/{run_id}/timeline"
    packed = api.get(url, headers={"Accept-Encoding": "gzip"})
    plain = api.get(url, headers={"Accept-Encoding": "identity"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert packed.json() == plain.json()
    assert len(plain.json()["tasks"]["task_id"]) == 7


def test_runs_filters(api: TestClient, fixture_runs: dict[str, str]) -> None:
    def ids(**params: object) -> set[str]:
        items = api.get("/api/v1/runs", params={"limit": 500, **params}).json()["items"]
        return {f"{r['flow_id']}/{r['run_id']}" for r in items}

    everything = ids()
    assert set(fixture_runs.values()) <= everything
    assert ids(status="failed") == {fixture_runs["failing"]}
    assert {fixture_runs["project"], fixture_runs["project_branch"]} <= ids(
        project="flowscope_demo"
    )
    assert ids(tag=["added", "alpha"]) == {fixture_runs["tags"]}
    assert ids(tag=["added", "nope"]) == set()
    assert ids(q="Linear") == {fixture_runs["linear"]}
    assert ids(user="tester") == everything


def test_logs_page_tail_first_and_search_the_whole_log(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    base = _middle(api, fixture_runs) + "/logs/stdout"
    tail = api.get(base, params={"limit": 100}).json()
    assert tail["total"] >= 300
    assert tail["items"][-1]["text"] == "line 300 of 300"
    assert tail["start"] == tail["total"] - 100
    earlier = api.get(base, params={"limit": 100, "start": int(tail["next_cursor"])}).json()
    assert earlier["items"][-1]["n"] == tail["items"][0]["n"] - 1
    found = api.get(base + "/search", params={"q": "LINE 007"}).json()
    assert found["total_matches"] == 1 and found["items"][0]["text"] == "line 007 of 300"
    assert all(isinstance(line["ts"], int) for line in tail["items"])


def test_artifact_previews(api: TestClient, fixture_runs: dict[str, str]) -> None:
    base = _middle(api, fixture_runs)
    names = [a["name"] for a in api.get(base + "/artifacts").json()["items"]]
    assert "doubled" in names and not [n for n in names if n.startswith("_")]
    private = api.get(base + "/artifacts", params={"include_private": True}).json()["items"]
    assert "_task_ok" in [a["name"] for a in private]
    doubled = api.get(base + "/artifacts/doubled").json()
    assert doubled["previewable"] and doubled["preview"] == "7.0"
    assert "doubled" in doubled["load_snippet"]
    assert api.get(base + "/artifacts/..%2F..%2Fetc").status_code == 404


def test_failed_task_shows_its_exception(api: TestClient, fixture_runs: dict[str, str]) -> None:
    flow_id, run_id = fixture_runs["failing"].split("/")
    run = api.get(f"/api/v1/flows/{flow_id}/runs/{run_id}").json()
    first = run["first_failure"]
    task = api.get(
        f"/api/v1/flows/{flow_id}/runs/{run_id}/steps/{first['step_name']}/tasks/{first['task_id']}"
    ).json()
    assert task["status"] == "failed" and task["status_reason"] == "error"
    assert task["exception"]["type"] and "Traceback" in task["exception"]["traceback"]
    assert any(m["field_name"] == "attempt" for m in task["metadata"])


def test_caught_task_shows_the_exception_catch_caught(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    flow_id, run_id = fixture_runs["catch"].split("/")
    tasks = api.get(f"/api/v1/flows/{flow_id}/runs/{run_id}/tasks").json()["items"]
    caught = [t for t in tasks if t["caught"]]
    assert caught
    task = api.get(
        f"/api/v1/flows/{flow_id}/runs/{run_id}/steps/{caught[0]['step_name']}/tasks/{caught[0]['task_id']}"
    ).json()
    assert task["exception"] is not None and "Traceback" in task["exception"]["traceback"]


def test_ui_shell_base_path_and_missing_build(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'i.sqlite'}")
    ui = tmp_path / "dist"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text('<html><head><base href="/" /></head><body>app</body></html>')
    (ui / "assets" / "app-123.js").write_text("console.log(1)")
    ctx = AppContext(store=store, base_path="/flowscope", ui_dir=ui)
    with TestClient(create_app(ctx)) as client:
        page = client.get("/flowscope/SomeFlow/12")
        assert page.status_code == 200 and '<base href="/flowscope/" />' in page.text
        assert page.headers["cache-control"] == "no-store"
        asset = client.get("/flowscope/assets/app-123.js")
        assert "immutable" in asset.headers["cache-control"]
        assert client.get("/flowscope/api/v1/health").json()["status"] == "ok"
        assert client.get("/flowscope/api/v1/nope").status_code == 404
        assert client.get("/flowscope/assets/../../i.sqlite").status_code == 404
    bare = AppContext(store=store, ui_dir=tmp_path / "missing")
    with TestClient(create_app(bare)) as client:
        page = client.get("/")
        assert "npm run build" in page.text
    store.close()
