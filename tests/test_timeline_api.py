"""The timeline's overview (one packed aggregate per task) and detail (the rows on screen)
agree with the full JSON timeline and the task list, which the Metaflow client checks
(test_api_oracle.py); both are cached by ETag (issue 10)."""

from __future__ import annotations

import math
from array import array
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

STATUSES = ("pending", "running", "completed", "failed")
KINDS = {"u8": "B", "u16": "H", "i32": "i", "f64": "d"}


def decode_overview(body: bytes) -> dict[str, Any]:
    """A reader of the packed overview written from docs/API.md, as the UI reads it."""
    assert body[:4] == b"FSTL"
    size = int.from_bytes(body[4:8], "little")
    header = orjson.loads(body[8 : 8 + size])
    offset = 8 + size
    columns: dict[str, list[Any]] = {}
    for name, kind in header["columns"]:
        offset += -offset % 8
        values = array(KINDS[kind])
        width = values.itemsize * header["tasks"]
        values.frombytes(body[offset : offset + width])
        columns[name] = values.tolist()
        offset += width
    assert offset == len(body)
    missing = -(2**31)

    def at(v: float) -> int | None:
        if (isinstance(v, float) and math.isnan(v)) or v == missing:
            return None
        return int(v) + header["base"]

    ids = [header["string_ids"].get(str(i), str(int(v))) for i, v in enumerate(columns["task_id"])]
    return {
        "steps": header["steps"],
        "tasks": [
            {
                "step_name": header["steps"][columns["step"][i]],
                "task_id": ids[i],
                "status": STATUSES[columns["status"][i]],
                "attempts": columns["attempts"][i],
                "caught": bool(columns["caught"][i]),
                "started_at": at(columns["start"][i]),
                "finished_at": at(columns["end"][i]),
            }
            for i in range(header["tasks"])
        ],
    }


def _base(fixture_runs: dict[str, str], name: str) -> str:
    flow_id, run_id = fixture_runs[name].split("/")
    return f"/api/v1/flows/{flow_id}/runs/{run_id}"


@pytest.mark.parametrize("name", ["foreach", "retry", "catch", "failing", "nested_foreach"])
def test_overview_has_every_task_with_its_status_attempts_and_span(
    api: TestClient, fixture_runs: dict[str, str], name: str
) -> None:
    base = _base(fixture_runs, name)
    response = api.get(f"{base}/timeline/overview")
    assert response.headers["content-type"] == "application/vnd.flowscope.timeline-overview"
    overview = decode_overview(response.content)
    full = api.get(f"{base}/timeline").json()
    tasks = api.get(f"{base}/tasks", params={"limit": 5000}).json()["items"]
    by_name = {(t["step_name"], t["task_id"]): t for t in tasks}
    attempts: dict[int, int] = {}
    for task in full["attempts"]["task"]:
        attempts[task] = attempts.get(task, 0) + 1
    # The same tasks in the same order as the full timeline.
    assert [(t["step_name"], t["task_id"]) for t in overview["tasks"]] == [
        (full["steps"][s], i)
        for s, i in zip(full["tasks"]["step"], full["tasks"]["task_id"], strict=True)
    ]
    for i, row in enumerate(overview["tasks"]):
        task = by_name[(row["step_name"], row["task_id"])]
        assert row["status"] == task["status"]
        assert row["caught"] == task["caught"]
        assert row["attempts"] == attempts.get(i, 0)
        assert row["started_at"] == task["started_at"]
        assert row["finished_at"] == task["finished_at"]


def test_detail_gives_the_attempts_and_labels_of_the_tasks_asked_for(
    api: TestClient, fixture_runs: dict[str, str]
) -> None:
    base = _base(fixture_runs, "retry")
    full = api.get(f"{base}/timeline").json()
    chosen = [
        (full["steps"][s], i)
        for s, i in zip(full["tasks"]["step"], full["tasks"]["task_id"], strict=True)
    ]
    response = api.get(f"{base}/timeline/detail", params={"task": [f"{s}/{i}" for s, i in chosen]})
    items = response.json()["items"]
    assert [(item["step_name"], item["task_id"]) for item in items] == chosen
    at = full["attempts"]
    for index, item in enumerate(items):
        want = [
            {
                "attempt": at["attempt"][a],
                "status": at["status"][a],
                "started_at": at["started_at"][a],
                "finished_at": at["finished_at"][a],
            }
            for a in range(len(at["task"]))
            if at["task"][a] == index
        ]
        assert sorted(item["attempts"], key=lambda x: x["attempt"]) == sorted(
            want, key=lambda x: x["attempt"]
        )
        assert item["foreach_label"] == full["tasks"]["foreach_label"][index]


def test_detail_takes_ranges_of_numeric_ids(api: TestClient, fixture_runs: dict[str, str]) -> None:
    base = _base(fixture_runs, "foreach")
    full = api.get(f"{base}/timeline").json()
    ids = sorted(
        int(i)
        for s, i in zip(full["tasks"]["step"], full["tasks"]["task_id"], strict=True)
        if full["steps"][s] != "start" and i.isdigit()
    )
    step = next(
        full["steps"][s]
        for s, i in zip(full["tasks"]["step"], full["tasks"]["task_id"], strict=True)
        if i == str(ids[1])
    )
    items = api.get(
        f"{base}/timeline/detail", params={"task": f"{step}/{ids[0]}-{ids[-1]}"}
    ).json()["items"]
    assert {item["step_name"] for item in items} == {step}
    assert len(items) >= 2
    bad = api.get(f"{base}/timeline/detail", params={"task": "no-slash"})
    assert bad.status_code == 422


@pytest.mark.parametrize("path", ["timeline", "timeline/overview"])
def test_timeline_answers_304_to_its_etag(
    api: TestClient, fixture_runs: dict[str, str], path: str
) -> None:
    url = f"{_base(fixture_runs, 'foreach')}/{path}"
    first = api.get(url, headers={"Accept-Encoding": "gzip"})
    etag = first.headers["etag"]
    assert first.headers["content-encoding"] == "gzip"
    again = api.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = api.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
