"""Decorators and Metaflow's own exceptions: @timeout cuts a step short on every attempt.

`slow` sleeps far past its @timeout. Attempt 0 dies with Metaflow's TimeoutException and is
retried; attempt 1 dies the same way and @catch keeps it in `timed_out`, so the run ends.
`start` carries the decorators that only describe where and how a step runs.
"""

from __future__ import annotations

import os
import time

from metaflow import FlowSpec, card, catch, environment, resources, retry, step, timeout


def sleep_past_the_timeout() -> None:
    # A helper of the flow file, so that the traceback has a user frame below the step.
    time.sleep(60)


class TimeoutFlow(FlowSpec):
    """start (resources, environment, card), slow (timeout, retry, catch), end."""

    @card
    @resources(cpu=1, memory=1024)
    @environment(vars={"FLOWSCOPE_GREETING": "hello"})
    @step
    def start(self) -> None:
        self.greeting = os.environ.get("FLOWSCOPE_GREETING")
        self.next(self.slow)

    @catch(var="timed_out")
    @retry(times=1, minutes_between_retries=0)
    @timeout(seconds=2)
    @step
    def slow(self) -> None:
        sleep_past_the_timeout()
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"slow timed out: {self.timed_out is not None}")


if __name__ == "__main__":
    TimeoutFlow()
