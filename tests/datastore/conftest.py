"""One real Metaflow run (plus a resume of it) per test session, and the client's view of it.

The run is made with the installed Metaflow in a temporary sysroot; the client's answers
are gathered in a subprocess pointed at the same sysroot, so every test compares flowscope
with what Metaflow itself says.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowscope.datastore.local import LocalDatastore

FLOWS = Path(__file__).parent / "flows"
FLOW = "ProbeFlow"


@dataclass(frozen=True)
class ProbeRun:
    """The finished run, its resume, and what the client says about both."""

    sysroot: Path
    run_id: str
    resumed_run_id: str
    client: dict[str, Any]
    values: dict[str, dict[str, Any]]

    @property
    def root(self) -> Path:
        return self.sysroot / ".metaflow"

    def pathspec(self, step: str, task: str, *, resumed: bool = False) -> str:
        run = self.resumed_run_id if resumed else self.run_id
        return f"{FLOW}/{run}/{step}/{task}"

    def client_task(self, pathspec: str) -> dict[str, Any]:
        return self.client["tasks"][pathspec]


def _metaflow_env(sysroot: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(USERNAME="tester", METAFLOW_DATASTORE_SYSROOT_LOCAL=str(sysroot))
    return env


def _run(args: list[str], sysroot: Path) -> None:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=sysroot,
        env=_metaflow_env(sysroot),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stdout}\n{done.stderr}")


def _run_flow(command: str, *args: str, sysroot: Path) -> str:
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
    )
    print(f"{command} took {time.monotonic() - started:.1f}s")
    return id_file.read_text().strip()


@pytest.fixture(scope="session")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> ProbeRun:
    sysroot = tmp_path_factory.mktemp("mf-sysroot")
    run_id = _run_flow("run", sysroot=sysroot)
    # Resuming from `flaky` clones `start` (and its cards) into a new run.
    resumed_run_id = _run_flow("resume", "flaky", sysroot=sysroot)
    assert resumed_run_id != run_id
    dump_dir = tmp_path_factory.mktemp("client-dump")
    _run([str(FLOWS / "client_dump.py"), str(dump_dir), FLOW, run_id, resumed_run_id], sysroot)
    client = json.loads((dump_dir / "client.json").read_text())
    values = pickle.loads((dump_dir / "values.pickle").read_bytes())
    return ProbeRun(sysroot, run_id, resumed_run_id, client, values)


@pytest.fixture(scope="session")
def datastore(probe_run: ProbeRun) -> LocalDatastore:
    return LocalDatastore(probe_run.root)
