"""A static split into two branches and their join."""

from __future__ import annotations

from metaflow import FlowSpec, step
from metaflow.datastore.inputs import Inputs


class BranchFlow(FlowSpec):
    """start splits into left and right, which join again."""

    @step
    def start(self) -> None:
        self.seed = 10
        self.next(self.left, self.right)

    @step
    def left(self) -> None:
        self.value = self.seed - 1
        self.next(self.join)

    @step
    def right(self) -> None:
        self.value = self.seed + 1
        self.next(self.join)

    @step
    def join(self, inputs: Inputs) -> None:
        self.values = sorted(branch.value for branch in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"values={self.values}")


if __name__ == "__main__":
    BranchFlow()
