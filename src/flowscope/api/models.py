"""Response models: they document the API (OpenAPI) and the UI's types are generated
from them. Handlers return plain dicts through `FastJSON` for speed; tests check that
answers match these shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RunStatus = Literal["running", "completed", "failed"]
TaskStatus = Literal["pending", "running", "completed", "failed"]
# A step is skipped once its run is over without it having had a single task.
StepStatus = Literal["pending", "running", "completed", "failed", "skipped"]
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
    auth: Literal["none", "token", "session", "identity-header", "api-key"] = Field(
        default="none",
        description="How this request was authenticated (`none`: the server has no auth)",
    )
    user: str | None = Field(
        default=None,
        description="Who is asking, from the trusted identity header "
        "(`--trust-identity-header`); null for token and session requests",
    )


class HealthLive(BaseModel):
    """Liveness: the process serves HTTP. Open without authentication; tells nothing else."""

    status: Literal["live"]


class HealthReady(BaseModel):
    """Readiness: the index is open and answers. Open without authentication."""

    ready: bool
    reason: str | None = Field(
        default=None, description="Why the server is not ready yet (null when ready)"
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
    caught_count: int = Field(
        description="Tasks whose exception @catch swallowed: failures a completed run went on past"
    )
    current_steps: list[str] = Field(
        description="While running: the steps with a task running (else waiting to start)"
    )


class StepCounts(BaseModel):
    pending: int
    running: int
    completed: int
    failed: int
    skipped: int = Field(description="Steps that never ran in a run that is over")


class RecordField(BaseModel):
    name: str
    value: str


class Scheduler(BaseModel):
    name: str = Field(description="The runtime: argo-workflows, step-functions, airflow, …")
    production_token: str | None = Field(description="From the `production:` system tag")
    details: list[RecordField] = Field(description="The scheduler's metadata on the start task")


class CodePackage(BaseModel):
    ds_type: str | None = None
    sha: str | None = None
    location: str | None = None


class TriggeringRun(BaseModel):
    flow_id: str
    run_id: str
    known: bool = Field(description="flowscope has this run (it can be linked)")


class TriggerEvent(BaseModel):
    name: str = Field(description="e.g. metaflow.UpstreamFlow.end, or the event's name")
    type: str = Field(description="run (@trigger_on_finish) or event (@trigger)")
    id: str | None
    timestamp: float | None = Field(description="epoch seconds")
    run: TriggeringRun | None = Field(description="The run that finished, for a run event")


class RunDetail(Run):
    parameters: dict[str, str] = Field(description="Parameter name -> repr of its value")
    configs: dict[str, str] = Field(
        description="Config name -> repr of its value (a dict); not among `parameters`"
    )
    origin_run_id: str | None
    task_count: int
    step_counts: StepCounts = Field(description="The run's steps by status")
    unreadable_tasks: int = Field(
        description="How many of the run's tasks are shown from only part of their files: "
        "some file or folder of theirs exists but could not be read (damaged, no access)"
    )
    script_name: str | None = Field(description="The flow's file, e.g. for a resume command")
    scheduler: Scheduler | None = Field(
        default=None, description="The scheduler that started it; null when started by hand"
    )
    git_info: dict[str, Any] | None = Field(
        default=None, description="`git-info` metadata: repo_url, branch_name, commit_sha, …"
    )
    triggers: list[TriggerEvent] = Field(
        default_factory=list, description="What started the run (`execution-triggers`)"
    )
    code_package: CodePackage | None = Field(
        default=None, description="`code-package` metadata of a run packaged for remote compute"
    )


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


class StepDecorator(BaseModel):
    name: str = Field(description="e.g. retry, catch, timeout, resources, kubernetes")
    attributes: dict[str, Any] = Field(description="As recorded in `_graph_info`")
    inserted_by: list[str] | str | None = Field(
        default=None, description="What added it when it was not written on the step"
    )


class DagStep(BaseModel):
    type: str
    next: list[str]
    doc: str
    foreach_artifact: str | None = None
    matching_join: str | None = None
    switch_cases: dict[str, str] | None = None
    decorators: list[StepDecorator] = Field(
        default_factory=list, description="The step's decorators, from `_graph_info`"
    )
    num_parallel: int | None = Field(
        default=None, description="Gang size a split-parallel step starts (@parallel)"
    )


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
    status: StepStatus
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
    type: str = Field(description="Dotted, as Metaflow records it: builtins.ValueError")
    message: str
    traceback: str
    attempt: int
    caught: bool = Field(False, description="@catch swallowed this one")
    source: str | None = Field(
        None,
        description="Where it was read: `_exception`, the @catch variable's name, or "
        "`log:stdout`/`log:stderr` when no artifact holds it",
    )


class GangMember(BaseModel):
    role: Literal["control", "worker"] = Field(
        description="control: the task that started the gang (internal_task_type)"
    )
    node_index: int | None = Field(description="current.parallel.node_index")
    num_parallel: int | None = Field(description="The gang's size (parallel-world-size)")


class TaskOrigin(BaseModel):
    run_id: str
    task_id: str
    pathspec: str


class Clone(BaseModel):
    step_name: str
    task_id: str
    origin: TaskOrigin = Field(description="The origin run's task it copies")


class ClonePage(BaseModel):
    items: list[Clone]
    truncated: bool = Field(description="Only the first 5,000 tasks of the run were read")


class SpotTermination(BaseModel):
    received_at: str | None
    termination_time: str | None


class Compute(BaseModel):
    platform: Literal["kubernetes", "batch"]
    details: list[RecordField] = Field(description="Pod, namespace, job id, log group/stream…")
    spot_termination: SpotTermination | None


class TaskDetail(Task):
    attempts: list[Attempt]
    metadata: list[MetadataItem]
    exception: TaskException | None = Field(description="The latest of `exceptions`")
    exceptions: list[TaskException] = Field(description="Every failed attempt's, oldest first")
    decorators: list[StepDecorator] = Field(description="Its step's decorators")
    parallel: GangMember | None = Field(description="Its place in a @parallel gang")
    origin: TaskOrigin | None = Field(description="The task `resume` cloned this one from")
    compute: Compute | None = Field(description="Where it ran, when not on this machine")


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
    preview_kind: Literal["repr", "json", "table", "text", "bytes"] | None = Field(
        description="`text`: `preview` is the text itself (an IncludeFile parameter's "
        "content); `bytes`: binary content, `preview_data` is `{size}` and `download_url` "
        "serves it"
    )
    preview_data: Any = None
    download_url: str | None = Field(
        default=None, description="The whole content, for an IncludeFile parameter"
    )
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


class CardData(BaseModel):
    reload_token: str | None = Field(
        description="Matches the card's METAFLOW_RELOAD_TOKEN when `data` can update it "
        "in place; otherwise the card must be reloaded (`final`: the task finished)"
    )
    data: Any = Field(description="The card's components, for `metaflow_card_update`")
    created_on: float | None = Field(description="epoch seconds")


class CardPage(BaseModel):
    items: list[Card]
    next_cursor: str | None
