"""What `flowscope serve` says in its first minute, from the real CLI in a subprocess:
a taken port is reported with what to do, before any "open http://" line and without a
traceback; the end of the first index is announced with the number of runs; on a
terminal a progress bar runs meanwhile."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests import oracle
from tests.team_fixture import TeamServer

INDEXED = re.compile(r"flowscope: indexed ([\d,]+) runs? in \d+\.\d s")


def _serve(root: Path, db: Path) -> list[str]:
    return [
        sys.executable, "-m", "flowscope.cli", "serve",
        "--root", str(root), "--db", f"sqlite:///{db}", "--port", str(_free_port()),
    ]  # fmt: skip


def _stderr_until(command: list[str], pattern: re.Pattern[str], terminal: bool) -> str:
    """What `command` writes to stderr (a pty when `terminal`, else a pipe) up to the first
    line matching `pattern`; the process is stopped after."""
    read, write = pty.openpty() if terminal else os.pipe()
    server = subprocess.Popen(command, stderr=write)
    os.close(write)
    try:
        return _read_until(read, pattern, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=20)
        os.close(read)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_until(fd: int, pattern: re.Pattern[str], timeout: float) -> str:
    """What the process wrote to `fd` up to the first line matching `pattern`."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the pty closes when the process exits
            break
        if not chunk:
            break
        out += chunk
        if pattern.search(out.decode(errors="replace")):
            return out.decode(errors="replace")
    raise AssertionError(
        f"no line matching {pattern.pattern!r} in:\n{out.decode(errors='replace')}"
    )


def test_taken_port_says_so_before_any_url(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "flowscope.cli",
                "serve",
                "--root",
                str(tmp_path),
                "--db",
                f"sqlite:///{tmp_path / 'index.sqlite'}",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    suggested = re.search(r"--port (\d+)", done.stderr)
    assert suggested and int(suggested.group(1)) != port, done.stderr
    assert "open http" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    # Nothing was started: not even the index database.
    assert not (tmp_path / "index.sqlite").exists()


def test_first_index_is_announced_with_the_number_of_runs(
    fixture_root: Path, tmp_path: Path
) -> None:
    text = _stderr_until(_serve(fixture_root, tmp_path / "index.sqlite"), INDEXED, terminal=False)
    match = INDEXED.search(text)
    assert match is not None
    assert int(match.group(1).replace(",", "")) == oracle.oracle_run_count()
    assert text.index("open http://") < match.start()
    # Not a terminal: no progress bar's control sequences in the output.
    assert "\x1b[" not in text


def test_first_index_shows_a_progress_bar_on_a_terminal(fixture_root: Path, tmp_path: Path) -> None:
    text = _stderr_until(_serve(fixture_root, tmp_path / "index.sqlite"), INDEXED, terminal=True)
    before = text[: INDEXED.search(text).start()]  # type: ignore[union-attr]
    assert "indexing runs" in before
    assert "\x1b[" in before  # drawn, then cleared (transient), by rich


SYNCED = re.compile(r"flowscope: synced ([\d,]+) runs? in \d+\.\d s")


@pytest.mark.parametrize("team", ["sqlite"], indirect=True)
def test_first_sync_of_a_service_database_shows_a_bar_and_its_runs(
    team: TeamServer, tmp_path: Path
) -> None:
    """`flowscope serve --db <metaflow-service database>`: the first sync draws its bar on a
    terminal and ends with a line giving the number of runs the database holds."""
    command = [
        sys.executable, "-m", "flowscope.cli", "serve",
        "--db", team.engine.url.render_as_string(hide_password=False),
        "--index", f"sqlite:///{tmp_path / 'index.sqlite'}",
        "--port", str(_free_port()),
    ]  # fmt: skip
    text = _stderr_until(command, SYNCED, terminal=True)
    match = SYNCED.search(text)
    assert match is not None
    with team.engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT count(*) FROM runs_v3")).scalar_one()
    assert runs >= len(team.runs) > 0
    assert int(match.group(1).replace(",", "")) == runs
    before = text[: match.start()]
    assert "syncing runs" in before
    assert "\x1b[" in before
