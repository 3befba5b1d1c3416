"""`flowscope demo`: a newcomer's first minute.

Runs the bundled example flows with the real `metaflow` package in a scratch folder,
while the server is already up, so the runs appear live in the browser. Each flow's
output goes to a log file in the scratch folder, and the demo says how each run ended
(with the log's tail when a run ended otherwise than meant), so nothing is thrown away.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

FLOWS = Path(__file__).parent / "flows"
# (file, extra arguments, whether it is meant to fail)
DEMO_RUNS = [
    ("hello_flow.py", ["--who", "flowscope", "--tag", "demo"], False),
    ("train_flow.py", ["--tag", "demo", "--max-workers", "4"], False),
    ("broken_flow.py", ["--tag", "demo"], True),
]
LOG_TAIL_CHARS = 2_000


@dataclass(frozen=True)
class DemoOutcome:
    """How one demo flow's run ended."""

    flow_file: str
    run_id: str | None  # None when Metaflow refused the flow before starting a run
    failed: bool
    meant_to_fail: bool
    log: Path

    @property
    def as_meant(self) -> bool:
        return self.failed == self.meant_to_fail

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "no run started"
        if not self.failed:
            ended = "completed"
        elif self.meant_to_fail:
            ended = "failed, as it is meant to (open it to see a failure)"
        else:
            ended = "FAILED"
        text = f"flowscope demo: {self.flow_file} ({run}): {ended}"
        if not self.as_meant:
            text += f"; its output is in {self.log}:\n{_tail(self.log)}"
        return text


def run_demo(scratch: Path | None, db_url: str | None, host: str, port: int) -> int:
    if importlib.util.find_spec("metaflow") is None:
        print(
            "flowscope demo needs the metaflow package: pip install 'flowscope[demo]'",
            file=sys.stderr,
        )
        return 2
    scratch = (scratch or Path(user_cache_dir("flowscope")) / "demo").resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / ".metaflow").mkdir(exist_ok=True)
    db_url = db_url or f"sqlite:///{scratch / 'index.sqlite'}"
    threading.Thread(target=run_flows, args=(scratch, _say), name="demo-flows", daemon=True).start()

    from flowscope.server import serve

    print(f"flowscope demo: running example flows in {scratch}", file=sys.stderr)
    return serve(root=str(scratch), db_url=db_url, host=host, port=port)


def run_flows(scratch: Path, report: Callable[[str], None] | None = None) -> list[DemoOutcome]:
    """Run every demo flow in turn into `scratch`; `report` hears how each ended."""
    env = {
        **os.environ,
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(scratch),
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "USERNAME": os.environ.get("USERNAME") or os.environ.get("USER") or "demo",
    }
    logs = scratch / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for name, extra, meant_to_fail in DEMO_RUNS:
        stem = name.removesuffix(".py")
        log, run_id_file = logs / f"{stem}.log", logs / f"{stem}.run-id"
        run_id_file.unlink(missing_ok=True)
        with log.open("wb") as out:
            completed = subprocess.run(
                [
                    sys.executable,
                    str(FLOWS / name),
                    "--no-pylint",
                    "run",
                    "--run-id-file",
                    str(run_id_file),
                    *extra,
                ],
                cwd=scratch,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        run_id = run_id_file.read_text(encoding="utf-8").strip() if run_id_file.exists() else None
        outcome = DemoOutcome(name, run_id or None, completed.returncode != 0, meant_to_fail, log)
        outcomes.append(outcome)
        if report is not None:
            report(outcome.describe())
    return outcomes


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _tail(log: Path) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"(cannot read it: {error})"
    return text[-LOG_TAIL_CHARS:]
