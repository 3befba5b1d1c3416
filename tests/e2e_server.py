"""Run a command against a real `flowscope serve` over real Metaflow runs.

    python -m tests.e2e_server -- <command...>

Makes the fixture runs (tests/fixtures_runs.py; FLOWSCOPE_FIXTURE_CACHE reuses them),
starts `flowscope serve` on a free port with a fresh index, waits until the first index
pass is done, runs the command with FLOWSCOPE_URL (and FLOWSCOPE_FIXTURES, the fixture
name -> pathspec map as JSON) in its environment, and stops the server. FLOWSCOPE_SYSROOT,
FLOWSCOPE_PYTHON and FLOWSCOPE_FLOW_ENV let a live test start a real flow into the served
datastore (see tests/live_flows/).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.fixtures_runs import fixture_sysroot, run_fixture_flows
from tests.helpers import flow_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:
                if json.load(response).get("ready"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"flowscope did not become ready at {url} within {timeout}s")


def _flow_env_extra(sysroot: Path) -> dict[str, str]:
    full = flow_env(sysroot)
    return {k: v for k, v in full.items() if os.environ.get(k) != v}


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory(prefix="flowscope-e2e-") as scratch:
        sysroot = fixture_sysroot(Path(scratch) / "runs")
        runs = run_fixture_flows(sysroot)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowscope.cli",
                "serve",
                "--root",
                str(sysroot),
                "--db",
                f"sqlite:///{scratch}/index.sqlite",
                "--port",
                str(port),
            ]
        )
        try:
            _wait_ready(url, timeout=60)
            env = {
                **os.environ,
                "FLOWSCOPE_URL": url,
                "FLOWSCOPE_FIXTURES": json.dumps(runs),
                # For live tests that start a real flow into the served datastore:
                # `$FLOWSCOPE_PYTHON tests/live_flows/slow_flow.py --no-pylint run` with
                # the environment in FLOWSCOPE_FLOW_ENV (JSON) added to theirs.
                "FLOWSCOPE_SYSROOT": str(sysroot),
                "FLOWSCOPE_PYTHON": sys.executable,
                "FLOWSCOPE_FLOW_ENV": json.dumps(_flow_env_extra(sysroot)),
            }
            return subprocess.run(command, env=env, check=False).returncode
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
