"""What only the S3 datastore has: ranged reads, the tail of huge logs, caches that spare
requests, keys that must stay under the run's prefix, and S3 going away. All against a
real S3-compatible server (moto) on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.s3_server import S3Server, free_port, start_moto

from flowscope.datastore import DatastoreUnavailable, NotFoundError
from flowscope.datastore.factory import Datastores, UnsupportedDatastore
from flowscope.datastore.local import LocalDatastore
from flowscope.datastore.mflog import merge_logs
from flowscope.datastore.s3 import S3Blobs, S3Datastore, S3Settings
from flowscope.pathspec import Pathspec

from .conftest import FLOW, ProbeRun

TASK = Pathspec(FLOW, "1", "start", "1")
LINE = b"[MFLOG|0|2026-01-01T00:%02d:%02d.%06dZ|runtime|%d]line %05d %s\n"


def _big_log(lines: int) -> bytes:
    return b"".join(
        LINE % (i // 6000, i // 100 % 60, i % 100, i, i, b"y" * 30) for i in range(lines)
    )


def _put_task(server: S3Server, bucket: str, log: bytes, *, done: bool = True) -> None:
    client = server.client()
    base = f"mf/{FLOW}/1/start/1"
    client.put_object(Bucket=bucket, Key=f"{base}/0.attempt.json", Body=b'{"time": 1}')
    client.put_object(Bucket=bucket, Key=f"{base}/0.runtime_stdout.log", Body=log)
    if done:
        client.put_object(Bucket=bucket, Key=f"{base}/0.DONE.lock", Body=b"{}")


def test_ranged_reads_put_a_log_back_together_exactly(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    blob = _big_log(3000)
    _put_task(s3_server, bucket, blob)
    settings = S3Settings(endpoint_url=s3_server.endpoint, range_bytes=4096, log_window=1 << 30)
    log = S3Datastore(f"s3://{bucket}/mf", settings).open_log(TASK, 0, "stdout")
    assert len(blob) > 20 * 4096  # many ranges
    assert log.omitted_bytes == 0 and log.final
    assert log.lines.lines() == merge_logs([blob])


def test_a_huge_log_is_read_from_its_tail(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    blob = _big_log(3000)
    _put_task(s3_server, bucket, blob)
    window = 10_000
    settings = S3Settings(endpoint_url=s3_server.endpoint, range_bytes=4096, log_window=window)
    log = S3Datastore(f"s3://{bucket}/mf", settings).open_log(TASK, 0, "stdout")
    whole = merge_logs([blob])
    tail = log.lines.lines()
    assert 0 < len(tail) < len(whole)
    assert tail == whole[-len(tail) :]  # whole lines only, none cut in half
    assert log.omitted_bytes == len(blob) - sum(
        len(line) for line in blob.splitlines(True)[-len(tail) :]
    )
    assert len(blob) - log.omitted_bytes <= window


def test_a_growing_log_gets_a_new_version(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    blob = _big_log(10)
    _put_task(s3_server, bucket, blob, done=False)
    datastore = S3Datastore(f"s3://{bucket}/mf", S3Settings(endpoint_url=s3_server.endpoint))
    running = datastore.open_log(TASK, 0, "stdout")
    assert not running.final and len(running) == 10
    _put_task(s3_server, bucket, blob + _big_log(12)[len(blob) :], done=True)
    ended = datastore.open_log(TASK, 0, "stdout")
    assert ended.final and len(ended) == 12 and ended.version != running.version


def test_s3_going_away(s3_server: S3Server, probe_run_s3: ProbeRun, tmp_path: Path) -> None:
    """A server of its own, holding a copy of the probe run, stopped half way."""
    own = start_moto(tmp_path / "moto.log")
    try:
        source, target = s3_server.client(), own.client()
        assert probe_run_s3.ds_root is not None
        bucket = probe_run_s3.ds_root.split("/")[2]
        target.create_bucket(Bucket=bucket)
        pages = source.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for page in pages:
            for item in page.get("Contents", []):
                body = source.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                target.put_object(Bucket=bucket, Key=item["Key"], Body=body)
        settings = S3Settings(endpoint_url=own.endpoint, connect_timeout_s=1, read_timeout_s=2)
        datastore = S3Datastore(probe_run_s3.ds_root, settings)
        start = Pathspec.parse(probe_run_s3.pathspec("start", "1"))
        seen = datastore.open_log(start, 0, "stdout")
        assert len(seen) > 300
    finally:
        own.stop()
    # A log already read from an ended attempt is served from memory.
    again = datastore.open_log(start, 0, "stdout")
    assert again.lines.text() == seen.lines.text()
    # Anything else says the storage cannot be reached, then fails at once for a while.
    with pytest.raises(DatastoreUnavailable, match="cannot be reached"):
        datastore.open_log(Pathspec.parse(probe_run_s3.pathspec("end", "3")), 0, "stdout")
    with pytest.raises(DatastoreUnavailable, match="tried moments ago"):
        datastore.list_artifacts(start, 0)


def test_a_dead_endpoint_is_unavailable_not_missing(probe_run_s3: ProbeRun) -> None:
    assert probe_run_s3.ds_root is not None
    dead = S3Settings(endpoint_url=f"http://127.0.0.1:{free_port()}", connect_timeout_s=1)
    datastore = S3Datastore(probe_run_s3.ds_root, dead)
    task = Pathspec.parse(probe_run_s3.pathspec("start", "1"))
    for read in (
        lambda: datastore.open_log(task, 0, "stdout"),
        lambda: datastore.list_artifacts(task, 0),
        lambda: datastore.list_cards(task),
        lambda: datastore.load_artifact(FLOW, "a" * 40, max_bytes=100),
    ):
        with pytest.raises(DatastoreUnavailable):
            read()


def test_keys_never_leave_the_prefix(s3_server: S3Server) -> None:
    blobs = S3Blobs("s3://some-bucket/team/metaflow", S3Settings(endpoint_url=s3_server.endpoint))
    assert blobs.blob_key("s3://some-bucket/team/metaflow/F/data/ab/abc") == (
        "F",
        "data",
        "ab",
        "abc",
    )
    for outside in (
        "s3://some-bucket/team/other/F/data/ab/abc",
        "s3://some-bucket/team/metaflowX/F/data/ab/abc",
        "s3://other-bucket/team/metaflow/F/data/ab/abc",
        "s3://some-bucket/team/metaflow/F/../../x",
        "s3://some-bucket/team/metaflow/F/%2e%2e/x",
        "s3://some-bucket/team/metaflow/F//data",
        "/team/metaflow/F/data/ab/abc",
    ):
        assert blobs.blob_key(outside) is None, outside
    for part in ("..", ".", "a/b", "%2F", "a\x00"):
        with pytest.raises(NotFoundError):
            blobs.listing("F", part)
        with pytest.raises(NotFoundError):
            blobs.read("F", part, "0.data.json")


def test_factory_picks_the_datastore_from_each_runs_metadata(
    probe_run: ProbeRun, tmp_path: Path
) -> None:
    made = Datastores(S3Settings(endpoint_url="http://127.0.0.1:1"))
    here = str(probe_run.root)
    local = made.for_run("local", "/stale/copy/.metaflow", "local", here)
    # A local source's own folder wins over a recorded ds-root that may be stale.
    assert isinstance(local, LocalDatastore) and local.location == str(probe_run.root.resolve())
    assert made.for_run(None, None, "local", here) is local  # one per root, shared
    s3 = made.for_run("s3", "s3://bucket/prefix", "local", here)
    assert isinstance(s3, S3Datastore) and s3.location == "s3://bucket/prefix"
    service_local = made.for_run("local", str(tmp_path), "service", "postgresql://db")
    assert isinstance(service_local, LocalDatastore)
    assert made.for_run("s3", None, "service", "postgresql://db") is None
    for kind, name in (("azure", "Azure Blob Storage"), ("gs", "Google Cloud Storage")):
        found = made.for_run(kind, f"{kind}://container/prefix", "service", "postgresql://db")
        assert isinstance(found, UnsupportedDatastore)
        with pytest.raises(Exception, match=f"{name}.*cannot read yet"):
            found.list_artifacts(TASK, 0)
