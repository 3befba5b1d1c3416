"""A real `flowscope serve` process for tests of what only a whole process shows: signals,
its terminal output, its environment variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.metadata_service import free_port

START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    url: str
    output: Path  # stdout and stderr together

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send `sig` and wait (with a deadline) for the process to exit; its status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"flowscope serve did not exit within {timeout}s of {sig}"
            ) from exc

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until /api/v1/health/ready answers 200 (or the process died)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"flowscope serve exited early:\n{self.text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health/ready", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"flowscope serve was not ready within {timeout}s:\n{self.text()}")


@contextmanager
def flowscope_serve(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    verbose: bool = False,
) -> Iterator[ServeProcess]:
    """`flowscope serve` on a free port over an empty datastore in tmp_path, unless `args`
    name their own --root/--db; stopped (SIGTERM, then SIGKILL) at the end."""
    port = free_port()
    root = tmp_path / "sysroot"
    (root / ".metaflow").mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "flowscope.cli"]
    if verbose:
        command.append("-v")
    command += ["serve", "--host", host, "--port", str(port)]
    if "--root" not in args:
        command += ["--root", str(root)]
    if "--db" not in args:
        command += ["--db", f"sqlite:///{tmp_path / 'index.sqlite'}"]
    command += list(args)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSCOPE_")}
    environ.update(env or {})
    output = tmp_path / f"serve-{port}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=environ, cwd=tmp_path
        )
    served = ServeProcess(process, f"http://127.0.0.1:{port}", output)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
