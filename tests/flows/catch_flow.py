"""A task whose exception @catch swallows: the task is not successful, the run is."""

from __future__ import annotations

from metaflow import FlowSpec, catch, step


def fail_on_purpose() -> None:
    # Raising through a helper keeps `self.next()` the last statement of the step,
    # which Metaflow's graph parser requires.
    raise ValueError("risky step failed on purpose")


class CatchFlow(FlowSpec):
    """`risky` always raises; @catch stores the exception and the run goes on."""

    @step
    def start(self) -> None:
        self.next(self.risky)

    @catch(var="failure")
    @step
    def risky(self) -> None:
        fail_on_purpose()
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"risky failed and was caught: {self.failure is not None}")


if __name__ == "__main__":
    CatchFlow()
