"""No path parameter reaches outside the datastore (issue 12, point 4).

Through the real API: `..`, percent-encoded and absolute forms in every path parameter of
the log, artifact and card endpoints; and a copy of a real run whose files are then
swapped for symlinks to secrets outside the datastore root (a log, a card, an artifact
blob, a whole task folder). On S3 (moto): artifact locations and ids that would leave the
datastore's prefix (a sibling prefix, `..` segments, encoded dots). The id checks of
each datastore are in tests/datastore/test_contract.py (local and S3, same cases).
"""

from __future__ import annotations

import gzip
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.s3_server import S3Server

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.datastore import NotFoundError
from flowscope.datastore.s3 import S3Datastore, S3Settings
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.pathspec import Pathspec
from flowscope.store import Store

SECRET = "TOP-SECRET-OUTSIDE-THE-DATASTORE"
TRAVERSALS = [
    "..",
    "%2e%2e",
    "%252e%252e",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2fetc%2fpasswd",
    "%2F..%2F..%2Fsecret",
    "..%5c..%5csecret",
    "%00",
    "~root",
]


@pytest.fixture
def copied(fixture_root: Path, fixture_runs: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """A copy of CardFlow's real run, indexed and served, and a secret folder beside it."""
    secret_dir = tmp_path / "outside"
    secret_dir.mkdir()
    (secret_dir / "secret.txt").write_text(SECRET + "\n")
    (secret_dir / "secret.html").write_text(f"<p>{SECRET}</p>")
    (secret_dir / "blob").write_bytes(gzip.compress(pickle.dumps(SECRET, protocol=4)))
    root = tmp_path / "sysroot" / ".metaflow"
    shutil.copytree(fixture_root / ".metaflow" / "CardFlow", root / "CardFlow", symlinks=True)
    shutil.copytree(
        fixture_root / ".metaflow" / "mf.cards" / "CardFlow", root / "mf.cards" / "CardFlow"
    )
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    assert LocalIndexer(store, root).index_once().errors == 0
    ctx = AppContext(store=store)
    ctx.index.ready.set()
    run = fixture_runs["card"].split("/")[1]
    with TestClient(create_app(ctx)) as client:
        yield client, root, run, secret_dir
    store.close()


def _task_base(client: TestClient, run: str, step: str) -> tuple[str, str]:
    tasks = client.get(f"/api/v1/flows/CardFlow/runs/{run}/tasks?step_name={step}").json()
    task_id = tasks["items"][0]["task_id"]
    return task_id, f"/api/v1/flows/CardFlow/runs/{run}/steps/{step}/tasks/{task_id}"


def _assert_refused(client: TestClient, url: str, bad: str) -> None:
    answer = client.get(url)
    # A bare `..` segment is resolved by the HTTP client, as a browser does: the request
    # goes to the parent resource, which may exist. Every other form must be refused.
    allowed = (200, 404, 405, 422) if bad == ".." else (404, 405, 422)
    assert answer.status_code in allowed, (url, answer.status_code, answer.text[:200])
    assert SECRET not in answer.text and "root:x:" not in answer.text, url


def test_traversal_in_every_path_parameter(copied: Any) -> None:
    client, _root, run, _secret = copied
    task_id, _ = _task_base(client, run, "start")
    for bad in TRAVERSALS:
        flow_run = f"/api/v1/flows/CardFlow/runs/{run}"
        for url in (
            f"/api/v1/flows/{bad}/runs/{run}/steps/start/tasks/{task_id}/logs/stdout",
            f"{flow_run[: -len(run)]}{bad}/steps/start/tasks/{task_id}/logs/stdout",
            f"{flow_run}/steps/{bad}/tasks/{task_id}/logs/stdout",
            f"{flow_run}/steps/start/tasks/{bad}/logs/stdout",
            f"{flow_run}/steps/start/tasks/{task_id}/logs/{bad}",
            f"{flow_run}/steps/start/tasks/{bad}/artifacts",
            f"{flow_run}/steps/start/tasks/{task_id}/artifacts/{bad}",
            f"{flow_run}/steps/start/tasks/{task_id}/artifacts/{bad}%2fscore",
            f"{flow_run}/steps/start/tasks/{task_id}/cards/{bad}",
            f"{flow_run}/steps/start/tasks/{task_id}/cards/{bad}%2fsecret.html",
        ):
            _assert_refused(client, url, bad)


def test_symlinks_out_of_the_root_are_not_followed(copied: Any) -> None:
    client, root, run, secret = copied
    task_id, base = _task_base(client, run, "start")
    task_dir = root / "CardFlow" / run / "start" / task_id
    # Positive controls first: what is about to be swapped out is served now.
    assert client.get(f"{base}/logs/stdout?attempt=0").status_code == 200
    cards = client.get(f"{base}/cards").json()["items"]
    assert cards and client.get(cards[0]["url"]).status_code == 200
    score = client.get(f"{base}/artifacts/score").json()
    assert score["preview_data"] == 0.93
    sha = next(a for a in client.get(f"{base}/artifacts").json()["items"] if a["name"] == "score")

    # Each file becomes a symlink to a secret outside the datastore root.
    for log in task_dir.glob("0.*.log"):
        log.unlink()
        log.symlink_to(secret / "secret.txt")
    card_files = list((root / "mf.cards").rglob("*.html"))
    assert card_files
    for card in card_files:
        card.unlink()
        card.symlink_to(secret / "secret.html")
    blob = root / "CardFlow" / "data" / sha["sha"][:2] / sha["sha"]
    blob.unlink()
    blob.symlink_to(secret / "blob")

    for stream in ("stdout", "stderr"):
        for path in ("", "/download", "/search?q=SECRET"):
            answer = client.get(f"{base}/logs/{stream}{path}")
            assert answer.status_code in (200, 404), answer.text
            assert SECRET not in answer.text
    assert client.get(f"{base}/cards").json()["items"] == []
    assert client.get(cards[0]["url"]).status_code == 404
    answer = client.get(f"{base}/artifacts/score")
    assert answer.status_code == 200 and SECRET not in answer.text
    assert answer.json()["previewable"] is False

    # The whole task folder swapped for a symlink to a folder outside.
    outside_task = secret / "task"
    shutil.copytree(task_dir, outside_task, symlinks=False, ignore_dangling_symlinks=True)
    for log in outside_task.glob("0.*.log"):
        log.unlink()
        log.write_text(SECRET)
    shutil.rmtree(task_dir)
    task_dir.symlink_to(outside_task, target_is_directory=True)
    for path in ("/logs/stdout", "/logs/stderr/download", "/artifacts", "/artifacts/score"):
        answer = client.get(base + path)
        assert SECRET not in answer.text, path
        assert answer.status_code in (200, 404), (path, answer.text)


def test_s3_reads_stay_under_the_datastore_prefix(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket("paths")
    s3 = s3_server.client()
    sha = "ab" + "0" * 38
    value = gzip.compress(pickle.dumps(42, protocol=4))
    secret = gzip.compress(pickle.dumps(SECRET, protocol=4))
    s3.put_object(Bucket=bucket, Key=f"team/metaflow/F/data/ab/{sha}", Body=value)
    for key in (
        f"team/metaflow-other/F/data/ab/{sha}",  # a sibling prefix sharing the root's name
        f"team/F/data/ab/{sha}",  # the root's parent
        f"F/data/ab/{sha}",
        "team/secret",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=secret)
    base = "team/metaflow/F/r1/start/1"
    s3.put_object(Bucket=bucket, Key=f"{base}/0.attempt.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key=f"{base}/0.runtime_stdout.log", Body=b"fine\n")
    s3.put_object(
        Bucket=bucket,
        Key="team/metaflow-other/F/r1/start/1/0.runtime_stdout.log",
        Body=SECRET.encode(),
    )
    store = S3Datastore(f"s3://{bucket}/team/metaflow", S3Settings(endpoint_url=s3_server.endpoint))
    root = store.location

    assert store.load_artifact("F", sha, max_bytes=1 << 20) == 42  # positive control
    for location in (
        f"s3://{bucket}/team/metaflow-other/F/data/ab/{sha}",
        f"s3://{bucket}/team/F/data/ab/{sha}",
        f"{root}/F/data/ab/../../../../F/data/ab/{sha}",
        f"{root}/F/data/ab/%2e%2e/{sha}",
        f"{root}/../metaflow-other/F/data/ab/{sha}",
        f"s3://{bucket}/F/data/ab/{sha}",
        f"s3://other-{bucket}/team/metaflow/F/data/ab/{sha}",
    ):
        with pytest.raises(NotFoundError):
            store.load_artifact("F", sha, max_bytes=1 << 20, location=location)
    for flow in ("..", "../metaflow-other/F", "%2e%2e", "F/../..", ""):
        with pytest.raises(NotFoundError):
            store.load_artifact(flow, sha, max_bytes=1 << 20)
    assert (
        store.open_log(Pathspec("F", "r1", "start", "1"), 0, "stdout").lines.text().strip()
        == "fine"
    )
    for parts in (
        ("..", "r1", "start", "1"),
        ("F", "..", "start", "1"),
        ("F", "r1", "%2e%2e", "1"),
        ("F", "r1", "start", "../../../metaflow-other/F/r1/start/1"),
    ):
        with pytest.raises(NotFoundError):
            store.open_log(Pathspec(*parts), 0, "stdout")
    with pytest.raises(NotFoundError):
        store.card_html(Pathspec("F", "r1", "start", "1"), "../../../secret")
