"""A @parallel gang of 3 on the local runtime: one control task and two workers."""

from __future__ import annotations

from metaflow import FlowSpec, current, parallel, step
from metaflow.datastore.inputs import Inputs


class ParallelFlow(FlowSpec):
    """start launches `train` with num_parallel=3; `gather` joins the gang."""

    @step
    def start(self) -> None:
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self) -> None:
        self.node = current.parallel.node_index
        print(f"node {current.parallel.node_index} of {current.parallel.num_nodes}")
        self.next(self.gather)

    @step
    def gather(self, inputs: Inputs) -> None:
        self.nodes = sorted(task.node for task in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"nodes={self.nodes}")


if __name__ == "__main__":
    ParallelFlow()
