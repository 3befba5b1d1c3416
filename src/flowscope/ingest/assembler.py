"""Facts to records: the one place where what a source saw becomes what the store keeps.

Every status comes from `flowscope.status`; this module supplies its inputs (whether a
later attempt started, whether the process may still run) and fills in what follows
from the verdicts: when a dead attempt ended, when a run finished, whether a run is over
for good (sealed), the order of the steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from flowscope.ingest.facts import RunFacts, TaskFacts
from flowscope.status import (
    Reason,
    Status,
    Verdict,
    attempts_allowed,
    decide_attempt,
    decide_run,
    decide_task,
    is_caught,
    rollup,
)
from flowscope.store.records import (
    AttemptRecord,
    RunRecord,
    RunSummary,
    StepRecord,
    StepSummary,
    TaskRecord,
)

# A finished run is sealed (a source may skip it cheaply) once nothing moved in it for
# this long.
SEAL_AFTER_MS = 60_000


class Liveness(Protocol):
    """Whether the process behind a run or a task may still be running: the process table
    for local runs, heartbeats for runs of a metadata service."""

    def task_alive(self, run: RunFacts, task: TaskFacts) -> bool: ...

    def run_alive(self, run: RunFacts, started_at: int | None) -> bool: ...


def assemble_task(run: RunFacts, task: TaskFacts, liveness: Liveness) -> TaskRecord:
    alive = liveness.task_alive(run, task)
    facts = task.attempts
    verdicts = [
        decide_attempt(f, superseded=i < len(facts) - 1, alive=alive) for i, f in enumerate(facts)
    ]
    verdict = decide_task(verdicts, task.succeeded)
    attempts = []
    for i, (f, v) in enumerate(zip(facts, verdicts, strict=True)):
        finished = f.finished_at
        if finished is None and v.status is Status.FAILED:
            # A dead attempt never recorded its end: it ended when the next began, or at
            # its last sign of life.
            finished = facts[i + 1].started_at if i + 1 < len(facts) else task.last_seen_at
        attempts.append(
            AttemptRecord(
                attempt=f.attempt,
                status=v.status.value,
                status_reason=_value(v.reason),
                started_at=f.started_at,
                finished_at=finished,
            )
        )
    over = verdict.status in (Status.COMPLETED, Status.FAILED)
    return TaskRecord(
        step_name=task.step_name,
        task_id=task.task_id,
        status=verdict.status.value,
        status_reason=_value(verdict.reason),
        caught=is_caught(verdicts[-1] if verdicts else None, task.succeeded),
        attempt=facts[-1].attempt if facts else 0,
        # As the client's Task.created_at: when the runtime registered the task.
        started_at=task.created_at or (attempts[0].started_at if attempts else None),
        finished_at=attempts[-1].finished_at if attempts and over else None,
        foreach_label=task.foreach_label,
        fingerprint=task.fingerprint,
        attempts=attempts,
        unreadable=task.unreadable,
    )


def assemble_run(
    run: RunFacts,
    summary: RunSummary,
    liveness: Liveness,
    now_ms: int,
    seal_when_ended: bool = False,
) -> tuple[RunRecord, list[StepRecord]]:
    """The run and its steps, from its facts and the store's summary of all its tasks
    (the tasks written in this pass included).

    `seal_when_ended`: the source's fingerprint of a run sees every later change (a
    database's rows), so a run its end task decided is sealed at once; otherwise a run is
    sealed once nothing moved in it for SEAL_AFTER_MS (files may still settle)."""
    # The run's true start: the earlier of its record and its first task. Not the client's
    # Run.created_at alone: editing a run's tags rewrites its local `_self.json`, ts_epoch
    # included, which would make the run start after it ended (issue 9).
    started_at = _earliest(run.created_at, summary.first_started_at)
    alive = liveness.run_alive(run, started_at)
    any_running = any(step.counts.get("running", 0) for step in summary.steps.values())
    end = summary.steps.get(run.end_step)
    verdict = decide_run(
        _end_verdict(end),
        any_running,
        summary.failure_reasons,
        alive,
        failed_for_good=_failed_for_good(run.graph, summary),
    )
    over = verdict.status is not Status.RUNNING
    last_seen = run.last_seen_at or 0
    finished_at = None
    if over:
        if _decided(end):
            assert end is not None
            finished_at = end.finished_at
        finished_at = finished_at or summary.last_finished_at or run.last_seen_at
    record = RunRecord(
        flow_id=run.flow_id,
        run_id=run.run_id,
        user=run.user,
        status=verdict.status.value,
        status_reason=_value(verdict.reason),
        started_at=started_at,
        finished_at=finished_at,
        tags=index_tags(run.tags, run.system_tags)[0],
        system_tags=run.system_tags,
        project=_tag_value(run.system_tags, "project:"),
        branch=_tag_value(run.system_tags, "project_branch:"),
        parameters=run.parameters,
        graph=run.graph,
        origin_run_id=run.origin_run_id,
        ds_type=run.ds_type,
        ds_root=run.ds_root,
        first_failure_step=summary.first_failure[0] if summary.first_failure else None,
        first_failure_task=summary.first_failure[1] if summary.first_failure else None,
        task_count=summary.task_count,
        caught_count=summary.caught_count,
        current_steps=[] if over else _current_steps(run.graph, summary),
        unreadable_tasks=summary.unreadable_tasks,
        last_activity_at=run.last_seen_at,
        fingerprint=run.fingerprint,
        sealed=over
        and (
            (seal_when_ended and (_decided(end) or verdict.reason is Reason.ERROR))
            # A sign of life from the future (the clock was set back since) says
            # nothing about now: else the run would stay unsealed until the clock caught up.
            or (not alive and not -SEAL_AFTER_MS < now_ms - last_seen <= SEAL_AFTER_MS)
        ),
    )
    return record, assemble_steps(run.graph, summary, over)


def index_tags(tags: list[str], system_tags: list[str]) -> tuple[list[str], list[str]]:
    """(user tags, system tags) as the index keeps them: a tag that is also a system tag
    is a system tag, as the client's `Run.user_tags` has it."""
    return [t for t in tags if t not in system_tags], system_tags


def summarize(tasks: Sequence[TaskRecord]) -> RunSummary:
    """The summary of a run whose every task is in hand (a source that read it whole),
    computed as `RunWriter.summarize` computes it in SQL for a run read in parts."""
    steps: dict[str, StepSummary] = {}
    reasons: set[str] = set()
    first_failure: tuple[int, str, str] | None = None
    last_finished: int | None = None
    for task in tasks:
        step = steps.get(task.step_name)
        if step is None:
            step = steps[task.step_name] = StepSummary(
                task.step_name,
                {"pending": 0, "running": 0, "completed": 0, "failed": 0},
                None,
                None,
            )
        step.counts[task.status] = step.counts.get(task.status, 0) + 1
        step.caught += bool(task.caught)
        if task.started_at is not None:
            step.started_at = _earliest(step.started_at, task.started_at)
        if task.finished_at is not None:
            step.finished_at = max(step.finished_at or task.finished_at, task.finished_at)
            last_finished = max(last_finished or task.finished_at, task.finished_at)
        if task.status == Status.FAILED.value and task.status_reason:
            reasons.add(task.status_reason)
            step.failure_reasons.add(task.status_reason)
        if (
            task.status == Status.FAILED.value
            and task.status_reason == Reason.ERROR.value
            and not task.caught  # @catch's failures let the run go on
        ):
            step.max_error_attempt = max(step.max_error_attempt or 0, task.attempt)
        if (
            task.status == Status.FAILED.value
            and task.finished_at is not None
            and (first_failure is None or task.finished_at < first_failure[0])
        ):
            first_failure = (task.finished_at, task.step_name, task.task_id)
    return RunSummary(
        steps=steps,
        task_count=len(tasks),
        failure_reasons=reasons,
        first_failure=first_failure[1:] if first_failure else None,
        last_finished_at=last_finished,
        unreadable_tasks=sum(1 for task in tasks if task.unreadable),
    )


def assemble_steps(
    graph: dict[str, Any] | None, summary: RunSummary, run_over: bool
) -> list[StepRecord]:
    graph_steps: dict[str, Any] = (graph or {}).get("steps") or {}
    order = graph_order(graph) if graph else []
    names = order + sorted(n for n in summary.steps if n not in order)
    records = []
    for position, name in enumerate(names):
        step = summary.steps.get(name)
        counts = step.counts if step else {}
        status = rollup([s for s, n in counts.items() if n], run_over)
        info = graph_steps.get(name) or {}
        records.append(
            StepRecord(
                step_name=name,
                position=position,
                type=info.get("type") if isinstance(info, dict) else None,
                status=status.value,
                started_at=step.started_at if step else None,
                finished_at=step.finished_at
                if step and status in (Status.COMPLETED, Status.FAILED)
                else None,
                pending=counts.get("pending", 0),
                running=counts.get("running", 0),
                completed=counts.get("completed", 0),
                failed=counts.get("failed", 0),
            )
        )
    return records


def graph_order(graph: dict[str, Any]) -> list[str]:
    """Steps in the order a reader follows the flow: breadth-first from the start step."""
    steps: dict[str, Any] = graph.get("steps") or {}
    start = graph.get("start_step") or "start"
    order: list[str] = []
    queue = [start] if start in steps else []
    while queue:
        name = queue.pop(0)
        if name in order:
            continue
        order.append(name)
        nxt = steps.get(name, {}).get("next") or []
        queue.extend(n for n in nxt if n in steps and n not in order)
    order.extend(sorted(n for n in steps if n not in order))
    return order


def _current_steps(graph: dict[str, Any] | None, summary: RunSummary) -> list[str]:
    """The steps a running run is at: those with a task running, else those with a task
    waiting to start, in graph order."""
    order = graph_order(graph) if graph else []
    names = order + sorted(n for n in summary.steps if n not in order)
    for state in ("running", "pending"):
        found = [n for n in names if n in summary.steps and summary.steps[n].counts.get(state, 0)]
        if found:
            return found
    return []


def _failed_for_good(graph: dict[str, Any] | None, summary: RunSummary) -> bool:
    """Some task's code raised on the last attempt its step allows (see
    status.attempts_allowed). Unknown without the graph: then liveness decides."""
    if graph is None:
        return False
    steps = graph.get("steps") or {}
    for name, step in summary.steps.items():
        if step.max_error_attempt is None:
            continue
        info = steps.get(name) if isinstance(steps, dict) else None
        if not isinstance(info, dict):
            continue
        decorators = [
            (str(d.get("name")), d.get("attributes") or {})
            for d in info.get("decorators") or []
            if isinstance(d, dict)
        ]
        if step.max_error_attempt + 1 >= attempts_allowed(decorators):
            return True
    return False


def _decided(end: StepSummary | None) -> bool:
    return end is not None and bool(end.counts.get("completed", 0) + end.counts.get("failed", 0))


def _end_verdict(end: StepSummary | None) -> Verdict | None:
    """The end task's verdict, from its step's counts (the end step has one task)."""
    if end is None:
        return None
    if end.counts.get("failed", 0):
        return Verdict(Status.FAILED, _strongest(end.failure_reasons))
    if end.counts.get("completed", 0):
        return Verdict(Status.COMPLETED)
    return Verdict(Status.RUNNING if end.counts.get("running", 0) else Status.PENDING)


def _strongest(reasons: Sequence[str] | set[str]) -> Reason | None:
    for reason in (Reason.ERROR, Reason.KILLED, Reason.LOST):
        if reason in reasons:
            return reason
    return None


def _earliest(*times: int | None) -> int | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _tag_value(tags: list[str], prefix: str) -> str | None:
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


def _value(reason: Reason | None) -> str | None:
    return reason.value if reason is not None else None
