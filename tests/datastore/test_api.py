"""flowscope's API on the probe runs, once with the data on local disk and once in S3
(metadata local, as with `--datastore=s3`), against what the Metaflow client says.

The datastore is picked per run from its `ds-type`/`ds-root` metadata: nothing here tells
the API which one to use. With S3 unreachable the run and task pages still answer from
the index, and every log, artifact and card endpoint answers 503 with a message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.helpers import without_bridge
from tests.s3_server import S3Server, free_port

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.datastore.factory import Datastores
from flowscope.datastore.s3 import S3Settings
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store

from .conftest import FLOW, ProbeRun


@dataclass
class ProbeApi:
    run: ProbeRun
    client: TestClient

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"/api/v1{path}", params=params)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    def task_url(self, pathspec: str) -> str:
        flow, run, step, task = pathspec.split("/")
        return f"/flows/{flow}/runs/{run}/steps/{step}/tasks/{task}"


def _serve(probe_run: ProbeRun, tmp: Path, settings: S3Settings) -> Iterator[TestClient]:
    store = Store(f"sqlite:///{tmp / 'index.sqlite'}")
    datastores = Datastores(settings)
    stats = LocalIndexer(store, probe_run.root, datastores).index_once()
    assert stats.errors == 0 and stats.runs_seen >= 1
    ctx = AppContext(store=store, datastores=datastores)
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as client:
        yield client
    store.close()


@pytest.fixture(scope="session")
def api_local(probe_run: ProbeRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProbeApi]:
    for client in _serve(probe_run, tmp_path_factory.mktemp("api-local"), S3Settings()):
        yield ProbeApi(probe_run, client)


@pytest.fixture(scope="session")
def api_s3(
    probe_run_s3: ProbeRun, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProbeApi]:
    settings = S3Settings(endpoint_url=s3_server.endpoint)
    for client in _serve(probe_run_s3, tmp_path_factory.mktemp("api-s3"), settings):
        yield ProbeApi(probe_run_s3, client)


@pytest.fixture(params=["local", "s3"])
def api(request: pytest.FixtureRequest) -> ProbeApi:
    found: ProbeApi = request.getfixturevalue(f"api_{request.param}")
    return found


def test_the_run_records_where_its_data_is(api: ProbeApi) -> None:
    run = api.get(f"/flows/{FLOW}/runs/{api.run.run_id}")
    assert run["status"] == "completed"
    if api.run.kind == "s3":
        assert not (api.run.root / FLOW / api.run.run_id / "start" / "1" / "0.data.json").exists()


def test_graph_comes_from_the_runs_datastore(api_local: ProbeApi, api_s3: ProbeApi) -> None:
    """With the data in S3 the `_parameters` task's `_graph_info` is there too: the
    indexer finds its sha in local metadata's artifact records and reads it from S3.
    Same flow, so the same graph as the local run, and steps in graph order."""
    local, s3 = (a.get(f"/flows/{FLOW}/runs/{a.run.run_id}/dag") for a in (api_local, api_s3))
    assert s3["steps"] and s3 == local
    assert s3["start_step"] == "start" and s3["end_step"] == "end"
    steps = api_s3.get(f"/flows/{FLOW}/runs/{api_s3.run.run_id}/steps")["items"]
    assert [s["step_name"] for s in steps] == ["start", "flaky", "end"]


def test_artifacts_and_logs_of_every_attempt_match_client(api: ProbeApi) -> None:
    checked = 0
    for pathspec, task in api.run.client["tasks"].items():
        base = api.task_url(pathspec)
        for attempt, expected in task["attempts"].items():
            items = api.get(base + "/artifacts", attempt=attempt)["items"]
            assert [a["name"] for a in items] == expected["artifacts"], pathspec
            for stream in ("stdout", "stderr"):
                response = api.client.get(
                    f"/api/v1{base}/logs/{stream}/download", params={"attempt": attempt}
                )
                assert response.status_code == 200
                assert response.text == expected[stream], (pathspec, attempt, stream)
            checked += 1
    assert checked >= 4  # start, flaky twice, end


def test_log_pages_tail_first_search_and_etag(api: ProbeApi) -> None:
    pathspec = api.run.pathspec("start", "1")
    base = f"/api/v1{api.task_url(pathspec)}/logs/stdout"
    expected = api.run.client_task(pathspec)["attempts"]["0"]["stdout_lines"]
    tail = api.client.get(base, params={"limit": 100})
    page = tail.json()
    assert page["total"] == len(expected) and page["omitted_bytes"] == 0
    assert [line["text"] for line in page["items"]] == expected[-100:]
    assert page["start"] == len(expected) - 100
    earlier = api.client.get(base, params={"limit": 100, "start": int(page["next_cursor"])})
    assert [line["text"] for line in earlier.json()["items"]] == expected[-200:-100]
    found = api.client.get(base + "/search", params={"q": "LINE 007"}).json()
    assert found["total_matches"] == 1 and found["items"][0]["text"] == "line 007"
    assert found["items"][0]["n"] == expected.index("line 007") + 1
    etag = tail.headers["etag"]
    unchanged = api.client.get(base, params={"limit": 100}, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and not unchanged.content
    other_page = api.client.get(base, params={"limit": 50}, headers={"If-None-Match": etag})
    assert other_page.status_code == 200


def test_artifact_previews_equal_client_values(api: ProbeApi) -> None:
    pathspec = api.run.pathspec("start", "1")
    values = api.run.values[pathspec]
    base = api.task_url(pathspec)
    an_int = api.get(base + "/artifacts/an_int")
    assert an_int["previewable"] and an_int["preview_data"] == values["an_int"]
    assert api.get(base + "/artifacts/a_dict")["preview_data"] == values["a_dict"]
    assert api.get(base + "/artifacts/a_list")["preview_data"] == values["a_list"]
    frame = api.get(base + "/artifacts/a_frame")
    assert frame["preview_kind"] == "table"
    assert frame["preview_data"]["columns"] == list(values["a_frame"].columns)
    assert frame["preview_data"]["total_rows"] == len(values["a_frame"])
    assert "ndarray shape=(3, 4)" in api.get(base + "/artifacts/an_array")["preview"]
    private = api.get(base + "/artifacts", include_private=True)["items"]
    assert "_private_thing" in [a["name"] for a in private]
    assert api.client.get(f"/api/v1{base}/artifacts/..%2F..%2Fetc").status_code == 404


def test_cards_match_client_and_are_sandboxed(api: ProbeApi) -> None:
    pathspecs = [api.run.pathspec("start", "1")]
    if api.run.resumed_run_id:  # a cloned task shows its origin's cards, like get_cards
        pathspecs.append(api.run.pathspec("start", "1", resumed=True))
    for pathspec in pathspecs:
        expected = {c["hash"]: c for c in api.run.client_task(pathspec)["cards"]}
        cards = api.get(api.task_url(pathspec) + "/cards")["items"]
        assert [c["id"] for c in cards] == list(expected), pathspec
        for card in cards:
            response = api.client.get(card["url"])
            assert response.status_code == 200
            assert "sandbox" in response.headers["content-security-policy"]
            # Knowingly different: flowscope adds the bridge that takes live updates.
            assert without_bridge(response.text) == expected[card["id"]]["html"]


def test_unsafe_paths_are_404s(api: ProbeApi) -> None:
    run = f"/api/v1/flows/{FLOW}/runs/{api.run.run_id}"
    for path in (
        f"{run}/steps/start/tasks/..%2F..%2F1/logs/stdout",
        f"{run}/steps/..%2Fstart/tasks/1/artifacts",
        f"{run}/steps/start/tasks/1/cards/..%2F..%2Fx",
    ):
        assert api.client.get(path).status_code == 404, path


def test_s3_unreachable_pages_render_and_data_answers_503(
    probe_run_s3: ProbeRun, tmp_path: Path
) -> None:
    dead = S3Settings(endpoint_url=f"http://127.0.0.1:{free_port()}", connect_timeout_s=1)
    for client in _serve(probe_run_s3, tmp_path, dead):
        run = f"/api/v1/flows/{FLOW}/runs/{probe_run_s3.run_id}"
        assert client.get(run).json()["status"] == "completed"
        assert len(client.get(f"{run}/tasks").json()["items"]) == 3  # start, flaky, end
        flaky = client.get(f"{run}/steps/flaky/tasks/2")
        assert flaky.status_code == 200 and len(flaky.json()["attempts"]) == 2
        task = f"{run}/steps/start/tasks/1"
        for path in (
            "/logs/stdout",
            "/logs/stderr/download",
            "/logs/stdout/search?q=x",
            "/artifacts",
            "/artifacts/an_int",
            "/cards",
        ):
            response = client.get(task + path)
            assert response.status_code == 503, path
            assert "cannot be reached" in response.json()["error"]
            assert "s3://" in response.json()["error"]
