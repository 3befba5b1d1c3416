"""Where a run and its tasks ran, from what the writers recorded (issue 9).

Run level: the `runtime:<name>` system tag (metaflow_environment: METAFLOW_RUNTIME_NAME,
`dev` for a local `run`; the Argo Workflows, Step Functions and Airflow compilers set
`argo-workflows`, `step-functions`, `airflow`), the `production:<token>` tag a deployed
flow's runs carry instead of `user:`, and the scheduler's own metadata on the start task
(plugins/argo/argo_workflows_decorator.py, aws/step_functions/step_functions_decorator.py,
airflow/airflow_decorator.py); the start task's `git-info` and `code-package`
(metadata_provider/metadata.py `_register_system_metadata`).

Task level: what @kubernetes (kubernetes_decorator.py), @batch (aws/batch/batch_decorator.py)
and the spot termination monitor (kubernetes/spot_metadata_cli.py) record per task.
"""

from __future__ import annotations

import json
from typing import Any

from flowscope.ingest.sources import MetadataEntry

# Scheduler runtime name -> the prefixes of the metadata its decorator writes.
SCHEDULER_FIELDS = {
    "argo-workflows": ("argo-workflow-",),
    "step-functions": ("aws-step-functions-",),
    "airflow": ("airflow-",),
}
COMPUTE_FIELDS = {"kubernetes": ("kubernetes-",), "batch": ("aws-batch-",)}
SPOT_FIELDS = ("spot-termination-received-at", "spot-termination-time")


def _latest(metadata: list[MetadataEntry]) -> dict[str, str]:
    return {m.field_name: m.value for m in metadata if m.value is not None}


def _tag(system_tags: list[str], prefix: str) -> str | None:
    for tag in system_tags:
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


def run_scheduler(
    system_tags: list[str], start_metadata: list[MetadataEntry]
) -> dict[str, Any] | None:
    """{name, production_token, details: [{name, value}]}, None for a run started by hand."""
    runtime = _tag(system_tags, "runtime:")
    token = _tag(system_tags, "production:")
    if (runtime is None or runtime == "dev") and token is None:
        return None
    fields = _latest(start_metadata)
    prefixes = SCHEDULER_FIELDS.get(runtime or "", ())
    details = [
        {"name": k, "value": v}
        for k, v in sorted(fields.items())
        if k.startswith(prefixes) or (prefixes and k == "auto-emit-argo-events")
    ]
    return {"name": runtime or "unknown", "production_token": token, "details": details}


def run_code(start_metadata: list[MetadataEntry]) -> dict[str, Any]:
    """{git_info, code_package}: dicts as Metaflow wrote them (JSON), or None."""
    fields = _latest(start_metadata)
    return {
        "git_info": _json_dict(fields.get("git-info")),
        "code_package": _json_dict(fields.get("code-package")),
    }


def task_compute(metadata: list[MetadataEntry]) -> dict[str, Any] | None:
    """{platform, details: [{name, value}], spot_termination}, None for a local task."""
    fields = _latest(metadata)
    for platform, prefixes in COMPUTE_FIELDS.items():
        details = [
            {"name": k, "value": v} for k, v in sorted(fields.items()) if k.startswith(prefixes)
        ]
        if details:
            spot = {k: fields[k] for k in SPOT_FIELDS if k in fields}
            return {
                "platform": platform,
                "details": details,
                "spot_termination": {
                    "received_at": spot.get("spot-termination-received-at"),
                    "termination_time": spot.get("spot-termination-time"),
                }
                if spot
                else None,
            }
    return None


def _json_dict(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
