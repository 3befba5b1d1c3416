"""Bad objects in S3 never stop the indexer or the server (issue 12, point 1).

A copy of the real S3 probe run (metadata local, data in S3 on the moto server), with its
objects damaged in the copy's bucket: a log of random bytes, a log that is gone, an
artifact blob that is garbage, one that is gone, a card that is binary junk, and a key with
spaces and unicode in its name. The index of the damaged copy must equal the index of the
original (the outcome artifacts are left intact, so every status is the same), and every
log, artifact and card endpoint must answer 2xx/4xx, never 5xx.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from starlette.testclient import TestClient
from tests.helpers import snapshot
from tests.s3_server import S3Server

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.datastore.factory import Datastores
from flowscope.datastore.s3 import S3Settings
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store

from .conftest import FLOW, ProbeRun

OUTCOMES = ("_task_ok", "_success")


def _copy_bucket(server: S3Server, source_root: str) -> str:
    """The objects under `source_root` copied into a new bucket; the new root."""
    client = server.client()
    bucket, _, prefix = source_root.removeprefix("s3://").partition("/")
    target = server.new_bucket("damaged")
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            client.copy_object(
                Bucket=target, Key=item["Key"], CopySource={"Bucket": bucket, "Key": item["Key"]}
            )
    return f"s3://{target}/{prefix}"


def _point_metadata_at(root: Path, old: str, new: str) -> None:
    for path in root.rglob("*.json"):
        text = path.read_bytes()
        if old.encode() in text:
            path.write_bytes(text.replace(old.encode(), new.encode()))


def _damage(server: S3Server, ds_root: str, run_id: str) -> None:
    client = server.client()
    bucket, _, prefix = ds_root.removeprefix("s3://").partition("/")
    task = f"{prefix}/{FLOW}/{run_id}/start/1"
    client.put_object(Bucket=bucket, Key=f"{task}/0.runtime_stdout.log", Body=os.urandom(50_000))
    client.delete_object(Bucket=bucket, Key=f"{task}/0.runtime_stderr.log")
    client.put_object(Bucket=bucket, Key=f"{task}/näme with späces ☃.log", Body=b"\xff\xfe")
    objects = orjson.loads(
        client.get_object(Bucket=bucket, Key=f"{task}/0.data.json")["Body"].read()
    )
    shas = [sha for name, sha in objects["objects"].items() if name not in OUTCOMES]
    garbled, gone = shas[0], shas[1]
    for sha, action in ((garbled, "garble"), (gone, "delete")):
        key = f"{prefix}/{FLOW}/data/{sha[:2]}/{sha}"
        if action == "garble":
            client.put_object(
                Bucket=bucket, Key=key, Body=b"\x1f\x8b not gzip at all" + os.urandom(100)
            )
        else:
            client.delete_object(Bucket=bucket, Key=key)
    cards = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/mf.cards/")
    for item in cards.get("Contents", [])[:1]:
        client.put_object(Bucket=bucket, Key=item["Key"], Body=os.urandom(20_000))


def _index(root: Path, tmp: Path, name: str, settings: S3Settings) -> tuple[Store, Datastores]:
    store = Store(f"sqlite:///{tmp / f'{name}.sqlite'}")
    datastores = Datastores(settings)
    stats = LocalIndexer(store, root, datastores).index_once()
    assert stats.errors == 0 and stats.runs_seen >= 1
    return store, datastores


def _get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get("/api/v1" + path, params=params)
    assert response.status_code < 500, (path, response.status_code, response.text[:300])
    return response


def test_bad_s3_objects_are_served_without_a_server_error(
    s3_server: S3Server, probe_run_s3: ProbeRun, tmp_path: Path
) -> None:
    assert probe_run_s3.ds_root is not None
    settings = S3Settings(endpoint_url=s3_server.endpoint)
    new_root = _copy_bucket(s3_server, probe_run_s3.ds_root)
    sysroot = tmp_path / "sysroot" / ".metaflow"
    shutil.copytree(probe_run_s3.root, sysroot, symlinks=True)
    _point_metadata_at(sysroot, probe_run_s3.ds_root, new_root)
    _damage(s3_server, new_root, probe_run_s3.run_id)

    clean, _ = _index(probe_run_s3.root, tmp_path, "clean", settings)
    expected = snapshot(clean)
    clean.close()
    store, datastores = _index(sysroot, tmp_path, "damaged", settings)
    assert snapshot(store) == expected

    ctx = AppContext(store=store, datastores=datastores)
    ctx.index.ready.set()
    answered: dict[int, int] = {}
    with TestClient(create_app(ctx)) as client:
        run = f"/flows/{FLOW}/runs/{probe_run_s3.run_id}"
        for task in _get(client, run + "/tasks", limit=500).json()["items"]:
            path = f"{run}/steps/{quote(task['step_name'])}/tasks/{quote(task['task_id'])}"
            _get(client, path)
            for stream in ("stdout", "stderr"):
                for sub in ("", "/search?q=line", "/download"):
                    code = _get(client, f"{path}/logs/{stream}{sub}").status_code
                    answered[code] = answered.get(code, 0) + 1
            artifacts = _get(client, path + "/artifacts")
            for artifact in artifacts.json().get("items", []):
                code = _get(client, f"{path}/artifacts/{quote(artifact['name'])}").status_code
                answered[code] = answered.get(code, 0) + 1
            cards = _get(client, path + "/cards")
            for card in cards.json().get("items", []):
                code = _get(client, f"{path}/cards/{card['id']}").status_code
                answered[code] = answered.get(code, 0) + 1
    assert answered.get(200, 0) > 10, answered  # what is intact is still shown
    store.close()
