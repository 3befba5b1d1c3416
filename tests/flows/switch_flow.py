"""A conditional step: `self.next({...}, condition=...)` takes one of two paths, so the
step on the other path never runs."""

from __future__ import annotations

from metaflow import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    """start goes to `big` or `small` depending on `size`."""

    size = Parameter("size", type=int, default=7, help="values above 5 are big")

    @step
    def start(self) -> None:
        self.kind = "big" if self.size > 5 else "small"
        self.next({"big": self.big, "small": self.small}, condition="kind")

    @step
    def big(self) -> None:
        self.message = f"{self.size} is big"
        self.next(self.end)

    @step
    def small(self) -> None:
        self.message = f"{self.size} is small"
        self.next(self.end)

    @step
    def end(self) -> None:
        print(self.message)


if __name__ == "__main__":
    SwitchFlow()
