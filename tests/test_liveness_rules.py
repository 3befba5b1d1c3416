"""The liveness rules for local runs, one look at a time (synthetic process tables).

The processes are made up here so that each rule is checked alone; tests/test_liveness.py
checks the same rules on real flows and a real /proc.
"""

from __future__ import annotations

from pathlib import Path

from flowscope.ingest.facts import RunFacts, TaskFacts
from flowscope.ingest.liveness import LocalLiveness, ProcessId, ProcessTable, RuntimeCandidate

NOW = 1_800_000_000_000
RUN_STARTED = NOW - 60_000
RUNTIME = ProcessId(100, RUN_STARTED - 1_000)


def _look(
    *,
    tasks: dict[tuple[str, str], ProcessId] | None = None,
    runtimes: list[RuntimeCandidate] | None = None,
    taken_at: int = NOW,
    available: bool = True,
) -> ProcessTable:
    tasks = tasks or {}
    runtimes = runtimes or []
    table = ProcessTable(available=available, taken_at=taken_at)
    table.runtimes = runtimes
    table.processes = {c.process for c in runtimes} | set(tasks.values())
    table.tasks = set(tasks)
    for (run_id, _), parent in tasks.items():
        table.task_parents.setdefault(run_id, set()).add(parent)
        table.processes.add(parent)
    return table


def _run(run_id: str = "1", script: str = "flow.py", last_seen_at: int = NOW) -> RunFacts:
    return RunFacts(
        flow_id="Flow",
        run_id=run_id,
        user="u",
        created_at=RUN_STARTED,
        tags=[],
        system_tags=[],
        graph={"file": script},
        last_seen_at=last_seen_at,
    )


def _task(task_id: str, last_seen_at: int) -> TaskFacts:
    return TaskFacts("step", task_id, RUN_STARTED, [], None, None, last_seen_at)


def _alive(liveness: LocalLiveness, run_id: str = "1", script: str = "flow.py") -> bool:
    return liveness.run_alive(_run(run_id, script), RUN_STARTED)


def _task_alive(liveness: LocalLiveness, task_id: str, last_seen_at: int) -> bool:
    return liveness.task_alive(_run(), _task(task_id, last_seen_at))


def test_a_run_with_a_task_process_is_alive() -> None:
    liveness = LocalLiveness()
    liveness.observe(_look(tasks={("1", "3"): RUNTIME}))
    assert _alive(liveness)
    assert _task_alive(liveness, "3", last_seen_at=NOW - 60_000)
    assert not _task_alive(liveness, "4", last_seen_at=NOW - 60_000)


def test_a_task_whose_files_changed_after_the_look_is_alive_until_the_next_look() -> None:
    liveness = LocalLiveness()
    liveness.observe(_look())
    assert _task_alive(liveness, "3", last_seen_at=NOW + 5)
    assert not _task_alive(liveness, "3", last_seen_at=NOW - 1_000)


def test_a_remembered_runtime_decides_its_run_whatever_else_runs() -> None:
    liveness = LocalLiveness()
    candidate = RuntimeCandidate(RUNTIME, "flow.py")
    liveness.observe(_look(tasks={("1", "3"): RUNTIME}, runtimes=[candidate]))
    # Between tasks: no task process, the runtime still there.
    liveness.observe(_look(runtimes=[candidate], taken_at=NOW + 1))
    assert _alive(liveness)
    # The runtime is gone; an older, unclaimed `run` of the same file does not save it.
    other = RuntimeCandidate(ProcessId(200, RUN_STARTED - 5_000), "flow.py")
    liveness.observe(_look(runtimes=[other], taken_at=NOW + 2))
    assert not _alive(liveness)


def test_a_reused_pid_is_not_the_runtime() -> None:
    liveness = LocalLiveness()
    liveness.observe(_look(tasks={("1", "3"): RUNTIME}))
    reused = RuntimeCandidate(ProcessId(RUNTIME.pid, NOW), "flow.py")
    liveness.observe(_look(runtimes=[reused], taken_at=NOW + 1))
    assert not _alive(liveness)


def test_an_unseen_runtime_is_any_unclaimed_older_run_of_the_same_flow_file() -> None:
    older = RuntimeCandidate(ProcessId(300, RUN_STARTED - 2_000), "flow.py")
    younger = RuntimeCandidate(ProcessId(301, RUN_STARTED + 10_000), "flow.py")
    elsewhere = RuntimeCandidate(ProcessId(302, RUN_STARTED - 2_000), "other_flow.py")
    for runtimes, alive in [
        ([older], True),
        ([younger], False),  # started after the run: it runs a later run
        ([elsewhere], False),
        ([], False),
    ]:
        liveness = LocalLiveness()
        liveness.observe(_look(runtimes=runtimes))
        assert _alive(liveness) is alive, runtimes


def test_a_runtime_known_to_run_another_run_is_not_this_runs() -> None:
    shared = RuntimeCandidate(RUNTIME, "flow.py")
    liveness = LocalLiveness()
    liveness.observe(_look(tasks={("2", "7"): RUNTIME}, runtimes=[shared]))
    assert _alive(liveness, "2")
    assert not _alive(liveness, "1")


def test_a_run_recorded_after_the_look_is_alive_until_the_next_look() -> None:
    liveness = LocalLiveness()
    liveness.observe(_look(taken_at=RUN_STARTED - 1))
    assert _alive(liveness)
    liveness.observe(_look(taken_at=RUN_STARTED))
    assert _alive(liveness)
    liveness.observe(_look(taken_at=RUN_STARTED + 1))
    assert not _alive(liveness)


def test_without_proc_only_file_activity_counts_with_a_long_grace() -> None:
    liveness = LocalLiveness()
    liveness.observe(_look(available=False))
    assert liveness.run_alive(_run(last_seen_at=NOW - 60_000), RUN_STARTED)
    assert not liveness.run_alive(_run(last_seen_at=NOW - 3_600_000), RUN_STARTED)
    assert _task_alive(liveness, "3", last_seen_at=NOW - 60_000)


def test_a_runtime_writing_to_another_datastore_runs_none_of_its_runs() -> None:
    # Two projects with a flow file of the same name: one's runtime must not keep the
    # other's dead run alive. A runtime whose datastore could not be read still may.
    ours, theirs = "/work/project/.metaflow", "/work/other/.metaflow"
    for datastore, alive in [(ours, True), (theirs, False), (None, True)]:
        candidate = RuntimeCandidate(ProcessId(300, RUN_STARTED - 2_000), "flow.py", datastore)
        liveness = LocalLiveness(datastore=Path(ours))
        liveness.observe(_look(runtimes=[candidate]))
        assert _alive(liveness) is alive, datastore
