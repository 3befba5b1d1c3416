"""IncludeFile parameters with the data in S3 (the session's moto server; metadata local,
as with `--datastore=s3`): Metaflow uploads the included file under `<ds_root>/data`, and
flowscope shows its content as the client's `Run.data` gives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from starlette.testclient import TestClient
from tests.fixtures_runs import FLOWS_DIR, INCLUDED_BINARY, INCLUDED_TEXT
from tests.s3_server import S3Server

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.datastore.factory import Datastores
from flowscope.datastore.s3 import S3Settings
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store

from .conftest import S3_PREFIX, metaflow_env

_CLIENT = """
import sys
from metaflow import Run, namespace
namespace(None)
data = Run(sys.argv[1]).data
sys.stdout.buffer.write(repr((data.notes, data.blob)).encode())
"""


def test_include_file_content_from_s3_is_the_clients(tmp_path: Path, s3_server: S3Server) -> None:
    ds_root = f"s3://{s3_server.new_bucket('include')}/{S3_PREFIX}"
    env = metaflow_env(
        tmp_path,
        {
            "METAFLOW_DEFAULT_DATASTORE": "s3",
            "METAFLOW_DATASTORE_SYSROOT_S3": ds_root,
            "METAFLOW_DEFAULT_METADATA": "local",
            **s3_server.env(),
        },
    )
    (tmp_path / ".metaflow").mkdir()
    notes, blob = tmp_path / "notes.txt", tmp_path / "blob.bin"
    notes.write_text(INCLUDED_TEXT, encoding="utf-8")
    blob.write_bytes(INCLUDED_BINARY)
    id_file = tmp_path / "run-id"
    command = [sys.executable, str(FLOWS_DIR / "include_flow.py"), "--no-pylint", "run"]
    command += ["--run-id-file", str(id_file), "--notes", str(notes), "--blob", str(blob)]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    pathspec = f"IncludeFlow/{id_file.read_text().strip()}"
    client = subprocess.run(
        [sys.executable, "-c", _CLIENT, pathspec], cwd=tmp_path, env=env, capture_output=True
    )
    assert client.returncode == 0, client.stderr[-3000:]
    assert client.stdout.decode() == repr((INCLUDED_TEXT, INCLUDED_BINARY))

    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    datastores = Datastores(S3Settings(endpoint_url=s3_server.endpoint))
    assert LocalIndexer(store, tmp_path / ".metaflow", datastores).index_once().errors == 0
    ctx = AppContext(store=store, datastores=datastores)
    ctx.index.ready.set()
    with TestClient(create_app(ctx)) as api:
        base = f"/api/v1/flows/{pathspec.replace('/', '/runs/')}"
        run = api.get(base).json()
        assert run["parameters"]["notes"] == repr(INCLUDED_TEXT)
        assert run["parameters"]["blob"] == f"<{len(INCLUDED_BINARY):,} bytes>"
        (start,) = api.get(f"{base}/tasks", params={"step_name": "start"}).json()["items"]
        artifacts = f"{base}/steps/start/tasks/{start['task_id']}/artifacts"
        text = api.get(f"{artifacts}/notes").json()
        assert (text["preview_kind"], text["preview"]) == ("text", INCLUDED_TEXT)
        binary = api.get(f"{artifacts}/blob").json()
        assert binary["preview_data"] == {"size": len(INCLUDED_BINARY)}
        assert api.get(binary["download_url"]).content == INCLUDED_BINARY
    store.close()
