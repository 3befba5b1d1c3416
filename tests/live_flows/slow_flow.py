"""A flow that takes its time: sleeps and prints in a loop, over a foreach."""

from __future__ import annotations

import os
import time

from metaflow import FlowSpec, step

SLEEP_S = float(os.environ.get("SLOW_FLOW_SLEEP_S", "0.2"))
WIDTH = int(os.environ.get("SLOW_FLOW_WIDTH", "3"))
FAIL = os.environ.get("SLOW_FLOW_FAIL") == "1"


class SlowFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.items = list(range(WIDTH))
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        for i in range(5):
            print(f"item {self.input} tick {i}", flush=True)
            time.sleep(SLEEP_S)
        if FAIL:
            raise RuntimeError(f"item {self.input} failed on purpose")
        self.next(self.join)

    @step
    def join(self, inputs: object) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        print("done")


if __name__ == "__main__":
    SlowFlow()
