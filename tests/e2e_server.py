"""Run a command against a real `flowscope serve` over real Metaflow runs.

    python -m tests.e2e_server -- <command...>

Makes the fixture runs (tests/fixtures_runs.py; FLOWSCOPE_FIXTURE_CACHE reuses them, from
its `e2e/` folder) and one damaged copy of a fixture run (`unreadable`: the `linear` run
with a metadata record of its middle task cut in half, tests/corpus/local_damage.py),
starts `flowscope serve` on a free port with a fresh index, waits until the first index
pass is done, runs the command with FLOWSCOPE_URL (and FLOWSCOPE_FIXTURES, the fixture name ->
pathspec map as JSON) in its environment, and stops the server. FLOWSCOPE_SYSROOT,
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

from tests.corpus.local_damage import damaged_copy, truncated_json
from tests.fixtures_runs import CACHE_ENV, run_fixture_flows
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


def _served_runs(scratch: Path) -> tuple[Path, dict[str, str]]:
    """The sysroot to serve and its runs: the fixture runs and the damaged copy. With
    FLOWSCOPE_FIXTURE_CACHE they are made in its `e2e/` folder, a sysroot of their own: the
    damaged run and the runs live specs start there must not reach the runs pytest reads
    (a copy of the cache would not do: IncludeFile parameters name their files by absolute
    path)."""
    cache = os.environ.get(CACHE_ENV)
    sysroot = Path(cache).resolve() / "e2e" if cache else scratch / "runs"
    runs = run_fixture_flows(sysroot)
    linear_id = runs["linear"].split("/")[1]
    runs["unreadable"] = damaged_copy(sysroot / ".metaflow", f"8000{linear_id[4:]}", truncated_json)
    return sysroot, runs


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory(prefix="flowscope-e2e-") as scratch:
        sysroot, runs = _served_runs(Path(scratch))
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
