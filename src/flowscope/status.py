"""The one place statuses are decided, for every source.

Inputs are plain facts a source gathered (what metadata says, whether a process is still
alive); outputs are the statuses the API shows. See metaflow-facts.md section 3 for the
rules the existing Metaflow UI follows; flowscope follows them and adds one thing the
client cannot know: a run whose process died is failed, not running forever.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

# Metaflow's own limits (metaflow_config.MAX_ATTEMPTS, catch's NUM_FALLBACK_RETRIES).
MAX_ATTEMPTS = 6
CATCH_FALLBACK_ATTEMPTS = 3


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    # Steps only: the run is over and the step never ran (a switch's untaken branch, the
    # join and end of a run that failed before them). Not "pending": nothing will run it.
    SKIPPED = "skipped"


class Reason(StrEnum):
    ERROR = "error"  # the user's code raised (or Metaflow reported the attempt not ok)
    KILLED = "killed"  # the process was killed or the user stopped the run
    LOST = "lost"  # the process vanished without a word (crash, reboot)


@dataclass(frozen=True)
class AttemptFacts:
    attempt: int
    started_at: int | None
    finished_at: int | None
    ok: bool | None  # attempt_ok metadata (or _task_ok), None while undecided
    killed: bool = False  # the runtime recorded that it killed this attempt


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: Reason | None = None


def decide_attempt(facts: AttemptFacts, superseded: bool, alive: bool) -> Verdict:
    """An attempt's status.

    `superseded`: a later attempt of the same task started, so this one is over.
    `alive`: the process running it may still be running (the source's liveness check).
    """
    if facts.ok is True:
        return Verdict(Status.COMPLETED)
    if facts.ok is False:
        return Verdict(Status.FAILED, Reason.KILLED if facts.killed else Reason.ERROR)
    if superseded or not alive:
        return Verdict(Status.FAILED, Reason.KILLED if facts.killed else Reason.LOST)
    return Verdict(Status.RUNNING)


def decide_task(attempt_verdicts: Sequence[Verdict], succeeded: bool | None) -> Verdict:
    """A task's status is its latest attempt's, except that a caught exception fails it.

    `succeeded` is the task's `_success` artifact: False when `@catch` swallowed an
    exception although the attempt itself ended fine (the client's `Task.successful`).
    """
    if not attempt_verdicts:
        return Verdict(Status.PENDING)
    latest = attempt_verdicts[-1]
    if latest.status is Status.COMPLETED and succeeded is False:
        return Verdict(Status.FAILED, Reason.ERROR)
    return latest


def is_caught(latest_attempt: Verdict | None, succeeded: bool | None) -> bool:
    return (
        latest_attempt is not None
        and latest_attempt.status is Status.COMPLETED
        and succeeded is False
    )


def decide_run(
    end_task: Verdict | None,
    any_running: bool,
    failure_reasons: Collection[str],
    alive: bool,
    failed_for_good: bool = False,
) -> Verdict:
    """A run is decided by its end task; without one, by whether it is still alive.

    A run with a running task, or whose process lives, is running; a run that is over
    without finishing its end task failed: with `error` when some task's code raised,
    else with the reason its tasks died of (killed, or lost when nothing says).
    `failed_for_good`: a task's code raised on its last allowed attempt, after which
    Metaflow's runtime stops the run, so the run failed whatever its heartbeat says.
    """
    if end_task is not None and end_task.status in (Status.COMPLETED, Status.FAILED):
        return Verdict(end_task.status, end_task.reason)
    if failed_for_good:
        return Verdict(Status.FAILED, Reason.ERROR)
    if alive or any_running:
        return Verdict(Status.RUNNING)
    for reason in (Reason.ERROR, Reason.KILLED):
        if reason in failure_reasons:
            return Verdict(Status.FAILED, reason)
    return Verdict(Status.FAILED, Reason.LOST)


def attempts_allowed(decorators: Sequence[tuple[str, dict[str, object]]]) -> int:
    """How many attempts Metaflow's runtime gives a task of a step with these decorators
    (name, attributes): one, plus @retry's `times` (3 by default), plus @catch's fallback
    attempts, at most MAX_ATTEMPTS (metaflow_config: 6)."""
    user_code, fallback = 0, 0
    for name, attributes in decorators:
        if name == "retry":
            try:
                user_code = max(user_code, int(str(attributes.get("times", 3))))
            except ValueError:
                user_code = max(user_code, 3)
        elif name == "catch":
            fallback = max(fallback, CATCH_FALLBACK_ATTEMPTS)
    return min(1 + user_code + fallback, MAX_ATTEMPTS)


def rollup(statuses: Collection[str], run_over: bool) -> Status:
    """A step's status from its tasks' statuses.

    Once the run is over, a step that did not complete every task failed, even if some
    of its tasks never got to start; a step with no task at all never ran: skipped.
    """
    present = set(statuses)
    if Status.RUNNING in present:
        return Status.RUNNING
    if Status.FAILED in present:
        return Status.FAILED
    if present and present == {Status.COMPLETED}:
        return Status.COMPLETED
    if run_over:
        return Status.FAILED if present else Status.SKIPPED
    return Status.RUNNING if Status.COMPLETED in present else Status.PENDING
