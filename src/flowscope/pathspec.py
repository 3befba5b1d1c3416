"""A Metaflow pathspec, `Flow/run/step/task`, as one typed value instead of loose strings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pathspec:
    flow: str
    run: str | None = None
    step: str | None = None
    task: str | None = None

    @classmethod
    def parse(cls, text: str) -> Pathspec:
        parts = text.strip("/").split("/")
        if not 1 <= len(parts) <= 4 or not all(parts):
            raise ValueError(f"not a pathspec: {text!r}")
        return cls(*parts)

    @classmethod
    def of_task(cls, flow: str, run: str, step: str, task: str) -> Pathspec:
        return cls(flow, run, step, task)

    def __str__(self) -> str:
        return "/".join(p for p in (self.flow, self.run, self.step, self.task) if p is not None)

    @property
    def run_spec(self) -> Pathspec:
        return Pathspec(self.flow, self.run)

    def require_task(self) -> tuple[str, str, str, str]:
        """(flow, run, step, task), for a pathspec that must name a task."""
        if self.run is None or self.step is None or self.task is None:
            raise ValueError(f"not a task pathspec: {self}")
        return self.flow, self.run, self.step, self.task
