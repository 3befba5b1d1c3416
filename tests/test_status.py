"""The status rules, one decision at a time (flowscope.status is pure)."""

from __future__ import annotations

from flowscope.status import (
    AttemptFacts,
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


def _facts(ok: bool | None, killed: bool = False) -> AttemptFacts:
    return AttemptFacts(attempt=0, started_at=1, finished_at=None, ok=ok, killed=killed)


def test_attempt_ok_decides_completed_or_failed() -> None:
    assert decide_attempt(_facts(True), superseded=False, alive=False) == Verdict(Status.COMPLETED)
    assert decide_attempt(_facts(False), False, True) == Verdict(Status.FAILED, Reason.ERROR)


def test_an_undecided_attempt_runs_only_while_alive() -> None:
    assert decide_attempt(_facts(None), False, alive=True).status is Status.RUNNING
    assert decide_attempt(_facts(None), False, alive=False) == Verdict(Status.FAILED, Reason.LOST)
    assert decide_attempt(_facts(None, killed=True), False, False).reason is Reason.KILLED


def test_a_superseded_attempt_is_over_even_without_an_outcome() -> None:
    assert decide_attempt(_facts(None), superseded=True, alive=True).status is Status.FAILED


def test_a_caught_exception_fails_the_task_but_not_the_attempt() -> None:
    done = Verdict(Status.COMPLETED)
    assert decide_task([done], succeeded=False) == Verdict(Status.FAILED, Reason.ERROR)
    assert is_caught(done, succeeded=False)
    assert not is_caught(done, succeeded=True)
    assert decide_task([], succeeded=None).status is Status.PENDING


def test_a_retried_task_takes_its_latest_attempt() -> None:
    attempts = [Verdict(Status.FAILED, Reason.ERROR), Verdict(Status.COMPLETED)]
    assert decide_task(attempts, succeeded=True).status is Status.COMPLETED


def test_run_follows_its_end_task_else_liveness() -> None:
    assert (
        decide_run(Verdict(Status.COMPLETED), False, set(), alive=False).status is Status.COMPLETED
    )
    assert decide_run(None, False, set(), alive=True).status is Status.RUNNING
    assert decide_run(None, True, set(), alive=False).status is Status.RUNNING
    assert decide_run(None, False, {"error"}, alive=False) == Verdict(Status.FAILED, Reason.ERROR)
    assert decide_run(None, False, {"killed"}, False) == Verdict(Status.FAILED, Reason.KILLED)
    assert decide_run(None, False, set(), alive=False) == Verdict(Status.FAILED, Reason.LOST)


def test_step_rollup() -> None:
    assert rollup(["completed"], run_over=False) is Status.COMPLETED
    assert rollup(["completed", "running"], run_over=False) is Status.RUNNING
    assert rollup(["completed", "pending"], run_over=False) is Status.RUNNING
    assert rollup(["completed", "pending"], run_over=True) is Status.FAILED
    assert rollup(["failed", "completed"], run_over=False) is Status.FAILED
    assert rollup([], run_over=False) is Status.PENDING
    # Over without a single task: the step never ran, and nothing will run it now.
    assert rollup([], run_over=True) is Status.SKIPPED


def test_attempts_allowed_follow_metaflows_retry_and_catch_budgets() -> None:
    assert attempts_allowed([]) == 1
    assert attempts_allowed([("retry", {"times": 2, "minutes_between_retries": 0})]) == 3
    assert attempts_allowed([("retry", {})]) == 4  # @retry's default: 3 retries
    assert attempts_allowed([("catch", {"var": "failure"})]) == 4
    assert attempts_allowed([("retry", {"times": 4}), ("catch", {})]) == 6  # MAX_ATTEMPTS


def test_a_task_that_failed_for_good_fails_the_run_even_while_it_beats() -> None:
    failed = decide_run(
        None, any_running=True, failure_reasons={"error"}, alive=True, failed_for_good=True
    )
    assert failed == Verdict(Status.FAILED, Reason.ERROR)
    # The end task still decides first.
    done = decide_run(Verdict(Status.COMPLETED), False, {"error"}, False, failed_for_good=True)
    assert done.status is Status.COMPLETED
