"""A run that fails in a middle step, and can then be resumed into success.

`middle` raises unless the environment variable FLOWSCOPE_FIXTURE_HEAL is "1", so the
first run fails and `resume` with that variable set succeeds."""

from __future__ import annotations

import os

from metaflow import FlowSpec, step

HEAL_ENV = "FLOWSCOPE_FIXTURE_HEAL"


class FailingFlow(FlowSpec):
    """start, middle (fails unless healed), end."""

    @step
    def start(self) -> None:
        self.planned = "middle"
        self.next(self.middle)

    @step
    def middle(self) -> None:
        print("middle is about to decide")
        if os.environ.get(HEAL_ENV) != "1":
            raise RuntimeError("middle step failed on purpose")
        self.healed = True
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"healed={self.healed}")


if __name__ == "__main__":
    FailingFlow()
