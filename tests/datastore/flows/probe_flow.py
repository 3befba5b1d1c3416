"""A flow that exercises what flowscope's datastore readers must handle."""

from __future__ import annotations

import datetime
import sys

from metaflow import FlowSpec, card, current, retry, step


class ProbeFlow(FlowSpec):
    @card
    @card(type="blank", id="notes")
    @step
    def start(self) -> None:
        import numpy as np
        import pandas as pd

        print("héllo wörld ✓ \x1b[31mred\x1b[0m 日本語")
        for i in range(300):
            print(f"line {i:03d}")
        print("to stderr", file=sys.stderr)
        self.an_int = 42
        self.a_dict = {"a": 1, "b": [1, 2, 3], "c": {"d": None}}
        self.a_list = list(range(20))
        self.an_array = np.arange(12, dtype=np.float64).reshape(3, 4)
        self.a_frame = pd.DataFrame(
            {
                "i": [1, 2, 3],
                "f": [0.5, 1.5, float("nan")],
                "s": ["x", "y", "z"],
                "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                "c": pd.Categorical(["u", "v", "u"]),
                "b": [True, False, True],
            }
        )
        self.a_datetime = datetime.datetime(2024, 5, 6, 7, 8, 9)
        self._private_thing = "hidden"
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self) -> None:
        attempt = current.retry_count
        print(f"flaky attempt {attempt} stdout")
        print(f"flaky attempt {attempt} stderr", file=sys.stderr)
        self.attempt_seen = attempt
        if attempt == 0:
            self.only_in_attempt_0 = "x"
            raise RuntimeError("first attempt fails on purpose")
        self.only_in_attempt_1 = "y"
        self.next(self.end)

    @step
    def end(self) -> None:
        print("done")


if __name__ == "__main__":
    ProbeFlow()
