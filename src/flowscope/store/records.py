"""What sources hand to the store: plain records with the API's own field names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AttemptRecord:
    attempt: int
    status: str
    status_reason: str | None
    started_at: int | None
    finished_at: int | None


@dataclass
class TaskRecord:
    step_name: str
    task_id: str
    status: str
    status_reason: str | None
    caught: bool
    attempt: int
    started_at: int | None
    finished_at: int | None
    foreach_label: str | None
    fingerprint: str | None
    attempts: list[AttemptRecord] = field(default_factory=list)
    unreadable: bool = False  # see TaskFacts.unreadable

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0, self.finished_at - self.started_at)

    @property
    def task_key(self) -> int:
        return task_sort_key(self.task_id)


def task_sort_key(task_id: str) -> int:
    """Numeric task ids sort as numbers; any other id after every number."""
    return int(task_id) if task_id.isdigit() and len(task_id) < 18 else 10**18


@dataclass
class StepRecord:
    step_name: str
    position: int
    type: str | None
    status: str
    started_at: int | None
    finished_at: int | None
    pending: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0


@dataclass
class RunRecord:
    flow_id: str
    run_id: str
    user: str | None
    status: str
    status_reason: str | None
    started_at: int | None
    finished_at: int | None
    tags: list[str]
    system_tags: list[str]
    project: str | None = None
    branch: str | None = None
    parameters: dict[str, str] | None = None
    graph: dict[str, Any] | None = None
    origin_run_id: str | None = None
    ds_type: str | None = None
    ds_root: str | None = None
    first_failure_step: str | None = None
    first_failure_task: str | None = None
    task_count: int = 0
    caught_count: int = 0  # tasks whose exception @catch swallowed
    current_steps: list[str] = field(default_factory=list)  # while running: where it is
    unreadable_tasks: int = 0  # tasks some file of which could not be read
    last_activity_at: int | None = None
    fingerprint: str | None = None
    sealed: bool = False

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0, self.finished_at - self.started_at)


@dataclass
class WholeRun:
    """A run with every one of its tasks, as a source that read it whole hands it over."""

    run: RunRecord
    steps: list[StepRecord]
    tasks: list[TaskRecord]


@dataclass
class StoredTask:
    """What the store remembers of a task between passes."""

    pk: int
    fingerprint: str | None
    status: str


@dataclass
class StoredRun:
    pk: int
    fingerprint: str | None
    sealed: bool
    status: str
    has_graph: bool


@dataclass
class StepSummary:
    """Per-step task counts and times, aggregated by the store over all of a run's tasks."""

    step_name: str
    counts: dict[str, int]
    started_at: int | None
    finished_at: int | None
    failure_reasons: set[str] = field(default_factory=set)
    # The highest attempt number among the step's tasks whose code raised (not caught).
    max_error_attempt: int | None = None
    caught: int = 0  # tasks whose exception @catch swallowed


@dataclass
class RunSummary:
    steps: dict[str, StepSummary]
    task_count: int
    failure_reasons: set[str]
    first_failure: tuple[str, str] | None  # (step_name, task_id)
    last_finished_at: int | None
    unreadable_tasks: int = 0

    @property
    def caught_count(self) -> int:
        return sum(step.caught for step in self.steps.values())

    @property
    def first_started_at(self) -> int | None:
        starts = [step.started_at for step in self.steps.values() if step.started_at is not None]
        return min(starts) if starts else None
