"""Tasks that `resume` cloned from the origin run instead of running them again.

The runtime gives every task of a resumed run `origin-run-id`; a cloned task also gets
`origin-task-id`, the task it copies (metaflow/runtime.py `clone_task`). The index does not
keep these, so they are read from the run's source on demand, task by task: bounded by
MAX_TASKS, which covers what `resume` is used on; past it the answer says `truncated`.
"""

from __future__ import annotations

from typing import Any

from flowscope.datastore import NotFoundError
from flowscope.ingest.sources import MetadataEntry, TaskDetails
from flowscope.pathspec import Pathspec
from flowscope.store import RunRef, Store

MAX_TASKS = 5000
PAGE = 1000


def task_origin(
    metadata: list[MetadataEntry], flow_id: str, step_name: str
) -> dict[str, Any] | None:
    """{run_id, task_id, pathspec} of the task this one was cloned from, or None."""
    latest = {m.field_name: m.value for m in metadata}
    run_id, task_id = latest.get("origin-run-id"), latest.get("origin-task-id")
    if not run_id or not task_id or "None" in (run_id, task_id):
        return None
    return {
        "run_id": run_id,
        "task_id": task_id,
        "pathspec": f"{flow_id}/{run_id}/{step_name}/{task_id}",
    }


def run_clones(
    store: Store, details: TaskDetails, ref: RunRef
) -> tuple[list[dict[str, Any]], bool]:
    """([{step_name, task_id, origin}], truncated) over the run's tasks."""
    clones: list[dict[str, Any]] = []
    seen = 0
    cursor = None
    while True:
        items, cursor = store.list_tasks(ref, None, None, "task_id", PAGE, cursor)
        for task in items:
            seen += 1
            pathspec = Pathspec(ref.flow_id, ref.run_id, task["step_name"], task["task_id"])
            try:
                metadata = details.task_metadata(pathspec)
            except NotFoundError:
                continue
            origin = task_origin(metadata, ref.flow_id, task["step_name"])
            if origin is not None:
                clones.append(
                    {"step_name": task["step_name"], "task_id": task["task_id"], "origin": origin}
                )
            if seen >= MAX_TASKS:
                return clones, cursor is not None or task is not items[-1]
        if cursor is None:
            return clones, False
