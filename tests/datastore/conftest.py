"""One real Metaflow run (plus a resume of it) per datastore kind, and the client's view.

The run is made with the installed Metaflow in a temporary sysroot, once with the local
datastore and once with its data in S3 (the session's moto server; metadata stays local,
as with `--datastore=s3`); the client's answers are gathered in a subprocess pointed at the
same sysroot, so every test compares flowscope with what Metaflow itself says.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.s3_server import S3Server

from flowscope.datastore.base import Datastore
from flowscope.datastore.local import LocalDatastore
from flowscope.datastore.s3 import S3Datastore, S3Settings
from flowscope.pathspec import Pathspec

FLOWS = Path(__file__).parent / "flows"
FLOW = "ProbeFlow"
S3_PREFIX = "metaflow"


@dataclass(frozen=True)
class ProbeRun:
    """The finished run, its resume, and what the client says about both."""

    sysroot: Path
    run_id: str
    resumed_run_id: str | None  # None for the S3 run: see `probe_run_s3`
    client: dict[str, Any]
    values: dict[str, dict[str, Any]]
    kind: str = "local"
    ds_root: str | None = None  # s3://bucket/prefix when the data is in S3
    env: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.sysroot / ".metaflow"

    def pathspec(self, step: str, task: str, *, resumed: bool = False) -> str:
        if resumed and self.resumed_run_id is None:
            raise AssertionError("this probe run has no resume")
        run = self.resumed_run_id if resumed else self.run_id
        return f"{FLOW}/{run}/{step}/{task}"

    def client_task(self, pathspec: str) -> dict[str, Any]:
        return self.client["tasks"][pathspec]


@dataclass(frozen=True)
class Probe:
    """A probe run and a flowscope datastore reading it."""

    run: ProbeRun
    datastore: Datastore

    def log_text(self, pathspec: str, attempt: int, stream: Any) -> str:
        return self.datastore.open_log(Pathspec.parse(pathspec), attempt, stream).lines.text()


def metaflow_env(sysroot: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(USERNAME="tester", METAFLOW_DATASTORE_SYSROOT_LOCAL=str(sysroot), **(extra or {}))
    return env


def _run(args: list[str], sysroot: Path, extra: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=sysroot,
        env=metaflow_env(sysroot, extra),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stdout}\n{done.stderr}")


def _run_flow(command: str, *args: str, sysroot: Path, extra: dict[str, str]) -> str:
    """Run the probe flow with `command` (run, resume) and return the new run's id."""
    id_file = sysroot / f"{command}.run-id"
    started = time.monotonic()
    _run(
        [
            str(FLOWS / "probe_flow.py"),
            "--no-pylint",
            command,
            "--run-id-file",
            str(id_file),
            *args,
        ],
        sysroot,
        extra,
    )
    print(f"{command} took {time.monotonic() - started:.1f}s")
    return id_file.read_text().strip()


def make_probe_run(
    sysroot: Path,
    dump_dir: Path,
    *,
    kind: str = "local",
    ds_root: str | None = None,
    resume: bool = True,
    **env: str,
) -> ProbeRun:
    (sysroot / ".metaflow").mkdir(parents=True, exist_ok=True)
    run_id = _run_flow("run", sysroot=sysroot, extra=env)
    resumed_run_id = None
    if resume:
        # Resuming from `flaky` clones `start` into a new run.
        resumed_run_id = _run_flow("resume", "flaky", sysroot=sysroot, extra=env)
        assert resumed_run_id != run_id
    runs = [run_id] if resumed_run_id is None else [run_id, resumed_run_id]
    _run([str(FLOWS / "client_dump.py"), str(dump_dir), FLOW, *runs], sysroot, env)
    client = json.loads((dump_dir / "client.json").read_text())
    values = pickle.loads((dump_dir / "values.pickle").read_bytes())
    return ProbeRun(sysroot, run_id, resumed_run_id, client, values, kind, ds_root, env)


@pytest.fixture(scope="session")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> ProbeRun:
    return make_probe_run(
        tmp_path_factory.mktemp("mf-sysroot"), tmp_path_factory.mktemp("client-dump")
    )


@pytest.fixture(scope="session")
def probe_run_s3(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> ProbeRun:
    """The same flow with `METAFLOW_DEFAULT_DATASTORE=s3`: metadata local, data in S3.

    Without the resume: resuming an S3 run against moto takes a minute or more here
    (Metaflow's resume probes dozens of missing keys, each slow to answer), and what a
    resume changes (cloned tasks, cards followed to their origin) is decided from
    metadata, not by the datastore; the local probe run covers it.
    """
    ds_root = f"s3://{s3_server.new_bucket('probe')}/{S3_PREFIX}"
    return make_probe_run(
        tmp_path_factory.mktemp("mf-sysroot-s3"),
        tmp_path_factory.mktemp("client-dump-s3"),
        kind="s3",
        ds_root=ds_root,
        resume=False,
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3=ds_root,
        **s3_server.env(),
    )


@pytest.fixture(scope="session")
def datastore(probe_run: ProbeRun) -> LocalDatastore:
    return LocalDatastore(probe_run.root)


@pytest.fixture(scope="session")
def s3_datastore(probe_run_s3: ProbeRun, s3_server: S3Server) -> S3Datastore:
    assert probe_run_s3.ds_root is not None
    return S3Datastore(probe_run_s3.ds_root, S3Settings(endpoint_url=s3_server.endpoint))


@pytest.fixture(params=["local", "s3"])
def probe(request: pytest.FixtureRequest) -> Probe:
    """Each contract test runs once per datastore, on the same flow."""
    if request.param == "local":
        return Probe(request.getfixturevalue("probe_run"), request.getfixturevalue("datastore"))
    return Probe(request.getfixturevalue("probe_run_s3"), request.getfixturevalue("s3_datastore"))
