"""A real flowscope server with `/metadata`, and real flows run against it.

`serving(app)` runs an ASGI app with uvicorn on a free loopback port in a thread. Flows
run in subprocesses with the unmodified `metaflow` package, `METAFLOW_DEFAULT_METADATA=
service` and `METAFLOW_SERVICE_URL` pointing at the server; their data goes to a local
datastore. `client_view()` asks the Metaflow client, in a fresh interpreter configured the
same way, what it reads back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

FLOWS = Path(__file__).parent / "flows"
TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """The app served on loopback; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def service_env(sysroot: Path, service_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    home = sysroot / "metaflow-home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "USERNAME": "tester",
            "METAFLOW_HOME": str(home),
            "METAFLOW_DEFAULT_METADATA": "service",
            "METAFLOW_SERVICE_URL": service_url,
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            **extra,
        }
    )
    return env


def run_flow(
    env: dict[str, str],
    flow_file: str,
    *args: str,
    command: str = "run",
    should_fail: bool = False,
) -> str:
    """Run a flow of tests/flows; the id the run got (from --run-id-file)."""
    sysroot = Path(env["METAFLOW_DATASTORE_SYSROOT_LOCAL"])
    id_file = sysroot / f"{flow_file}.{command}.{time.monotonic_ns()}.run-id"
    completed = subprocess.run(
        [
            sys.executable,
            str(FLOWS / flow_file),
            "--no-pylint",
            command,
            "--max-workers",
            "4",
            "--run-id-file",
            str(id_file),
            *args,
        ],
        cwd=sysroot,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if (completed.returncode != 0) != should_fail:
        raise AssertionError(
            f"{flow_file} {command} exited {completed.returncode}\n"
            + completed.stdout.decode(errors="replace")[-3000:]
            + completed.stderr.decode(errors="replace")[-3000:]
        )
    return id_file.read_text(encoding="utf-8").strip()


# Runs in a fresh interpreter with the service's environment: what the client reads.
_VIEW_SCRIPT = r"""
import json, sys
from metaflow import Run, namespace
namespace(None)

def ms(moment):
    # The client's datetimes are naive local times made from epoch milliseconds.
    return None if moment is None else round(moment.timestamp() * 1000)

def task_view(task):
    attempts = {}
    for attempt in range(task.current_attempt + 1):
        t = type(task)(task.pathspec, attempt=attempt)
        attempts[str(attempt)] = {
            "artifacts": sorted(a.id for a in t.artifacts),
            "successful": t.successful,
        }
    return {
        "id": task.id,
        "pathspec": task.pathspec,
        "successful": task.successful,
        "finished": task.finished,
        "current_attempt": task.current_attempt,
        "metadata": sorted({m.name for m in task.metadata}),
        "metadata_dict": task.metadata_dict,
        "artifacts": sorted(a.id for a in task.artifacts),
        "attempts": attempts,
        "has_exception": task.exception is not None,
        "tags": sorted(task.tags),
        "created_at": ms(task.created_at),
        "finished_at": ms(task.finished_at),
    }

out = {}
for pathspec in sys.argv[1:]:
    run = Run(pathspec)
    steps = {}
    for step in run:
        steps[step.id] = sorted((task_view(t) for t in step), key=lambda t: t["pathspec"])
    out[pathspec] = {
        "id": run.id,
        "tags": sorted(run.user_tags),
        "system_tags": sorted(run.system_tags),
        "successful": run.successful,
        "finished": run.finished,
        "finished_at": run.finished_at is not None,
        "created_at": ms(run.created_at),
        "finished_at_ms": ms(run.finished_at),
        "steps": steps,
        "end_data": sorted(a.id for a in run["end"].task.artifacts) if run.successful else None,
    }
print(json.dumps(out))
"""


def client_view(env: dict[str, str], *pathspecs: str) -> dict[str, Any]:
    """What `from metaflow import Run` reads about these runs through the service."""
    completed = subprocess.run(
        [sys.executable, "-c", _VIEW_SCRIPT, *pathspecs],
        cwd=env["METAFLOW_DATASTORE_SYSROOT_LOCAL"],
        env=env,
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(completed.stderr.decode(errors="replace")[-4000:])
    view: dict[str, Any] = json.loads(completed.stdout)
    return view


def client_call(env: dict[str, str], script: str, *args: str) -> str:
    """Run a snippet with the Metaflow client against the service; its stdout."""
    completed = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=env["METAFLOW_DATASTORE_SYSROOT_LOCAL"],
        env=env,
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(completed.stderr.decode(errors="replace")[-4000:])
    return completed.stdout.decode()
