"""Is a local run still alive? Local runs have no heartbeat, so we look for processes.

Metaflow's local runtime starts every task as a child process whose command line holds
`--run-id <run> --task-id <task>`; while such a process exists on this machine the task
(and its run) is alive. The runtime itself runs a step only through such children, and
between two tasks it writes files, so a run with no task process and no file change for
`GRACE_MS` is over. A run still unfinished then is reported failed (killed or lost)
instead of "running" forever, which is what the Metaflow client alone would show.

Where /proc does not exist (not Linux), only file activity counts: a run that wrote
nothing for `NO_PROC_GRACE_MS` is taken as over.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

GRACE_MS = 10_000
NO_PROC_GRACE_MS = 15 * 60_000


@dataclass
class ProcessTable:
    """The runs and tasks that have a live process on this machine, at one moment."""

    available: bool
    taken_at: int = field(default_factory=lambda: int(time.time() * 1000))
    runs: set[str] = field(default_factory=set)
    tasks: set[tuple[str, str]] = field(default_factory=set)

    def run_alive(self, run_id: str, last_activity_at: int | None) -> bool:
        if run_id in self.runs:
            return True
        return self._recent(last_activity_at)

    def task_alive(self, run_id: str, task_id: str, last_change_at: int | None) -> bool:
        if (run_id, task_id) in self.tasks:
            return True
        return self._recent(last_change_at)

    def _recent(self, at: int | None) -> bool:
        grace = GRACE_MS if self.available else NO_PROC_GRACE_MS
        return at is not None and self.taken_at - at < grace


def scan_processes(proc: Path = Path("/proc")) -> ProcessTable:
    if not proc.is_dir():
        return ProcessTable(available=False)
    table = ProcessTable(available=True)
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            argv = (Path(entry.path) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # the process ended while we looked
        run_id = _flag(argv, b"--run-id")
        if run_id is None:
            continue
        table.runs.add(run_id)
        task_id = _flag(argv, b"--task-id")
        if task_id is not None:
            table.tasks.add((run_id, task_id))
    return table


def _flag(argv: list[bytes], name: bytes) -> str | None:
    prefix = name + b"="
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1].decode(errors="replace")
        if arg.startswith(prefix):
            return arg[len(prefix) :].decode(errors="replace")
    return None
