"""What the Metaflow client says about a run, in the shapes of flowscope's API.

Each function returns plain JSON-able values whose keys are field names of the matching
flowscope endpoint (docs/API.md), so a test can compare an API answer with the oracle
field by field, e.g. `{key: api[key] for key in expected} == expected` (the oracle omits
what the client cannot know, such as URLs and cursors). Lists of tags are sorted.

Call `configure(sysroot)` before anything else in the process imports metaflow: the client
reads METAFLOW_DATASTORE_SYSROOT_LOCAL once, at import.

Statuses. The client has no "running" and no "killed": it only knows, per task attempt,
the `_task_ok` and `_success` artifacts, and a run is judged by its end task. The fixture
runs have all exited, so the oracle maps:

- task (and attempt) status: `completed` when `Task.finished` (`_task_ok` is true, which
  includes a task whose exception @catch swallowed), else `failed` (`_task_ok` false: the
  code raised; or missing: the process died before recording an outcome).
  `caught` = `Task.finished and not Task.successful` (@catch leaves `_success` false).
  `status_reason` = `error` when the client has the exception (`Task.exception`), else
  null. Note that the client's `Task.finished` is false for a task that raised:
  "finished" means "finished OK", not "ended".
- run status: `completed` when `Run.successful` (its end task succeeded), else `failed`.
  A failed run has no end task, so `Run.finished` is false and `Run.finished_at` is None,
  exactly as for a run that is still going. `status_reason` is `error` when some failed
  task holds an exception.

Times (epoch milliseconds; the client's datetimes are naive local times built from the
same milliseconds, converted back here):

- `Run.created_at` (-> `started_at`) is the `ts_epoch` of the run's `_self.json`, written
  when the runtime registers the run, before any task.
- `Run.finished_at` (-> `finished_at`) is the end task's finish time; None unless the end
  task exists, so None for failed runs.
- `Task.created_at` (-> task `started_at`) is the task's `_self.json` `ts_epoch`, written
  when the runtime allocates the task id, a few ms before attempt 0 starts. For a task
  cloned by `resume` it is the time of cloning, not the original run's.
- `Task.finished_at` (-> task `finished_at`) is the `ts_epoch` of the `_task_ok` artifact
  of the latest attempt that completed (written while the task persists its artifacts,
  so slightly before the process exits and before its last log lines are flushed).
- An attempt's `started_at` is the `ts_epoch` of its `attempt` metadata entry; its
  `finished_at` is `Task(..., attempt=N).finished_at`.
So flowscope's times may differ from these by the gaps between those writes and the
markers flowscope uses: compare with a tolerance (a second is ample).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

SYSROOT_ENV = "METAFLOW_DATASTORE_SYSROOT_LOCAL"

JSON = dict[str, Any]


def configure(sysroot: Path) -> None:
    """Point the Metaflow client of this process at `sysroot` (its local datastore and
    metadata). Must run before metaflow is first imported in the process."""
    wanted = str(sysroot.resolve())
    if "metaflow" in sys.modules:
        from metaflow import metaflow_config

        if wanted != metaflow_config.DATASTORE_SYSROOT_LOCAL:
            raise RuntimeError(
                f"metaflow was imported with sysroot "
                f"{metaflow_config.DATASTORE_SYSROOT_LOCAL!r}, not {wanted!r}; "
                "call oracle.configure() before anything imports metaflow"
            )
    os.environ[SYSROOT_ENV] = wanted
    os.environ["METAFLOW_DEFAULT_DATASTORE"] = "local"
    os.environ["METAFLOW_DEFAULT_METADATA"] = "local"


def _client() -> Any:
    if SYSROOT_ENV not in os.environ:
        raise RuntimeError("call oracle.configure(sysroot) first")
    import metaflow

    # Fixture runs belong to user "tester"; the default namespace would hide them from
    # anyone else.
    metaflow.namespace(None)
    return metaflow


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else round(moment.timestamp() * 1000)


def _duration(started: int | None, finished: int | None) -> int | None:
    return None if started is None or finished is None else finished - started


def _system_tag(tags: frozenset[str], prefix: str) -> str | None:
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


# ---- runs ---------------------------------------------------------------------------


def oracle_run(pathspec: str) -> JSON:
    """A `Run` of `GET /flows/{flow_id}/runs/{run_id}`, with `parameters`,
    `origin_run_id` and `task_count`."""
    mf = _client()
    run = mf.Run(pathspec)
    flow_id, run_id = pathspec.split("/")
    tasks = _all_tasks(run)
    task_states = [(_task_status(task), task) for task in tasks]
    failed = [task for status, task in task_states if status == "failed"]

    status = "completed" if run.successful else "failed"
    status_reason = None
    if status == "failed" and any(task.exception is not None for task in failed):
        status_reason = "error"
    started_at = _ms(run.created_at)
    finished_at = _ms(run.finished_at)
    return {
        "flow_id": flow_id,
        "run_id": run_id,
        # The client has no user property; the runtime records it as the `user:` tag.
        "user": _system_tag(run.system_tags, "user:"),
        "status": status,
        "status_reason": status_reason,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_ms": _duration(started_at, finished_at),
        "tags": sorted(run.user_tags),
        "system_tags": sorted(run.system_tags),
        "project": _system_tag(run.system_tags, "project:"),
        "branch": _system_tag(run.system_tags, "project_branch:"),
        "first_failure": _first_failure(failed) if status == "failed" else None,
        "parameters": _parameters(run),
        "configs": _parameters(run, configs=True),
        "origin_run_id": _origin_run_id(run),
        "task_count": len(tasks),
    }


def _first_failure(failed: list[Any]) -> JSON | None:
    """The failed task that ended first (by the client's finish time, else its start)."""
    if not failed:
        return None

    def ended(task: Any) -> datetime:
        return task.finished_at or task.created_at

    first = min(failed, key=ended)
    _, _, step_name, task_id = first.pathspec.split("/")
    return {"step_name": step_name, "task_id": task_id}


def _parameters(run: Any, configs: bool = False) -> dict[str, str]:
    """Parameter name -> repr(value), from the `_parameters` task the client hides; with
    `configs`, the `Config`s instead (declared beside them, with type "Config")."""
    params_task = run["_parameters"].task
    declared = params_task["_graph_info"].data.get("parameters", [])
    return {
        param["name"]: repr(params_task[param["name"]].data)
        for param in declared
        if (param.get("type") == "Config") == configs
    }


def _origin_run_id(run: Any) -> str | None:
    # Every task records `origin-run-id`, as the string "None" unless `resume` made the
    # run, so the client's `origin_pathspec` reads "Flow/None" for ordinary runs.
    origin = run.origin_pathspec
    if origin is None:
        return None
    run_id = origin.split("/")[1]
    return None if run_id == "None" else run_id


# ---- graph and steps ----------------------------------------------------------------


def _graph_info(run: Any) -> JSON:
    return run["_parameters"].task["_graph_info"].data


def _flatten(structure: list[Any]) -> list[str]:
    names: list[str] = []
    for item in structure:
        if isinstance(item, list):
            names.extend(_flatten(item))
        else:
            names.append(item)
    return names


def oracle_dag(pathspec: str) -> JSON:
    """`GET …/runs/{run_id}/dag`, from the `_graph_info` artifact the runtime stores."""
    graph = _graph_info(_client().Run(pathspec))
    return {
        "steps": {
            name: {
                "type": info["type"],
                "next": list(info["next"]),
                "doc": info.get("doc"),
                "foreach_artifact": info.get("foreach_artifact"),
                "matching_join": info.get("matching_join"),
            }
            for name, info in graph["steps"].items()
        },
        "structure": graph["graph_structure"],
        "start_step": graph["start_step"],
        "end_step": graph["end_step"],
    }


def oracle_steps(pathspec: str) -> list[str]:
    """Names of the steps the run has (any step with a task; not `_parameters`), in graph
    order: the order of the flattened `graph_structure`. A step a switch did not take
    has no tasks, so the client does not list it; the DAG (`oracle_dag`) still has it."""
    run = _client().Run(pathspec)
    order = {name: i for i, name in enumerate(_flatten(_graph_info(run)["graph_structure"]))}
    return sorted((step.id for step in run), key=lambda name: order.get(name, len(order)))


def oracle_step_task_counts(pathspec: str) -> dict[str, dict[str, int]]:
    """Step name -> `task_counts` of `GET …/steps` (statuses as in `oracle_tasks`)."""
    counts: dict[str, dict[str, int]] = {}
    for task in _all_tasks(_client().Run(pathspec)):
        step_counts = counts.setdefault(
            task.parent.id, {"pending": 0, "running": 0, "completed": 0, "failed": 0}
        )
        step_counts[_task_status(task)] += 1
    return counts


# ---- tasks and attempts -------------------------------------------------------------


def _all_tasks(run: Any) -> list[Any]:
    tasks = [task for step in run for task in step]
    # @parallel workers have ids like `2_node_1`: after their control task `2`.
    return sorted(tasks, key=lambda task: (int(task.id.split("_", 1)[0]), task.id))


def _task_status(task: Any) -> str:
    return "completed" if task.finished else "failed"


def _foreach_label(task: Any) -> str | None:
    """`var[index]=value` of each foreach the task is in, outermost first, joined by
    ` › `, from its `_foreach_stack`: the tasks of a foreach body, and also the join tasks
    of a nested foreach that are still inside the outer one. The value is the runtime's
    string of the item."""
    try:
        stack = task["_foreach_stack"].data
    except KeyError:
        return None
    if not stack:
        return None
    if stack[-1].var == "_parallel_ubf_iter":
        # Knowingly different: a @parallel gang's members are labelled by their role
        # (control, worker N), not by Metaflow's internal gang iterator.
        return None
    # The full path, outermost first (`Task.index` gives only the innermost level).
    return " › ".join(f"{frame.var}[{frame.index}]={frame.value}" for frame in stack)


def _task_json(task: Any) -> JSON:
    flow_id, run_id, step_name, task_id = task.pathspec.split("/")
    status = _task_status(task)
    started_at = _ms(task.created_at)
    finished_at = _ms(task.finished_at)
    return {
        "flow_id": flow_id,
        "run_id": run_id,
        "step_name": step_name,
        "task_id": task_id,
        "status": status,
        "status_reason": "error" if status == "failed" and task.exception is not None else None,
        "caught": bool(task.finished and not task.successful),
        "attempt": task.current_attempt,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_ms": _duration(started_at, finished_at),
        "foreach_label": _foreach_label(task),
    }


def oracle_tasks(pathspec: str) -> list[JSON]:
    """Items of `GET …/runs/{run_id}/tasks` (a `Task` each), ordered by task id."""
    return [_task_json(task) for task in _all_tasks(_client().Run(pathspec))]


def oracle_task(task_pathspec: str) -> JSON:
    """`GET …/steps/{step}/tasks/{task_id}`: the `Task`, its `attempts` and `exception`
    (not `metadata`: the client drops the `attempt_id` of each entry)."""
    mf = _client()
    task = mf.Task(task_pathspec)
    result = _task_json(task)
    result["attempts"] = [
        _attempt_json(mf.Task(task_pathspec, attempt=n)) for n in range(task.current_attempt + 1)
    ]
    result["exception"] = _exception_json(task)
    return result


def _attempt_json(attempt_task: Any) -> JSON:
    # With an attempt given, the client reads that attempt's artifacts and metadata only.
    number = attempt_task.current_attempt
    starts = [
        entry.created_at
        for entry in attempt_task.metadata
        if entry.name == "attempt" and entry.value == str(number)
    ]
    status = _task_status(attempt_task)
    return {
        "attempt": number,
        "status": status,
        "status_reason": "error"
        if status == "failed" and attempt_task.exception is not None
        else None,
        # Metadata.created_at is the raw ts_epoch, already in milliseconds.
        "started_at": min(starts) if starts else None,
        "finished_at": _ms(attempt_task.finished_at),
    }


def _exception_json(task: Any) -> JSON | None:
    """The latest attempt's `_exception` (None when it succeeded or @catch caught it).
    `type` is module-qualified, e.g. `builtins.RuntimeError`."""
    wrapper = task.exception
    if wrapper is None:
        return None
    return {
        "type": wrapper.type,
        "message": wrapper.exception,
        "traceback": wrapper.stacktrace,
    }


# ---- artifacts, logs, cards ---------------------------------------------------------


def oracle_artifact_names(task_pathspec: str, attempt: int) -> list[str]:
    """Names from `GET …/artifacts?attempt=N` (public ones: the client hides `_`-names),
    sorted."""
    task = _client().Task(task_pathspec, attempt=attempt)
    return sorted(artifact.id for artifact in task)


def oracle_artifacts(task_pathspec: str, attempt: int) -> list[JSON]:
    """Items `{name, sha, size}` of `GET …/artifacts?attempt=N`, sorted by name; `size`
    is the stored (compressed pickle) size as the client reports it. No `type`: the
    client does not expose it."""
    task = _client().Task(task_pathspec, attempt=attempt)
    items = [{"name": a.id, "sha": a.sha, "size": a.size} for a in task]
    return sorted(items, key=lambda item: item["name"])


def oracle_log(task_pathspec: str, attempt: int, stream: str) -> str:
    """The whole log of one attempt, exactly as `Task(..., attempt=N).stdout`/`.stderr`:
    every line followed by a newline, sources merged by timestamp."""
    if stream not in ("stdout", "stderr"):
        raise ValueError(f"stream must be stdout or stderr, not {stream!r}")
    task = _client().Task(task_pathspec, attempt=attempt)
    return task.stdout if stream == "stdout" else task.stderr


def oracle_cards(task_pathspec: str) -> list[JSON]:
    """Cards of a task, sorted by type then id: `{id, type, hash, html}`. `id` is the
    card's user-given id (`@card(id=...)`) or None; `hash` names the stored file
    (`<type>[-<id>]-<hash>.html`); `html` is `Card.get()`, to compare with the body
    behind flowscope's card `url`. For a task cloned by resume, the client follows the
    origin task's cards."""
    mf = _client()
    from metaflow.cards import get_cards
    from metaflow.plugins.cards.exception import CardNotPresentException

    try:
        cards = list(get_cards(mf.Task(task_pathspec)))
    except CardNotPresentException:
        return []
    items = [
        {"id": card.id, "type": card.type, "hash": card.hash, "html": card.get()} for card in cards
    ]
    return sorted(items, key=lambda item: (item["type"], item["id"] or ""))


def oracle_run_count() -> int:
    """How many runs the client lists, over every flow."""
    mf = _client()
    return sum(len(list(flow.runs())) for flow in mf.Metaflow().flows)
