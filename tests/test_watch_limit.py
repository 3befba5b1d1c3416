"""A datastore with more folders than the kernel lets us watch (issue 10).

The limit is real, but our own: the indexer runs in a child process inside a new user
namespace (`unshare --user`), whose inotify limit (`/proc/sys/user/max_inotify_watches`)
is set low. The kernel then refuses watches past it exactly as it would past
`fs.inotify.max_user_watches`, without touching the limit of anyone else on the machine.

The datastore holds a finished run of 300 foreach tasks (more than 600 folders). With
a limit of 200, watching it recursively would fail; the indexer watches only what can
still change, so a new run is found by file events. With a limit of 2 not even that
fits: the indexer says so in one line and polls, and the new run is found all the same.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench import generate
from tests.helpers import kill_group, start_flow

LISTED_WITHIN_S = 60


@pytest.fixture(scope="module")
def big_datastore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sysroot = tmp_path_factory.mktemp("watch-limit")
    params = {"tasks": 300, "seed": 0, "retry_every": 1000, "catch_every": 5000}
    generate.generate(sysroot, "bigrun", params, workers=1)
    return sysroot


def _folders(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_dir())


def _run_under_limit(sysroot: Path, tmp_path: Path, limit: int) -> tuple[dict, str]:
    if shutil.which("unshare") is None:
        pytest.fail("this test needs util-linux's unshare (user namespaces)")
    db = tmp_path / "index.sqlite"
    script = (
        f"echo {limit} > /proc/sys/user/max_inotify_watches && "
        f"exec {sys.executable} -m tests.watch_child {sysroot / '.metaflow'} {db} SlowFlow "
        f"{LISTED_WITHIN_S}"
    )
    child = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert child.stdout is not None and child.stderr is not None
    flow = None
    try:
        line = child.stdout.readline()
        assert json.loads(line) == {"ready": True}, child.stderr.read()
        flow = start_flow(sysroot, "slow_flow.py", SLOW_FLOW_SLEEP_S="0.3")
        out, err = child.communicate(timeout=LISTED_WITHIN_S + 60)
    finally:
        if child.poll() is None:
            child.kill()
        if flow is not None and flow.poll() is None:
            kill_group(flow)
    found = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert found and "listed" in found[-1], f"the new run was not listed: {out!r} {err!r}"
    return found[-1], err


def test_a_datastore_bigger_than_the_limit_is_followed_by_events(
    big_datastore: Path, tmp_path: Path
) -> None:
    assert _folders(big_datastore / ".metaflow") > 600
    result, log = _run_under_limit(big_datastore, tmp_path, limit=200)
    assert result["polling"] is False
    assert "refused a file watch" not in log


def test_when_the_kernel_refuses_a_watch_the_indexer_says_so_and_polls(
    big_datastore: Path, tmp_path: Path
) -> None:
    result, log = _run_under_limit(big_datastore, tmp_path, limit=2)
    assert result["polling"] is True, log
    refused = [line for line in log.splitlines() if "refused a file watch" in line]
    assert len(refused) == 1, log
    assert "max_user_watches" in refused[0]
