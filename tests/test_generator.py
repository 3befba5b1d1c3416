"""The benchmark generator (`bench/`) writes what Metaflow 2.19 writes.

The Metaflow client is the judge: it reads the generated datastore in a fresh process
(it reads its configuration once per process) and must see the runs, steps, tasks,
outcomes, attempts, artifacts, parameters, tags and logs the generator planned. Then
flowscope's indexer must index the same folder without an error, with the planned
statuses, and find nothing to re-read on a second pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench import scenarios
from bench.generate import write_runs
from bench.plans import Run, Task
from bench.writer import streams, task_artifacts
from starlette.testclient import TestClient

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store

# Six small runs cover every shape: a linear run, a retried task (TrainFlow #2), failed
# runs (a foreach task, a static branch), a task @catch swallowed (BranchFlow #3).
SMALL = {"count": 6, "seed": 7, "fail_every": 2, "foreach_width": 4}
BIG = {"tasks": 20, "seed": 3, "retry_every": 7, "catch_every": 10}

CLIENT_DUMP = """
import hashlib, json, pickle, sys
from metaflow import Metaflow, Task, namespace

namespace(None)

def ms(when):
    return round(when.timestamp() * 1000) if when is not None else None

def same_bytes(artifact):
    # Pickled again by Metaflow's own classes, the value must give the very same blob.
    return hashlib.sha1(pickle.dumps(artifact.data, protocol=4)).hexdigest() == artifact.sha

def task_facts(task):
    facts = {
        "successful": task.successful,
        "finished": task.finished,
        "current_attempt": task.current_attempt,
        "created_at": ms(task.created_at),
        "artifacts": sorted(a.id for a in task),
        "stdout": task.stdout,
        "stderr": task.stderr,
        "index": task.index,
        "exception": getattr(task.exception, "type", None),
        "exact_pickles": all(same_bytes(task[name]) for name in ("_foreach_stack", "_exception")),
    }
    if task.current_attempt > 0:
        facts["first_stdout"] = Task(task.pathspec, attempt=0).stdout
    return facts

runs = {}
for flow in Metaflow():
    for run in flow:
        parameters = run["_parameters"].task
        runs[run.pathspec] = {
            "successful": run.successful,
            "finished": run.finished,
            "user_tags": sorted(run.user_tags),
            "system_tags": sorted(run.system_tags),
            "created_at": ms(run.created_at),
            "parameters": {
                a.id: a.data for a in parameters if not a.id.startswith("_") and a.id != "name"
            },
            "graph_params": [p["name"] for p in parameters["_graph_info"].data["parameters"]],
            "tasks": {task.pathspec: task_facts(task) for step in run for task in step},
        }
json.dump(runs, sys.stdout)
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Run]]:
    """A sysroot with six small runs and one run of twenty foreach tasks."""
    sysroot = tmp_path_factory.mktemp("generated")
    runs = [*scenarios.small_runs(**SMALL), scenarios.big_run(**BIG)]
    write_runs(sysroot / ".metaflow", runs, workers=1)
    return sysroot, runs


@pytest.fixture(scope="module")
def client_view(generated: tuple[Path, list[Run]]) -> dict[str, Any]:
    sysroot, _ = generated
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    env.update(
        METAFLOW_DATASTORE_SYSROOT_LOCAL=str(sysroot),
        METAFLOW_DEFAULT_METADATA="local",
        METAFLOW_DEFAULT_DATASTORE="local",
        METAFLOW_HOME=str(sysroot / "metaflow-home"),
    )
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_DUMP],
        env=env,
        cwd=sysroot,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def _pathspec(run: Run, task: Task | None = None) -> str:
    base = f"{run.flow.name}/{run.run_id}"
    return base if task is None else f"{base}/{task.step}/{task.task_id}"


def _planned_tasks(runs: list[Run]) -> Iterator[tuple[Run, Task]]:
    for run in runs:
        for task in run.tasks:
            yield run, task


def _stdout(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def test_the_plan_covers_every_outcome(generated: tuple[Path, list[Run]]) -> None:
    _, runs = generated
    tasks = [task for _, task in _planned_tasks(runs)]
    assert {run.status for run in runs} == {"completed", "failed"}
    assert any(len(task.attempts) > 1 and task.successful for task in tasks)
    assert any(task.caught for task in tasks)
    assert any(not task.finished for task in tasks)
    assert sum(task.step == "work" for task in tasks) == BIG["tasks"]


def test_client_lists_the_planned_runs(
    generated: tuple[Path, list[Run]], client_view: dict[str, Any]
) -> None:
    _, runs = generated
    assert set(client_view) == {_pathspec(run) for run in runs}
    for run in runs:
        seen = client_view[_pathspec(run)]
        assert seen["successful"] is run.successful, run.run_id
        assert seen["finished"] is run.finished, run.run_id
        assert seen["user_tags"] == sorted(run.tags)
        assert seen["system_tags"] == sorted(run.system_tags)
        assert seen["created_at"] == run.started_at + 2
        assert seen["parameters"] == run.parameters
        assert seen["graph_params"] == sorted(run.flow.parameters)


def test_client_sees_every_task_as_planned(
    generated: tuple[Path, list[Run]], client_view: dict[str, Any]
) -> None:
    _, runs = generated
    for run, task in _planned_tasks(runs):
        run_view = client_view[_pathspec(run)]["tasks"]
        seen = run_view[_pathspec(run, task)]
        last = task.last
        assert seen["successful"] is task.successful, _pathspec(run, task)
        assert seen["finished"] is task.finished, _pathspec(run, task)
        assert seen["current_attempt"] == last.number
        assert seen["created_at"] == task.registered_at
        step = run.flow.step(task.step)
        # The client lists only public artifacts (no leading underscore).
        planned = task_artifacts(run.flow.name, task, last, step)
        assert seen["artifacts"] == sorted(name for name in planned if not name.startswith("_"))
        stdout, stderr = streams(run.flow, task, last)
        assert (seen["stdout"], seen["stderr"]) == (_stdout(stdout), _stdout(stderr))
        assert seen["index"] == (task.foreach[-1].index if task.foreach else None)
        failed_type = None if last.ok else f"builtins.{task.error[0]}"
        assert seen["exception"] == failed_type
        assert seen["exact_pickles"], _pathspec(run, task)
        if len(task.attempts) > 1:
            assert seen["first_stdout"] == _stdout(streams(run.flow, task, task.attempts[0])[0])
    task_count = sum(len(run.tasks) for run in runs)
    assert sum(len(view["tasks"]) for view in client_view.values()) == task_count


def test_flowscope_indexes_the_planned_statuses(
    generated: tuple[Path, list[Run]], tmp_path: Path
) -> None:
    sysroot, runs = generated
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    try:
        indexer = LocalIndexer(store, sysroot / ".metaflow")
        first = indexer.index_once()
        assert (first.errors, first.runs_seen, first.runs_read) == (0, len(runs), len(runs))
        # Generated runs ended minutes ago: sealed, so a second pass reads nothing.
        again = indexer.index_once()
        assert (again.errors, again.runs_read, again.tasks_read) == (0, 0, 0)

        ctx = AppContext(store=store)
        ctx.index.ready.set()
        with TestClient(create_app(ctx)) as api:
            for run in runs:
                _check_run_in_api(api, run)
    finally:
        store.close()


def _check_run_in_api(api: TestClient, run: Run) -> None:
    base = f"/api/v1/flows/{run.flow.name}/runs/{run.run_id}"
    detail = api.get(base).json()
    assert detail["status"] == run.status, run.run_id
    assert detail["started_at"] == run.started_at + 2
    assert detail["user"] == run.user
    assert detail["tags"] == sorted(run.tags)
    assert detail["task_count"] == len(run.tasks)
    assert detail["parameters"] == {k: repr(v) for k, v in run.parameters.items()}
    if run.status == "failed":
        assert detail["status_reason"] == "error"
    tasks = api.get(f"{base}/tasks", params={"limit": 5000}).json()["items"]
    seen = {(t["step_name"], t["task_id"]): t for t in tasks}
    assert set(seen) == {(t.step, t.task_id) for t in run.tasks}
    for task in run.tasks:
        item = seen[(task.step, task.task_id)]
        where = f"{run.run_id}/{task.step}/{task.task_id}"
        assert item["status"] == task.status, where
        assert item["caught"] is task.caught, where
        assert item["attempt"] == task.last.number, where
        assert item["started_at"] == task.registered_at, where
        assert item["finished_at"] == task.finished_at, where
        label = " › ".join(f"{f.var}[{f.index}]={f.value}" for f in task.foreach) or None
        assert item["foreach_label"] == label, where
