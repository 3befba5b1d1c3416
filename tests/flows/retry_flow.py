"""A task that fails on its first attempt and succeeds on the retry."""

from __future__ import annotations

from metaflow import FlowSpec, current, retry, step


class RetryFlow(FlowSpec):
    """`flaky` raises on attempt 0; @retry runs attempt 1, which succeeds."""

    @step
    def start(self) -> None:
        self.next(self.flaky)

    # No pause between attempts: the default of 2 minutes would stall the fixtures.
    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self) -> None:
        print(f"attempt {current.retry_count}")
        if current.retry_count == 0:
            raise RuntimeError("flaky failure on the first attempt")
        self.recovered_on = current.retry_count
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"recovered on attempt {self.recovered_on}")


if __name__ == "__main__":
    RetryFlow()
