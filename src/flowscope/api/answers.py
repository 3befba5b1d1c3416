"""What the routes document besides their 200 (issue 12, point 3): every error status a
route can answer, all with the one error body (`ErrorBody`, as api/app.py writes them),
and the OpenAPI links between operations that let a client (or schemathesis's stateful
phase) walk from a list to its items with real ids and cursors.

FastAPI's own 422 shape (`{"detail": [...]}`) is not what flowscope answers, so every
route with parameters lists 422 here, which replaces it.
"""

from __future__ import annotations

from typing import Any

from flowscope.api.models import ErrorBody

_WHY = {
    304: "Unchanged since the ETag sent in If-None-Match",
    400: "The cursor is not one this list handed out (`error` says so)",
    404: "No such flow, run, step, task, attempt, artifact, card or log (`error` says which)",
    422: "A parameter does not match its schema (`error` says which)",
    501: "The run's datastore is of a kind flowscope cannot read yet",
    503: "The run's datastore cannot be reached now (`error` says why)",
}

Responses = dict[int | str, dict[str, Any]]


def answers(*codes: int) -> Responses:
    """The `responses=` of a route for these statuses (304 has no body)."""
    found: Responses = {}
    for code in codes:
        found[code] = {"description": _WHY[code]}
        if code != 304:
            found[code]["model"] = ErrorBody
    return found


# A route that reads the run's datastore (logs, artifacts, cards).
DATASTORE = (404, 422, 501, 503)


def ok_links(**links: tuple[str, dict[str, str]]) -> Responses:
    """`{200: {"links": ...}}`: each link is (operationId, {parameter: runtime expression})."""
    return {
        200: {
            "links": {
                name: {"operationId": operation, "parameters": parameters}
                for name, (operation, parameters) in links.items()
            }
        }
    }


def merge(*parts: Responses) -> Responses:
    """Several `responses=` dicts as one (a status given twice has its parts combined)."""
    merged: Responses = {}
    for part in parts:
        for code, spec in part.items():
            merged[code] = {**merged.get(code, {}), **spec}
    return merged


# Parameters that name the run (or task) of the request, for links from it.
RUN = {"flow_id": "$request.path.flow_id", "run_id": "$request.path.run_id"}
TASK = {**RUN, "step_name": "$request.path.step_name", "task_id": "$request.path.task_id"}
