"""A task's place in a @parallel gang.

On the local runtime (metaflow/plugins/parallel_decorator.py) the control task keeps the
task id the runtime gave it (`2`) and records `internal_task_type: control_task`; it
starts the workers as `2_node_1`, `2_node_2`, …. Every member records
`parallel-world-size` (the gang's size) and its node index as the last index of
`foreach-execution-path` (`train:1`)."""

from __future__ import annotations

from typing import Any

from flowscope.ingest.sources import MetadataEntry


def gang_member(
    task_id: str, metadata: list[MetadataEntry], decorators: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """{role: control|worker, node_index, num_parallel}, or None outside a gang."""
    fields = {m.field_name: m.value for m in metadata}
    in_gang = "parallel-world-size" in fields or any(d["name"] == "parallel" for d in decorators)
    if not in_gang:
        return None
    control = fields.get("internal_task_type") == "control_task"
    node_index = _last_index(fields.get("foreach-execution-path"))
    if node_index is None and "_node_" in task_id:
        node_index = _int(task_id.rpartition("_node_")[2])
    if node_index is None and control:
        node_index = 0
    return {
        "role": "control" if control else "worker",
        "node_index": node_index,
        "num_parallel": _int(fields.get("parallel-world-size")),
    }


def _last_index(path: str | None) -> int | None:
    if not path:
        return None
    return _int(path.split(",")[-1].rpartition(":")[2])


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
