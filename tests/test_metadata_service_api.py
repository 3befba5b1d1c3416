"""flowscope's `/metadata` answers as metaflow-service does, on SQLite and PostgreSQL.

Requests go through the real app (flowscope's app with `/metadata` mounted) to real
databases made by `flowscope db upgrade`. The flows suite (test_metadata_service_flows.py)
drives the same API with the Metaflow client; this one pins what the client relies on:
status codes, bodies, string and numeric ids, tag rules, heartbeats, the change callback
and `x-api-key`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient
from tests.pg import fresh_pg

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.api.metadata import SERVICE_VERSION, api_keys_from, create_metadata_app
from flowscope.service import v3_ddl
from flowscope.service.v3_schema import metadata_v3, runs_v3, tasks_v3
from flowscope.service.v3_shapes import V3Change, heartbeat_capable
from flowscope.store import Store
from flowscope.store.database import create_engine

NEW_CLIENT = ["metaflow_version:2.19.39", "user:tester", "runtime:dev"]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    else:
        url = fresh_pg(request.getfixturevalue("pg_server"))
    made = create_engine(url)
    v3_ddl.upgrade(made)
    yield made
    made.dispose()


def _client(
    engine: Engine,
    tmp_path: Path,
    changes: list[V3Change] | None = None,
    keys: tuple[str, ...] = (),
) -> TestClient:
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    metadata = create_metadata_app(engine, None if changes is None else changes.append, keys)
    ctx = AppContext(store=store, metadata_app=metadata)
    ctx.index.ready.set()
    return TestClient(create_app(ctx))


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with _client(engine, tmp_path) as client:
        yield client


def _run(api: TestClient, flow: str = "TeamFlow", **body: Any) -> dict[str, Any]:
    api.post(f"/metadata/flows/{flow}", json={"flow_id": flow})
    made = api.post(f"/metadata/flows/{flow}/run", json={"user_name": "tester", **body})
    assert made.status_code == 200, made.text
    run: dict[str, Any] = made.json()
    return run


def _task(api: TestClient, flow: str, run: Any, step: str, **body: Any) -> dict[str, Any]:
    made = api.post(f"/metadata/flows/{flow}/runs/{run}/steps/{step}/step", json={})
    assert made.status_code in (200, 409), made.text
    made = api.post(f"/metadata/flows/{flow}/runs/{run}/steps/{step}/task", json=body)
    assert made.status_code == 200, made.text
    task: dict[str, Any] = made.json()
    return task


def test_ping_and_version_name_the_service_version(api: TestClient) -> None:
    ping = api.get("/metadata/ping")
    assert ping.status_code == 200 and ping.text == "pong"
    assert ping.headers["METADATA_SERVICE_VERSION"] == SERVICE_VERSION
    assert api.get("/metadata/version").text == SERVICE_VERSION
    assert api.get("/metadata/healthcheck").json() == {"status": "UP"}


def test_numeric_run_numbers_come_from_the_database(api: TestClient) -> None:
    first = _run(api, system_tags=NEW_CLIENT, tags=["a"])
    second = _run(api, "OtherFlow")
    assert isinstance(first["run_number"], int)
    # One sequence for all flows, as PostgreSQL's SERIAL is.
    assert second["run_number"] == first["run_number"] + 1
    assert first["tags"] == ["a"] and first["system_tags"] == NEW_CLIENT
    assert isinstance(first["last_heartbeat_ts"], int)  # a heartbeat-capable client
    assert second["last_heartbeat_ts"] is None
    got = api.get(f"/metadata/flows/TeamFlow/runs/{first['run_number']}")
    assert got.status_code == 200 and got.json() == first
    listed = api.get("/metadata/flows/TeamFlow/runs").json()
    assert [r["run_number"] for r in listed] == [first["run_number"]]
    assert [f["flow_id"] for f in api.get("/metadata/flows").json()] == ["OtherFlow", "TeamFlow"]


def test_string_run_and_task_ids(api: TestClient, engine: Engine) -> None:
    run = _run(api, run_number="argo-123", system_tags=NEW_CLIENT)
    assert run["run_number"] == "argo-123"
    task = _task(api, "TeamFlow", "argo-123", "start", task_id="t-abc", system_tags=NEW_CLIENT)
    assert task["task_id"] == "t-abc" and task["run_number"] == "argo-123"
    with engine.connect() as conn:
        row = conn.execute(sa.select(tasks_v3).where(tasks_v3.c.task_name == "t-abc")).one()
        number = conn.execute(
            sa.select(runs_v3.c.run_number).where(runs_v3.c.run_id == "argo-123")
        ).scalar_one()
    assert row.run_id == "argo-123" and row.run_number == number
    # Either id names the same objects; answers show the string ids.
    for run_ref in ("argo-123", str(number)):
        for task_ref in ("t-abc", str(row.task_id)):
            got = api.get(f"/metadata/flows/TeamFlow/runs/{run_ref}/steps/start/tasks/{task_ref}")
            assert got.status_code == 200 and got.json()["task_id"] == "t-abc"
    assert api.get(f"/metadata/flows/TeamFlow/runs/{number}").json()["run_number"] == "argo-123"
    # The same string id again is a conflict (the client then reads the run instead).
    again = api.post("/metadata/flows/TeamFlow/run", json={"run_number": "argo-123"})
    assert again.status_code == 409
    twice = api.post(
        "/metadata/flows/TeamFlow/runs/argo-123/steps/start/task", json={"task_id": "t-abc"}
    )
    assert twice.status_code == 409


def test_numeric_string_ids_are_refused(api: TestClient) -> None:
    _run(api)
    assert api.post("/metadata/flows/TeamFlow/run", json={"run_number": "42"}).status_code == 400
    run = _run(api)["run_number"]
    api.post(f"/metadata/flows/TeamFlow/runs/{run}/steps/start/step", json={})
    made = api.post(f"/metadata/flows/TeamFlow/runs/{run}/steps/start/task", json={"task_id": "7"})
    assert made.status_code == 400


def test_missing_objects_and_conflicts(api: TestClient) -> None:
    assert api.get("/metadata/flows/Nope").status_code == 404
    assert api.post("/metadata/flows/Nope/run", json={}).status_code == 404  # no such flow
    run = _run(api)["run_number"]
    assert api.post("/metadata/flows/TeamFlow", json={}).status_code == 409
    assert api.get("/metadata/flows/TeamFlow/runs/999999").status_code == 404
    assert api.get("/metadata/flows/TeamFlow/runs/999999/steps").json() == []
    assert api.get(f"/metadata/flows/TeamFlow/runs/{run}/steps/start").status_code == 404
    no_step = api.post(f"/metadata/flows/TeamFlow/runs/{run}/steps/start/task", json={})
    assert no_step.status_code == 404
    task = _task(api, "TeamFlow", run, "start")["task_id"]
    step_again = api.post(f"/metadata/flows/TeamFlow/runs/{run}/steps/start/step", json={})
    assert step_again.status_code == 409
    base = f"/metadata/flows/TeamFlow/runs/{run}/steps/start/tasks"
    assert api.get(f"{base}/{task + 1000}").status_code == 404
    unregistered = api.post(f"{base}/{task + 1000}/metadata", json=[{"field_name": "x"}])
    assert unregistered.status_code == 400
    assert unregistered.json() == {"message": "need to register run_id and task_id first"}
    assert api.post(f"{base}/{task}/metadata", content=b"{not json").status_code == 400
    assert api.post(f"{base}/{task}/metadata", json={"not": "a list"}).status_code == 400
    assert api.get("/metadata/no/such/route").status_code == 404


def test_metadata_round_trip(api: TestClient, engine: Engine) -> None:
    run = _run(api)["run_number"]
    task = _task(api, "TeamFlow", run, "start", user_name="tester")["task_id"]
    base = f"/metadata/flows/TeamFlow/runs/{run}/steps/start/tasks/{task}/metadata"
    entries = [
        {"field_name": "attempt", "value": "0", "type": "attempt", "tags": ["attempt_id:0"]},
        {"field_name": "attempt_ok", "value": "True", "type": "internal_attempt_status"},
        {"field_name": "x" * 300, "value": "too long a name", "type": "t"},
    ]
    created = api.post(base, json=[{**e, "user_name": "tester"} for e in entries])
    # Like the service, what cannot be stored (a name over VARCHAR(255)) is skipped.
    assert created.json() == {"metadata_created": 2}
    got = api.get(base).json()
    assert {(m["field_name"], m["value"]) for m in got} == {
        ("attempt", "0"),
        ("attempt_ok", "True"),
    }
    attempt = next(m for m in got if m["field_name"] == "attempt")
    assert attempt["tags"] == ["attempt_id:0"] and attempt["task_id"] == task
    assert attempt["run_number"] == run and isinstance(attempt["id"], int)
    by_run = api.get(f"/metadata/flows/TeamFlow/runs/{run}/metadata").json()
    assert sorted(m["id"] for m in by_run) == sorted(m["id"] for m in got)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(metadata_v3)).scalar() == 2


def test_filtered_tasks(api: TestClient) -> None:
    run = _run(api)["run_number"]
    ids = [_task(api, "TeamFlow", run, "square")["task_id"] for _ in range(3)]
    for task, value in zip(ids, ["apple", "banana", "cherry"], strict=True):
        api.post(
            f"/metadata/flows/TeamFlow/runs/{run}/steps/square/tasks/{task}/metadata",
            json=[{"field_name": "fruit", "value": value, "type": "t"}],
        )
    url = f"/metadata/flows/TeamFlow/runs/{run}/steps/square/filtered_tasks"
    got = api.get(url, params={"metadata_field_name": "fruit", "pattern": "^(?:.*an.*)$"})
    assert got.json() == [f"TeamFlow/{run}/square/{ids[1]}"]
    assert len(api.get(url).json()) == 3
    assert api.get(url, params={"pattern": "("}).status_code == 400


def test_artifacts_by_attempt_and_latest(api: TestClient) -> None:
    run = _run(api, tags=["team"])["run_number"]
    task = _task(api, "TeamFlow", run, "train")["task_id"]
    base = f"/metadata/flows/TeamFlow/runs/{run}/steps/train/tasks/{task}"

    def artifact(name: str, attempt: int) -> dict[str, Any]:
        return {
            "name": name,
            "attempt_id": attempt,
            "sha": f"{name}-{attempt}",
            "type": "metaflow.artifact",
            "content_type": "gzip+pickle-v4",
            "ds_type": "local",
            "location": f"/data/{name}-{attempt}",
            "user_name": "tester",
            "tags": ["ignored"],
        }

    made = api.post(f"{base}/artifact", json=[artifact("name", 0), artifact("model", 0)])
    assert made.json() == {"artifacts_created": 2}
    assert api.post(f"{base}/artifact", json=[artifact("name", 0)]).json() == {
        "artifacts_created": 0
    }
    api.post(f"{base}/artifact", json=[artifact("name", 1), artifact("score", 1)])
    latest = api.get(f"{base}/artifacts").json()
    assert sorted((a["name"], a["attempt_id"]) for a in latest) == [("name", 1), ("score", 1)]
    # Artifacts carry their run's tags.
    assert all(a["tags"] == ["team"] for a in latest)
    first = api.get(f"{base}/attempt/0/artifacts").json()
    assert sorted(a["name"] for a in first) == ["model", "name"]
    assert api.get(f"{base}/artifacts/score").json()["sha"] == "score-1"
    assert api.get(f"{base}/artifacts/model").status_code == 404  # not in the latest attempt
    assert api.get(f"{base}/artifacts/model/attempt/0").json()["location"] == "/data/model-0"
    assert api.get(f"{base}/artifacts/model/attempt/x").status_code == 400
    step = api.get(f"/metadata/flows/TeamFlow/runs/{run}/steps/train/artifacts").json()
    assert sorted(a["name"] for a in step) == ["name", "score"]
    whole = api.get(f"/metadata/flows/TeamFlow/runs/{run}/artifacts").json()
    assert sorted(a["name"] for a in whole) == ["name", "score"]


def test_heartbeats_record_seconds(api: TestClient, engine: Engine) -> None:
    run = _run(api, system_tags=NEW_CLIENT)["run_number"]
    task = _task(api, "TeamFlow", run, "start", system_tags=NEW_CLIENT)["task_id"]
    with engine.begin() as conn:
        conn.execute(sa.update(runs_v3).values(last_heartbeat_ts=1))
        conn.execute(sa.update(tasks_v3).values(last_heartbeat_ts=1))
    beat = api.post(f"/metadata/flows/TeamFlow/runs/{run}/heartbeat", content=b"{}")
    assert beat.status_code == 200
    # The client reads this as json.loads(response.json()).
    assert json.loads(beat.json()) == {"wait_time_in_seconds": 10}
    with engine.connect() as conn:
        run_beat = conn.execute(sa.select(runs_v3.c.last_heartbeat_ts)).scalar_one()
        assert run_beat > 1_600_000_000 and run_beat < 10_000_000_000  # seconds
    task_url = f"/metadata/flows/TeamFlow/runs/{run}/steps/start/tasks/{task}/heartbeat"
    assert json.loads(api.post(task_url, content=b"{}").json())["wait_time_in_seconds"] == 10
    with engine.connect() as conn:
        assert conn.execute(sa.select(tasks_v3.c.last_heartbeat_ts)).scalar_one() > 1
    assert api.post("/metadata/flows/TeamFlow/runs/424242/heartbeat").status_code == 404


def test_tag_mutation_rules(api: TestClient) -> None:
    run = _run(api, tags=["keep", "drop"], system_tags=["user:tester", "sys"])["run_number"]
    url = f"/metadata/flows/TeamFlow/runs/{run}/tag/mutate"
    done = api.patch(url, json={"tags_to_add": ["new", "sys"], "tags_to_remove": ["drop"]})
    # Removals first, then additions; a system tag is not added as a user tag.
    assert done.status_code == 200 and sorted(done.json()["tags"]) == ["keep", "new"]
    assert sorted(api.get(f"/metadata/flows/TeamFlow/runs/{run}").json()["tags"]) == [
        "keep",
        "new",
    ]
    refused = api.patch(url, json={"tags_to_remove": ["user:tester"]})
    assert refused.status_code == 422
    assert api.patch(url, json={"tags_to_add": "new"}).status_code == 400
    assert api.patch(url, json={"tags_to_add": [1]}).status_code == 400
    assert api.patch("/metadata/flows/TeamFlow/runs/99999/tag/mutate", json={}).status_code == 404
    unchanged = api.patch(url, json={"tags_to_add": ["keep"]})
    assert sorted(unchanged.json()["tags"]) == ["keep", "new"]
    # Steps and tasks read back with the run's tags, whatever they were created with.
    _task(api, "TeamFlow", run, "start", tags=["own"])
    tasks = api.get(f"/metadata/flows/TeamFlow/runs/{run}/steps/start/tasks").json()
    assert sorted(tasks[0]["tags"]) == ["keep", "new"]


def test_changes_are_announced_after_commit(engine: Engine, tmp_path: Path) -> None:
    seen: list[tuple[V3Change, int]] = []

    def on_change(change: V3Change) -> None:
        # A new connection sees the write: it was committed before we were told.
        with engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(metadata_v3)
                .where(metadata_v3.c.run_number == change.run_number)
            ).scalar_one()
        seen.append((change, count))

    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store, metadata_app=create_metadata_app(engine, on_change))
    with TestClient(create_app(ctx)) as api:
        run = _run(api, run_number="named-run")
        number = seen[0][0].run_number
        task = _task(api, "TeamFlow", "named-run", "start")["task_id"]
        api.post(
            f"/metadata/flows/TeamFlow/runs/named-run/steps/start/tasks/{task}/metadata",
            json=[{"field_name": "attempt", "value": "0", "type": "attempt"}],
        )
        api.patch("/metadata/flows/TeamFlow/runs/named-run/tag/mutate", json={"tags_to_add": ["x"]})
        api.get("/metadata/flows/TeamFlow/runs/named-run/steps")  # reads announce nothing
    assert run["run_number"] == "named-run"
    assert [(c.what, n) for c, n in seen] == [
        ("run", 0),
        ("step", 0),
        ("task", 0),
        ("metadata", 1),
        ("tags", 1),
    ]
    assert all(c == V3Change("TeamFlow", number, "named-run", c.what) for c, _ in seen)
    store.close()


def test_a_failing_listener_does_not_undo_the_write(engine: Engine, tmp_path: Path) -> None:
    def broken(_change: V3Change) -> None:
        raise RuntimeError("listener bug")

    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store, metadata_app=create_metadata_app(engine, broken))
    with TestClient(create_app(ctx)) as api:
        run = _run(api)["run_number"]
        assert api.get(f"/metadata/flows/TeamFlow/runs/{run}").status_code == 200
    store.close()


SECRET = "s3cr3t-key-value-9f8e7d"


def test_api_key_is_required_when_keys_are_given(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _client(engine, tmp_path, keys=(SECRET, "second-key")) as api:
        requests = [
            ("GET", "/metadata/ping"),
            ("GET", "/metadata/flows"),
            ("POST", "/metadata/flows/TeamFlow"),
            ("PATCH", "/metadata/flows/TeamFlow/runs/1/tag/mutate"),
            ("GET", "/metadata/no/such/route"),
        ]
        for method, path in requests:
            for headers in ({}, {"x-api-key": "wrong"}, {"x-api-key": SECRET + "x"}):
                refused = api.request(method, path, headers=headers, json={})
                assert refused.status_code == 401, (method, path, headers)
                assert SECRET not in refused.text
        assert api.get("/metadata/ping", headers={"x-api-key": SECRET}).text == "pong"
        assert api.get("/metadata/ping", headers={"x-api-key": "second-key"}).status_code == 200
        made = api.post("/metadata/flows/TeamFlow", headers={"x-api-key": SECRET}, json={})
        assert made.status_code == 200
        # The rest of flowscope is not behind the metadata key.
        assert api.get("/api/v1/health").status_code == 200
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


def test_no_keys_no_check(api: TestClient) -> None:
    assert api.get("/metadata/ping", headers={"x-api-key": "anything"}).status_code == 200


def test_keys_from_options_and_environment() -> None:
    env = {"FLOWSCOPE_METADATA_API_KEYS": " one, two ,,"}
    assert api_keys_from(["zero", "one"], env) == ("zero", "one", "two")
    assert api_keys_from(None, {}) == ()


def test_heartbeat_capable_clients() -> None:
    assert heartbeat_capable(["metaflow_version:2.19.39"])
    assert heartbeat_capable(["metaflow_version:2.2.12"])
    assert not heartbeat_capable(["metaflow_version:2.2.11"])
    assert heartbeat_capable(["metaflow_version:1.14.2"])
    assert not heartbeat_capable(["metaflow_version:1.13.9"])
    assert heartbeat_capable(["metaflow_version:custom-build"])
    assert not heartbeat_capable(["user:x"]) and not heartbeat_capable(None)
