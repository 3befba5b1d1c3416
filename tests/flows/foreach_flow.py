"""A foreach over four floats, so tasks carry labels like `items[2]=0.25`."""

from __future__ import annotations

from metaflow import FlowSpec, step
from metaflow.datastore.inputs import Inputs

ITEMS = [1.0, 0.5, 0.25, 0.125]


class ForeachFlow(FlowSpec):
    """start fans out over `items`; join collects the squares."""

    @step
    def start(self) -> None:
        self.items = ITEMS
        self.next(self.square, foreach="items")

    @step
    def square(self) -> None:
        self.result = self.input**2
        print(f"{self.input} squared is {self.result}")
        self.next(self.join)

    @step
    def join(self, inputs: Inputs) -> None:
        self.results = [task.result for task in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"results={self.results}")


if __name__ == "__main__":
    ForeachFlow()
