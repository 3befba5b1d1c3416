"""Is a local run still alive? Local runs have no heartbeat, so we look at processes.

Metaflow's local runtime (`python flow.py run`, or `resume`) starts every task as a child
process whose command line holds `--run-id <run> --task-id <task>`. So, from one look at
`/proc`:

- a task is alive while its process exists;
- a run is alive while any of its task processes exists, or while its runtime does. The
  runtime is the parent of the run's task processes; once seen, it is remembered (by pid
  and start time, so a reused pid is not mistaken for it), and when it is gone the run is
  over, at once, whatever the file times say (issue 7);
- a run whose runtime was never seen (it was between tasks, or it ended before flowscope
  looked) is alive only while some process could be its runtime: a `run`/`resume` of the
  same flow file, writing to the datastore being indexed, that started before the run did
  and is not known to run another run. None: the run is over.

File times decide only what one look at `/proc` cannot: something that changed after the
look (a task that started since) is taken as alive until the next look. Where `/proc`
does not exist (not Linux), only file activity counts, with a long grace, since a quiet
task could still be running.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from flowscope.ingest.facts import RunFacts, TaskFacts
from flowscope.ingest.runtime_datastore import runtime_datastore

NO_PROC_GRACE_MS = 15 * 60_000
# Files and the process table share one clock, but file times are coarse (they lag by up
# to a kernel tick), so a file change this close before the look counts as after it.
# Metaflow's own records (`ts_epoch`) come from time.time() and need no slack.
FILE_CLOCK_SLACK_MS = 50
# A process start time is known to the second (boot time in /proc/stat is whole seconds).
START_SLACK_MS = 2_000
RUNTIME_COMMANDS = frozenset({b"run", b"resume"})
FORGET_RUNTIME_AFTER_MS = 3_600_000


@dataclass(frozen=True)
class ProcessId:
    """A process, told apart from a later one that reuses its pid."""

    pid: int
    started_at: int  # epoch ms, to the second


@dataclass(frozen=True)
class RuntimeCandidate:
    """A process that looks like a Metaflow runtime: `python <flow file> ... run`."""

    process: ProcessId
    script: str | None  # the flow file's name, as the graph's `file` records it
    datastore: str | None = None  # the real path of the .metaflow it writes to, if known


@dataclass
class ProcessTable:
    """What ran on this machine at one moment (`taken_at`, read before the scan)."""

    available: bool
    taken_at: int = field(default_factory=lambda: int(time.time() * 1000))
    processes: set[ProcessId] = field(default_factory=set)
    tasks: set[tuple[str, str]] = field(default_factory=set)  # (run_id, task_id)
    task_parents: dict[str, set[ProcessId]] = field(default_factory=dict)  # run_id -> runtimes
    runtimes: list[RuntimeCandidate] = field(default_factory=list)

    def file_changed_since(self, mtime_ms: int | None) -> bool:
        return mtime_ms is not None and mtime_ms >= self.taken_at - FILE_CLOCK_SLACK_MS

    def recorded_since(self, ts_epoch: int | None) -> bool:
        return ts_epoch is not None and ts_epoch >= self.taken_at


class LocalLiveness:
    """Decides, for the local indexer, whether a run or a task may still be running
    (the `ingest.assembler.Liveness` of local runs).

    One instance lives as long as the indexer, so runtimes seen as the parents of task
    processes are remembered from one look to the next.
    """

    def __init__(self, proc: Path = Path("/proc"), datastore: Path | None = None) -> None:
        self.proc = proc
        # The .metaflow folder indexed: a runtime writing elsewhere runs no run of ours.
        self.datastore = os.path.realpath(datastore) if datastore is not None else None
        self.table = ProcessTable(available=False, taken_at=0)
        self._runtime_of: dict[str, ProcessId] = {}  # run_id -> its runtime process
        self._gone_since: dict[str, int] = {}  # run_id -> when its runtime was first missed

    def refresh(self) -> ProcessTable:
        """Look at the processes now; every verdict until the next refresh uses this look."""
        return self.observe(scan_processes(self.proc))

    def observe(self, table: ProcessTable) -> ProcessTable:
        self.table = table
        for run_id, parents in table.task_parents.items():
            if len(parents) == 1:  # a run has one runtime; more than one: leave it open
                self._runtime_of[run_id] = next(iter(parents))
        for run_id, runtime in list(self._runtime_of.items()):
            if runtime in table.processes:
                self._gone_since.pop(run_id, None)
                continue
            gone_at = self._gone_since.setdefault(run_id, table.taken_at)
            if table.taken_at - gone_at > FORGET_RUNTIME_AFTER_MS:
                # Long over and sealed by now; the memory of it is no longer needed.
                del self._runtime_of[run_id], self._gone_since[run_id]
        return table

    def task_alive(self, run: RunFacts, task: TaskFacts) -> bool:
        table = self.table
        if not table.available:
            return _within(table.taken_at, task.last_seen_at, NO_PROC_GRACE_MS)
        return (run.run_id, task.task_id) in table.tasks or table.file_changed_since(
            task.last_seen_at
        )

    def run_alive(self, run: RunFacts, started_at: int | None) -> bool:
        """`started_at`: the run's earliest record (its own or its first task's)."""
        table = self.table
        if not table.available:
            return _within(table.taken_at, run.last_seen_at, NO_PROC_GRACE_MS)
        if run.run_id in table.task_parents:
            return True
        runtime = self._runtime_of.get(run.run_id)
        if runtime is not None:
            return runtime in table.processes
        if table.recorded_since(started_at):
            return True  # made after the look: its runtime may have started after it too
        claimed = set(self._runtime_of.values())
        for parents in table.task_parents.values():
            claimed.update(parents)
        return any(
            self._could_run(candidate, started_at, run.script_name)
            for candidate in table.runtimes
            if candidate.process not in claimed
        )

    def _could_run(
        self, candidate: RuntimeCandidate, started_at: int | None, script: str | None
    ) -> bool:
        if self.datastore is not None and candidate.datastore not in (None, self.datastore):
            return False
        return _could_run(candidate, started_at, script)


def _could_run(candidate: RuntimeCandidate, started_at: int | None, script: str | None) -> bool:
    if script is not None and candidate.script is not None and candidate.script != script:
        return False
    # A runtime makes its run after it starts; one started later runs another run.
    return started_at is None or candidate.process.started_at <= started_at + START_SLACK_MS


def _within(now: int, at: int | None, grace_ms: int) -> bool:
    return at is not None and now - at < grace_ms


def scan_processes(proc: Path = Path("/proc")) -> ProcessTable:
    if not proc.is_dir():
        return ProcessTable(available=False)
    table = ProcessTable(available=True)
    boot_ms = _boot_time_ms(proc)
    tick = os.sysconf("SC_CLK_TCK")
    by_pid: dict[int, ProcessId] = {}
    task_ppids: list[tuple[str, int]] = []
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            argv = (Path(entry.path) / "cmdline").read_bytes().split(b"\0")
            parsed = _parse_stat((Path(entry.path) / "stat").read_bytes())
        except OSError:
            continue  # the process ended while we looked
        if parsed is None:
            continue
        ppid, start_ticks = parsed
        me = by_pid[int(entry.name)] = ProcessId(
            int(entry.name), boot_ms + start_ticks * 1000 // tick
        )
        run_id = _flag(argv, b"--run-id")
        task_id = _flag(argv, b"--task-id")
        if run_id is not None and task_id is not None:
            table.tasks.add((run_id, task_id))
            task_ppids.append((run_id, ppid))
        elif _is_runtime(argv):
            datastore = runtime_datastore(Path(entry.path))
            table.runtimes.append(RuntimeCandidate(me, _script(argv), datastore))
    table.processes = set(by_pid.values())
    # Parents are matched once every process is known: a parent may be listed after its
    # child when pids wrap around.
    for run_id, ppid in task_ppids:
        parents = table.task_parents.setdefault(run_id, set())
        parent = by_pid.get(ppid)
        if parent is not None and ppid > 1:
            parents.add(parent)
    return table


def _parse_stat(stat: bytes) -> tuple[int, int] | None:
    # `pid (comm) state ppid ... starttime ...`; comm may hold spaces and parentheses.
    _, _, rest = stat.rpartition(b")")
    fields = rest.split()
    try:
        return int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _boot_time_ms(proc: Path) -> int:
    try:
        for line in (proc / "stat").read_bytes().splitlines():
            if line.startswith(b"btime "):
                return int(line.split()[1]) * 1000
    except (OSError, ValueError):
        pass
    return 0


def _is_runtime(argv: list[bytes]) -> bool:
    return any(arg in RUNTIME_COMMANDS for arg in argv[1:]) and _script(argv) is not None


def _script(argv: list[bytes]) -> str | None:
    for arg in argv[1:]:
        if arg.endswith(b".py"):
            return os.path.basename(arg.decode(errors="replace"))
    return None


def _flag(argv: list[bytes], name: bytes) -> str | None:
    prefix = name + b"="
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1].decode(errors="replace")
        if arg.startswith(prefix):
            return arg[len(prefix) :].decode(errors="replace")
    return None
