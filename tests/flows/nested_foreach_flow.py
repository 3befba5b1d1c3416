"""A foreach inside a foreach: 2 letters x 2 numbers = 4 inner tasks."""

from __future__ import annotations

from metaflow import FlowSpec, step
from metaflow.datastore.inputs import Inputs


class NestedForeachFlow(FlowSpec):
    """letters fan out, each letter fans out over numbers, then two joins."""

    @step
    def start(self) -> None:
        self.letters = ["a", "b"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self) -> None:
        self.letter = self.input
        self.numbers = [1, 2]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self) -> None:
        self.pair = f"{self.letter}{self.input}"
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs: Inputs) -> None:
        self.pairs = [task.pair for task in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs: Inputs) -> None:
        self.pairs = sorted(pair for task in inputs for pair in task.pairs)
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"pairs={self.pairs}")


if __name__ == "__main__":
    NestedForeachFlow()
