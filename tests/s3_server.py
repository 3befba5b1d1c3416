"""A real S3-compatible server on loopback for the tests: moto's standalone server.

`start_moto()` starts `moto_server` on a free port of 127.0.0.1 and waits until it
answers; `S3Server.stop()` ends it. The `s3_server` fixture in tests/conftest.py runs one
per session; a test may start its own to stop it half way (S3 going away).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# moto accepts any credentials; these keep boto3 from looking for real ones.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def client(self) -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        ).client("s3", endpoint_url=self.endpoint)

    def new_bucket(self, stem: str = "flowscope") -> str:
        """A fresh bucket (names need 3+ characters), so tests do not share objects."""
        name = f"{stem}-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """What a Metaflow process (or flowscope) needs to reach this server."""
        return {**CREDENTIALS, "METAFLOW_S3_ENDPOINT_URL": self.endpoint}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


def _command(port: int) -> list[str]:
    script = Path(sys.executable).parent / "moto_server"
    if script.exists():
        return [str(script), "-H", "127.0.0.1", "-p", str(port)]
    found = shutil.which("moto_server")
    if found:
        return [found, "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


def start_moto(log_path: Path) -> S3Server:
    """Start moto_server on a free loopback port; return once it lists buckets."""
    port = free_port()
    with log_path.open("wb") as log:  # the server keeps its own copy of the handle
        process = subprocess.Popen(
            _command(port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **CREDENTIALS},
        )
    server = S3Server(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited: {log_path.read_text(errors='replace')}")
        try:
            server.client().list_buckets()
            return server
        except Exception as error:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"moto_server did not answer within {START_TIMEOUT_S}s"
                ) from error
            time.sleep(0.2)
