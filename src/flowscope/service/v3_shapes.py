"""The JSON bodies metaflow-service answers with, and how it reads ids in paths.

The Metaflow client relies on these shapes: `run_number` is the run's string id when it has
one, else its number; `task_id` likewise the task's name or its number. Steps, tasks and
artifacts carry their run's tags (tags are mutated on the run only); metadata keeps its own
(they hold `attempt_id:N`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict


class FlowBody(TypedDict):
    flow_id: str
    user_name: str | None
    ts_epoch: int
    tags: Any
    system_tags: Any


class RunBody(TypedDict):
    flow_id: str
    run_number: int | str
    user_name: str | None
    ts_epoch: int
    tags: Any
    system_tags: Any
    last_heartbeat_ts: int | None


class StepBody(TypedDict):
    flow_id: str
    run_number: int | str
    step_name: str
    user_name: str | None
    ts_epoch: int
    tags: Any
    system_tags: Any


class TaskBody(TypedDict):
    flow_id: str
    run_number: int | str
    step_name: str
    task_id: int | str
    user_name: str | None
    ts_epoch: int
    tags: Any
    system_tags: Any
    last_heartbeat_ts: int | None


class MetadataBody(TypedDict):
    id: int
    flow_id: str
    run_number: int | str
    step_name: str
    task_id: int | str
    field_name: str
    value: str
    type: str
    user_name: str | None
    ts_epoch: int
    tags: Any
    system_tags: Any


class ArtifactBody(TypedDict):
    flow_id: str
    run_number: int | str
    step_name: str
    task_id: int | str
    name: str
    location: str
    ds_type: str
    sha: str | None
    type: str | None
    content_type: str | None
    user_name: str | None
    attempt_id: int
    ts_epoch: int
    tags: Any
    system_tags: Any


@dataclass(frozen=True)
class RunIds:
    """A run as the database keys it: its number, and its string id if it was given one."""

    flow_id: str
    run_number: int
    run_id: str | None

    @property
    def exposed(self) -> int | str:
        return self.run_id if self.run_id is not None else self.run_number


@dataclass(frozen=True)
class TaskIds:
    run: RunIds
    step_name: str
    task_id: int
    task_name: str | None


@dataclass(frozen=True)
class V3Change:
    """A committed write that changes what a run looks like (for the index to re-sync).

    `what` is one of: run, step, task, metadata, artifacts, tags, heartbeat.
    """

    flow_id: str
    run_number: int
    run_id: str | None
    what: str


def is_number(value: str) -> bool:
    """How the service tells a number from a string id (ASCII digits only here: the
    service's `str.isnumeric` also takes other scripts' digits, which then fail as SQL)."""
    return value.isascii() and value.isdigit()


def exposed_task_id(task_id: int, task_name: str | None) -> int | str:
    return task_name if task_name is not None else task_id


def heartbeat_capable(system_tags: Any) -> bool:
    """Whether the client's version (its `metaflow_version:` system tag) sends heartbeats,
    as metaflow-service decides it: 1.14+ on 1.x, 2.2.12+ after; unparseable: yes."""
    if not isinstance(system_tags, list):
        return False
    versions = [t for t in system_tags if isinstance(t, str) and t.startswith("metaflow_version:")]
    if not versions:
        return False
    raw = versions[0].removeprefix("metaflow_version:")
    parts: list[int] = []
    for piece in raw.split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    if not parts:
        return True
    version = tuple(parts + [0] * (3 - len(parts)))[:3]
    if version[0] == 1:
        return version >= (1, 14, 0)
    return version >= (2, 2, 12)
