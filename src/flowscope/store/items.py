"""The API's items, built in one place from either a stored row or a record being written.

The same run, task or attempt reaches clients two ways: read back from the index (the
lists, the detail pages) and as a change event written alongside the change. Both go
through these builders, so the two can never disagree on a field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from flowscope.store.records import AttemptRecord, RunRecord, TaskRecord


def run_item(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """A Run item from a `runs` row (tags as stored JSON) or a RunRecord's fields."""
    first_failure = None
    if fields["first_failure_step"] is not None:
        first_failure = {
            "step_name": fields["first_failure_step"],
            "task_id": fields["first_failure_task"],
        }
    return {
        "flow_id": fields["flow_id"],
        "run_id": fields["run_id"],
        "user": fields["user"],
        "status": fields["status"],
        "status_reason": fields["status_reason"],
        "started_at": fields["started_at"],
        "finished_at": fields["finished_at"],
        "duration_ms": fields["duration_ms"],
        "tags": _list(fields["tags"]),
        "system_tags": _list(fields["system_tags"]),
        "project": fields["project"],
        "branch": fields["branch"],
        "first_failure": first_failure,
        "caught_count": fields["caught_count"],
        "current_steps": _list(fields["current_steps"]),
    }


def run_record_item(run: RunRecord) -> dict[str, Any]:
    return run_item({**vars(run), "duration_ms": run.duration_ms})


def task_item(fields: Mapping[Any, Any], flow_id: str, run_id: str) -> dict[str, Any]:
    """A Task item from a `tasks` row or a TaskRecord's fields."""
    return {
        "flow_id": flow_id,
        "run_id": run_id,
        "step_name": fields["step_name"],
        "task_id": fields["task_id"],
        "status": fields["status"],
        "status_reason": fields["status_reason"],
        "caught": bool(fields["caught"]),
        "attempt": fields["attempt"],
        "started_at": fields["started_at"],
        "finished_at": fields["finished_at"],
        "duration_ms": fields["duration_ms"],
        "foreach_label": fields["foreach_label"],
    }


def task_record_item(task: TaskRecord, flow_id: str, run_id: str) -> dict[str, Any]:
    return task_item({**vars(task), "duration_ms": task.duration_ms}, flow_id, run_id)


def attempt_item(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """An Attempt item from an `attempts` row or an AttemptRecord's fields."""
    return {
        "attempt": fields["attempt"],
        "status": fields["status"],
        "status_reason": fields["status_reason"],
        "started_at": fields["started_at"],
        "finished_at": fields["finished_at"],
    }


def attempt_record_item(attempt: AttemptRecord) -> dict[str, Any]:
    return attempt_item(vars(attempt))


def step_item(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """A Step item from a `steps` row or a StepRecord's fields."""
    return {
        "step_name": fields["step_name"],
        "type": fields["type"],
        "status": fields["status"],
        "started_at": fields["started_at"],
        "finished_at": fields["finished_at"],
        "task_counts": {
            "pending": fields["pending"],
            "running": fields["running"],
            "completed": fields["completed"],
            "failed": fields["failed"],
        },
    }


def _list(value: Any) -> list[str]:
    return list(orjson.loads(value)) if isinstance(value, str) else list(value)
