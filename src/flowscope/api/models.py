"""Response models: they document the API (OpenAPI) and the UI's types are generated
from them. Handlers return plain dicts through `FastJSON` for speed; tests check that
answers match these shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RunStatus = Literal["running", "completed", "failed"]
TaskStatus = Literal["pending", "running", "completed", "failed"]
StatusReason = Literal["error", "killed", "lost"]


class ErrorBody(BaseModel):
    error: str


class SyncStatus(BaseModel):
    phase: Literal["starting", "syncing", "following", "standby"] = Field(
        description="standby: another flowscope server writes this index"
    )
    runs_done: int
    runs_total: int | None


class Health(BaseModel):
    status: Literal["ok"]
    ready: bool
    root: str | None = Field(description="The .metaflow folder being indexed, if any")
    database: str | None = Field(
        default=None, description="The metaflow-service database followed, if any"
    )
    sync: SyncStatus | None = Field(
        default=None, description="Progress of following a metaflow-service database"
    )


class TaskRef(BaseModel):
    step_name: str
    task_id: str


class Run(BaseModel):
    flow_id: str
    run_id: str
    user: str | None
    status: RunStatus
    status_reason: StatusReason | None
    started_at: int | None
    finished_at: int | None
    duration_ms: int | None
    tags: list[str] = Field(description="User tags only, after any tag mutation")
    system_tags: list[str]
    project: str | None
    branch: str | None
    first_failure: TaskRef | None = Field(description="The task whose failure came first")


class RunDetail(Run):
    parameters: dict[str, str] = Field(description="Parameter name -> repr of its value")
    origin_run_id: str | None
    task_count: int
    unreadable_tasks: int = Field(
        description="How many of the run's tasks are shown from only part of their files: "
        "some file or folder of theirs exists but could not be read (damaged, no access)"
    )
    script_name: str | None = Field(description="The flow's file, e.g. for a resume command")


class RunPage(BaseModel):
    items: list[Run]
    next_cursor: str | None


class RecentRun(BaseModel):
    run_id: str
    status: RunStatus
    status_reason: StatusReason | None
    started_at: int | None
    duration_ms: int | None


class Flow(BaseModel):
    flow_id: str
    run_count: int
    last_run: Run | None
    recent: list[RecentRun] = Field(description="The newest runs (up to 20), newest first")
    users: list[str] = Field(description="Who ran the recent runs")


class FlowPage(BaseModel):
    items: list[Flow]
    next_cursor: str | None


class DagStep(BaseModel):
    type: str
    next: list[str]
    doc: str
    foreach_artifact: str | None = None
    matching_join: str | None = None
    switch_cases: dict[str, str] | None = None


class Dag(BaseModel):
    steps: dict[str, DagStep]
    structure: list[Any]
    start_step: str
    end_step: str


class TaskCounts(BaseModel):
    pending: int
    running: int
    completed: int
    failed: int


class Step(BaseModel):
    step_name: str
    type: str | None
    status: TaskStatus
    started_at: int | None
    finished_at: int | None
    task_counts: TaskCounts


class StepPage(BaseModel):
    items: list[Step]
    next_cursor: str | None


class Task(BaseModel):
    flow_id: str
    run_id: str
    step_name: str
    task_id: str
    status: TaskStatus
    status_reason: StatusReason | None
    caught: bool = Field(description="@catch caught this task's exception")
    attempt: int = Field(description="Latest attempt number, from 0")
    started_at: int | None
    finished_at: int | None
    duration_ms: int | None
    foreach_label: str | None


class TaskPage(BaseModel):
    items: list[Task]
    next_cursor: str | None


class Attempt(BaseModel):
    attempt: int
    status: TaskStatus
    status_reason: StatusReason | None
    started_at: int | None
    finished_at: int | None


class MetadataItem(BaseModel):
    field_name: str
    value: str | None
    type: str | None
    attempt: int | None
    ts_epoch: int | None


class TaskException(BaseModel):
    type: str
    message: str
    traceback: str
    attempt: int


class TaskDetail(Task):
    attempts: list[Attempt]
    metadata: list[MetadataItem]
    exception: TaskException | None


class TimelineTasks(BaseModel):
    step: list[int]
    task_id: list[str]
    foreach_label: list[str | None]
    status: list[TaskStatus]


class TimelineAttempts(BaseModel):
    task: list[int]
    attempt: list[int]
    status: list[TaskStatus]
    started_at: list[int | None]
    finished_at: list[int | None]


class Timeline(BaseModel):
    steps: list[str]
    tasks: TimelineTasks
    attempts: TimelineAttempts


class TimelineDetailAttempt(BaseModel):
    attempt: int
    status: TaskStatus
    started_at: int | None
    finished_at: int | None


class TimelineDetailTask(BaseModel):
    step_name: str
    task_id: str
    foreach_label: str | None
    attempts: list[TimelineDetailAttempt]


class TimelineDetail(BaseModel):
    items: list[TimelineDetailTask]


class Artifact(BaseModel):
    name: str
    type: str | None
    size: int | None
    sha: str


class ArtifactPage(BaseModel):
    items: list[Artifact]
    next_cursor: str | None


class ArtifactDetail(BaseModel):
    name: str
    type: str | None
    size: int | None
    previewable: bool
    preview: str | None
    preview_kind: Literal["repr", "json", "table"] | None
    preview_data: Any = None
    load_snippet: str


class LogLine(BaseModel):
    n: int = Field(description="1-based line number")
    ts: int | None
    text: str


class LogPage(BaseModel):
    items: list[LogLine]
    total: int
    start: int
    next_cursor: str | None = Field(description="`start` of the previous (earlier) page")
    omitted_bytes: int = Field(
        0,
        description="bytes at the start of a log too big to read whole from remote storage "
        "(only its tail is paged); 0 when the whole log is here",
    )


class LogMatch(BaseModel):
    n: int
    text: str


class LogSearch(BaseModel):
    items: list[LogMatch]
    total_matches: int


class Card(BaseModel):
    id: str
    type: str
    url: str


class CardPage(BaseModel):
    items: list[Card]
    next_cursor: str | None
