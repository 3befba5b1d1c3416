"""A run whose user tags are edited with the client after it ends (see fixtures_runs)."""

from __future__ import annotations

from metaflow import FlowSpec, step


class TagsFlow(FlowSpec):
    """Two steps; the interesting part is the tags."""

    @step
    def start(self) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        print("tags are edited after this run ends")


if __name__ == "__main__":
    TagsFlow()
