"""A switch that loops back to its own step until a counter reaches `rounds`: one step,
several tasks, and a cyclic graph. Metaflow 2.19 only allows a switch to loop to itself
(the linter rejects any other cycle)."""

from __future__ import annotations

from metaflow import FlowSpec, Parameter, step


class RecursiveSwitchFlow(FlowSpec):
    """`count_up` runs once per round, then goes on to `end`."""

    rounds = Parameter("rounds", type=int, default=3, help="how many times count_up runs")

    @step
    def start(self) -> None:
        self.counter = 0
        self.next(self.count_up)

    @step
    def count_up(self) -> None:
        self.counter += 1
        print(f"round {self.counter} of {self.rounds}")
        self.decision = "again" if self.counter < self.rounds else "done"
        self.next({"again": self.count_up, "done": self.end}, condition="decision")

    @step
    def end(self) -> None:
        print(f"counted to {self.counter}")


if __name__ == "__main__":
    RecursiveSwitchFlow()
