"""The events that started a run: `execution-triggers` metadata on its start task, a JSON
list of `{timestamp, id, name, type}` (plugins/argo/argo_workflows_decorator.py). For an
event of type `run` (@trigger_on_finish) the id is the finishing run's end task pathspec,
`Flow/run/end/task`, and its run is `Flow/run` (metaflow/events.py `Trigger.runs`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flowscope.ingest.sources import MetadataEntry


def run_triggers(
    start_metadata: list[MetadataEntry], is_known: Callable[[str, str], bool]
) -> list[dict[str, Any]]:
    """[{name, type, id, timestamp, run}] where `run` is {flow_id, run_id, known} for a run
    event (`known`: flowscope has that run, so it can be linked), else None."""
    raw = next(
        (m.value for m in reversed(start_metadata) if m.field_name == "execution-triggers"),
        None,
    )
    try:
        events = json.loads(raw) if raw else []
    except ValueError:
        return []
    found = []
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        event_id = event.get("id")
        run = None
        if event.get("type") == "run" and isinstance(event_id, str) and event_id.count("/") >= 1:
            flow_id, run_id = event_id.split("/")[:2]
            run = {"flow_id": flow_id, "run_id": run_id, "known": is_known(flow_id, run_id)}
        timestamp = event.get("timestamp")
        found.append(
            {
                "name": str(event.get("name") or ""),
                "type": str(event.get("type") or ""),
                "id": str(event_id) if event_id is not None else None,
                "timestamp": timestamp if isinstance(timestamp, int | float) else None,
                "run": run,
            }
        )
    return found
