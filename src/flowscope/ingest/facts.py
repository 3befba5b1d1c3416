"""What a source saw of a run: plain facts, the same for every source.

A source (the local `.metaflow` folder, a metaflow-service database, runs written through
flowscope's own `/metadata` API) only gathers these; `ingest.assembler` turns them into
the records the store keeps, deciding every status through `flowscope.status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowscope.status import AttemptFacts

__all__ = ["AttemptFacts", "RunFacts", "TaskFacts"]


@dataclass(frozen=True)
class TaskFacts:
    step_name: str
    task_id: str
    created_at: int | None  # the task's own record (the client's Task.created_at)
    attempts: list[AttemptFacts]
    succeeded: bool | None  # the latest finished attempt's `_success` artifact
    foreach_label: str | None
    # The newest sign that the task is alive (a file change, a heartbeat), for liveness.
    last_seen_at: int | None
    # What the source looked like when read, so an unchanged task is not read again;
    # None when it may still change without the marker moving.
    fingerprint: str | None = None
    # Some file or folder of the task exists but could not be read (damaged, no access):
    # the task is shown from the rest, and its run counts it (issue 12).
    unreadable: bool = False


@dataclass(frozen=True)
class RunFacts:
    flow_id: str
    run_id: str
    user: str | None
    created_at: int | None  # the run's record (`ts_epoch`); tag edits may move it
    tags: list[str]
    system_tags: list[str]
    graph: dict[str, Any] | None = None  # `_graph_info`, once known
    parameters: dict[str, str] | None = None  # name -> repr, once known
    origin_run_id: str | None = None  # set by `resume`
    # Where the run's data lives (`ds-type`, `ds-root` metadata of its tasks).
    ds_type: str | None = None
    ds_root: str | None = None
    # The newest sign that the run is alive (a file change, a heartbeat), for liveness.
    last_seen_at: int | None = None
    # The run's own heartbeat, where its source has one (a metadata service's runtime
    # heartbeat, epoch ms); None for local runs and for runs without a runtime (schedulers).
    heartbeat_at: int | None = None
    fingerprint: str | None = None

    @property
    def end_step(self) -> str:
        end = (self.graph or {}).get("end_step")
        return end if isinstance(end, str) else "end"

    @property
    def script_name(self) -> str | None:
        name = (self.graph or {}).get("file")
        return name if isinstance(name, str) else None
