"""What a generated run is meant to be: flows, runs, tasks and attempts as plain data.

The writer turns a plan into files; the tests compare what the Metaflow client and
flowscope read back with the same plan, so the plan also states the intended outcome
(`Task.successful`, `Run.status`, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bench.layout import METAFLOW_VERSION, PYTHON_VERSION, Frame

# Decorator records as `_graph_info` holds them for the two that change outcomes.
RETRY_TIMES = 2


@dataclass(frozen=True)
class Step:
    name: str
    type: str  # start, linear, split-static, split-foreach, join, end
    next: tuple[str, ...] = ()
    doc: str = ""
    foreach_artifact: str | None = None
    matching_join: str | None = None
    decorators: tuple[str, ...] = ()  # "retry", "catch"


@dataclass(frozen=True)
class Flow:
    name: str
    doc: str
    steps: tuple[Step, ...]
    structure: tuple[Any, ...]  # `graph_structure`, e.g. ("start", (("a",), ("b",)), "join", "end")
    parameters: tuple[str, ...] = ()
    project: str | None = None

    @cached_property
    def script(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower() + ".py"

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def graph_info(self) -> dict[str, Any]:
        """The `_graph_info` artifact, with the keys Metaflow 2.19 writes."""
        source = f"/home/user/project/{self.script}"
        return {
            "file": self.script,
            "start_step": "start",
            "end_step": "end",
            "parameters": [{"name": p, "type": "Parameter"} for p in sorted(self.parameters)],
            "constants": [],
            "steps": {
                s.name: _step_info(s, line=10 + 6 * i, source=source)
                for i, s in enumerate(self.steps)
            },
            "graph_structure": _as_lists(self.structure),
            "doc": self.doc,
            "decorators": [],
            "extensions": {"installed": {}},
        }


def _step_info(step: Step, line: int, source: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": step.name,
        "type": step.type,
        "line": line,
        "source_file": source,
        "doc": step.doc,
        "decorators": [_decorator(d) for d in step.decorators],
        "next": list(step.next),
        "node_info": {},
    }
    if step.foreach_artifact:
        info["foreach_artifact"] = step.foreach_artifact
    if step.matching_join:
        info["matching_join"] = step.matching_join
    return info


def _decorator(name: str) -> dict[str, Any]:
    attributes: dict[str, Any] = (
        {"times": RETRY_TIMES, "minutes_between_retries": 0}
        if name == "retry"
        else {"var": "failure", "print_exception": True}
    )
    return {
        "name": name,
        "attributes": attributes,
        "statically_defined": True,
        "inserted_by": None,
    }


def _as_lists(structure: Any) -> Any:
    if isinstance(structure, tuple):
        return [_as_lists(item) for item in structure]
    return structure


@dataclass
class Attempt:
    number: int
    started_at: int  # epoch ms: the task process began this attempt
    finished_at: int  # epoch ms: attempt-done
    ok: bool
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


@dataclass
class Task:
    step: str
    task_id: str
    registered_at: int  # epoch ms: the runtime launched the task (its `_self.json`)
    attempts: list[Attempt]
    # User artifacts a successful attempt stores (its own and those it inherited).
    values: dict[str, Any] = field(default_factory=dict)
    # What every attempt carries from its parents, even one that fails early.
    inherited: dict[str, Any] = field(default_factory=dict)
    foreach: tuple[Frame, ...] = ()
    caught: bool = False  # @catch swallowed the exception: finished, not successful
    error: tuple[str, str] = ("RuntimeError", "step failed on purpose")

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]

    @property
    def finished(self) -> bool:
        """The client's `Task.finished` (`_task_ok` of the latest attempt)."""
        return self.last.ok

    @property
    def successful(self) -> bool:
        """The client's `Task.successful` (`_success` of the latest attempt)."""
        return self.last.ok and not self.caught

    @property
    def status(self) -> str:
        """flowscope's task status (see README, status rules)."""
        return "completed" if self.successful else "failed"

    @property
    def finished_at(self) -> int:
        return self.last.finished_at


@dataclass
class Run:
    flow: Flow
    run_id: str
    user: str
    tags: list[str]
    started_at: int  # epoch ms
    parameters: dict[str, Any]
    tasks: list[Task]

    @property
    def system_tags(self) -> tuple[str, ...]:
        tags = [
            f"user:{self.user}",
            "runtime:dev",
            f"python_version:{PYTHON_VERSION}",
            f"metaflow_version:{METAFLOW_VERSION}",
        ]
        if self.flow.project:
            tags += [f"project:{self.flow.project}", f"project_branch:user.{self.user}"]
        return tuple(tags)

    @property
    def end_task(self) -> Task | None:
        return next((t for t in self.tasks if t.step == "end"), None)

    @property
    def successful(self) -> bool:
        end = self.end_task
        return end is not None and end.successful

    @property
    def finished(self) -> bool:
        end = self.end_task
        return end is not None and end.finished

    @property
    def status(self) -> str:
        return "completed" if self.successful else "failed"

    @property
    def last_activity_at(self) -> int:
        return max((t.finished_at for t in self.tasks), default=self.started_at)
