"""Writing planned runs into a `.metaflow` folder, file by file, as the local runtime does.

A run is written in three phases so that its tasks can be spread over processes:
`write_run_header` (flow, run and step records, the `_parameters` task), `write_task`
for each task (any process, any order), then `finish_run` (folder mtimes, `latest_run`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random
from typing import Any

from bench import layout
from bench.layout import Blobs, Owner, Pickled, pickled, pickled_exception
from bench.plans import Attempt, Flow, Run, Step, Task

PARAMETERS_STEP = "_parameters"
PARAMETERS_TASK = "0"
# Metadata the runtime records when it launches a task, and again when each attempt starts.
ENVIRONMENT_FIELDS = ("user", "runtime", "python_version", "metaflow_version", "script-name")


@dataclass(frozen=True)
class RunContext:
    """What a worker needs to write one run's tasks (small, cheap to send to a process)."""

    owner: Owner
    flow: Flow
    run_dir: str

    @staticmethod
    def of(root: str, run: Run) -> RunContext:
        owner = Owner(run.flow.name, run.run_id, run.user, run.system_tags, root)
        return RunContext(owner, run.flow, os.path.join(root, run.flow.name, run.run_id))


class TaskFiles:
    """The two folders of one task (`<task>/` and `<task>/_meta/`) and their records."""

    def __init__(self, ctx: RunContext, step: str, task_id: str) -> None:
        self.ctx = ctx
        self.step = step
        self.task_id = task_id
        self.task_dir = os.path.join(ctx.run_dir, step, task_id)
        self.meta_dir = os.path.join(self.task_dir, "_meta")
        os.makedirs(self.meta_dir)

    def put(self, name: str, data: bytes, ms: int) -> None:
        layout.write_file(os.path.join(self.task_dir, name), data, ms)

    def put_meta(self, name: str, data: bytes, ms: int) -> None:
        layout.write_file(os.path.join(self.meta_dir, name), data, ms)

    def self_record(self, ms: int) -> None:
        record = layout.self_record(self.ctx.owner, ms, step=self.step, task_id=self.task_id)
        self.put_meta("_self.json", record, ms)

    def sysmeta(
        self, field: str, value: Any, ms: int, attempt: int | None, type_: str | None = None
    ) -> None:
        owner = self.ctx.owner
        record = layout.sysmeta_record(
            owner, self.step, self.task_id, field, value, ms, attempt, type_
        )
        self.put_meta(f"sysmeta_{field}_{ms}.json", record, ms)

    def environment(self, attempt: int, ms: int) -> None:
        for name in ENVIRONMENT_FIELDS:
            self.sysmeta(name, _environment(self.ctx, name), ms, attempt)

    def artifacts(self, blobs: Blobs, attempt: int, values: dict[str, Pickled], ms: int) -> None:
        """Blobs, then `data.json` and `DONE.lock`; the artifact records land later,
        after `attempt-done` (the task registers its metadata last)."""
        stored = {name: (blobs.put(p, ms), len(p.blob), p.type) for name, p in values.items()}
        self.put(f"{attempt}.data.json", layout.data_record(attempt, stored), ms)
        self.put(f"{attempt}.DONE.lock", layout.EMPTY_DONE_LOCK, ms + 1)
        record_ms = ms + 21
        for name, (sha, _, _) in stored.items():
            record = layout.artifact_record(
                self.ctx.owner, self.step, self.task_id, attempt, name, sha, record_ms
            )
            self.put_meta(f"{attempt}_artifact_{name}.json", record, record_ms)

    def seal(self, meta_ms: int, task_ms: int) -> None:
        layout.set_mtime(self.meta_dir, meta_ms)
        layout.set_mtime(self.task_dir, task_ms)


class Writer:
    """Writes into one `.metaflow` folder; one per process (it caches the blobs it wrote)."""

    def __init__(self, root: str, seed: int = 0) -> None:
        self.root = root
        self.rng = Random(seed)
        self._blobs: dict[str, Blobs] = {}
        self._graphs: dict[str, Pickled] = {}
        # Large values shared by many tasks (a 100,000-item foreach list) are pickled once.
        # The value itself is kept so that its id() cannot be reused by another object.
        self._by_identity: dict[int, tuple[Any, Pickled]] = {}

    # ---- phases ---------------------------------------------------------------------

    def write_run_header(self, run: Run) -> None:
        ctx = RunContext.of(self.root, run)
        self._ensure_flow(run.flow, run.started_at)
        run_meta = os.path.join(ctx.run_dir, "_meta")
        os.makedirs(run_meta)
        ms = run.started_at + 2
        record = layout.self_record(ctx.owner, ms, tags=run.tags)
        layout.write_file(os.path.join(run_meta, "_self.json"), record, ms)
        layout.set_mtime(run_meta, ms)
        self._write_parameters_task(ctx, run)
        for step, first in _registrations(run, min).items():
            step_meta = os.path.join(ctx.run_dir, step, "_meta")
            os.makedirs(step_meta)
            record = layout.self_record(ctx.owner, first, step=step)
            layout.write_file(os.path.join(step_meta, "_self.json"), record, first)
            layout.set_mtime(step_meta, first)

    def write_task(self, ctx: RunContext, task: Task) -> None:
        files = TaskFiles(ctx, task.step, task.task_id)
        files.self_record(task.registered_at)
        files.environment(attempt=0, ms=task.registered_at + 4)
        for attempt in task.attempts:
            self._write_attempt(files, task, attempt)
        last = task.last.finished_at
        files.seal(meta_ms=last + 1, task_ms=last + 31)

    def finish_run(self, run: Run) -> None:
        """Folder mtimes as the last entry created in each left them; `latest_run`."""
        ctx = RunContext.of(self.root, run)
        for step, last in _registrations(run, max).items():
            layout.set_mtime(os.path.join(ctx.run_dir, step), last)
        step_created = _registrations(run, min).values()
        layout.set_mtime(ctx.run_dir, max(step_created, default=run.started_at + 14))
        flow_dir = os.path.join(self.root, run.flow.name)
        latest = os.path.join(flow_dir, "latest_run")
        layout.write_file(latest, run.run_id.encode(), run.started_at)
        layout.set_mtime(flow_dir, run.started_at)

    def forget_values(self) -> None:
        """Drop the pickles of shared values (call between batches of tasks)."""
        self._by_identity.clear()

    # ---- pieces ---------------------------------------------------------------------

    def _ensure_flow(self, flow: Flow, ms: int) -> None:
        flow_dir = os.path.join(self.root, flow.name)
        meta = os.path.join(flow_dir, "_meta")
        if os.path.isdir(meta):
            return
        os.makedirs(meta)
        os.makedirs(os.path.join(flow_dir, "data"), exist_ok=True)
        record = layout.dumps({"flow_id": flow.name, "ts_epoch": ms})
        layout.write_file(os.path.join(meta, "_self.json"), record, ms)
        layout.set_mtime(meta, ms)

    def _write_parameters_task(self, ctx: RunContext, run: Run) -> None:
        """The `_parameters` task: graph and parameter values, `attempt-done` but no other
        attempt metadata, no logs, and the graph's endpoints as untagged metadata."""
        t0 = run.started_at + 13
        step_meta = os.path.join(ctx.run_dir, PARAMETERS_STEP, "_meta")
        os.makedirs(step_meta)
        record = layout.self_record(ctx.owner, t0, step=PARAMETERS_STEP)
        layout.write_file(os.path.join(step_meta, "_self.json"), record, t0)
        files = TaskFiles(ctx, PARAMETERS_STEP, PARAMETERS_TASK)
        files.self_record(t0 + 1)
        files.environment(attempt=0, ms=t0 + 2)
        files.put("0.attempt.json", layout.attempt_marker(t0 + 4), t0 + 4)
        values = {
            "name": pickled(ctx.flow.name),
            "_transition": pickled(None),
            "_task_ok": pickled(True),
            "_success": pickled(True),
            "_graph_info": self._graph(ctx.flow),
            "_foreach_stack": pickled([]),
            "_configs_processed": pickled(True),
            **{name: pickled(value) for name, value in run.parameters.items()},
        }
        files.artifacts(self._blobs_of(ctx.flow.name), 0, values, t0 + 15)
        files.sysmeta("attempt-done", "0", t0 + 16, 0)
        for name, value in (("start_step", "start"), ("end_step", "end")):
            files.sysmeta(name, value, t0 + 23, None, "graph_structure")
        files.seal(meta_ms=t0 + 36, task_ms=t0 + 16)
        layout.set_mtime(step_meta, t0)
        layout.set_mtime(os.path.dirname(step_meta), t0 + 1)

    def _write_attempt(self, files: TaskFiles, task: Task, attempt: Attempt) -> None:
        n, start, end = attempt.number, attempt.started_at, attempt.finished_at
        ctx = files.ctx
        files.environment(attempt=n, ms=start - 40)
        files.put(f"{n}.attempt.json", layout.attempt_marker(start - 18), start - 18)
        for name, value in _attempt_metadata(ctx, task, n):
            files.sysmeta(name, value, start, n)
        files.put(f"{n}.task_begin", layout.task_begin_marker(n), start + 5)
        step = ctx.flow.step(task.step)
        values = task_artifacts(ctx.flow.name, task, attempt, step, self._graph(ctx.flow))
        pickles = {name: self._pickled(value) for name, value in values.items()}
        files.artifacts(self._blobs_of(ctx.flow.name), n, pickles, end - 20)
        files.sysmeta("attempt_ok", str(attempt.ok), end - 17, n, "internal_attempt_status")
        files.sysmeta("attempt-done", str(n), end, n)
        files.put(f"{n}.task_end", b"{}", end + 2)
        stdout, stderr = streams(ctx.flow, task, attempt)
        for stream, lines in (("stdout", stdout), ("stderr", stderr)):
            log = layout.mflog(lines, start * 1000, end * 1000, self.rng)
            files.put(f"{n}.runtime_{stream}.log", log, end + 30)
        files.put(f"{n}.runtime", layout.runtime_marker(attempt.ok), end + 31)

    def _blobs_of(self, flow_id: str) -> Blobs:
        blobs = self._blobs.get(flow_id)
        if blobs is None:
            blobs = self._blobs[flow_id] = Blobs(os.path.join(self.root, flow_id))
        return blobs

    def _graph(self, flow: Flow) -> Pickled:
        graph = self._graphs.get(flow.name)
        if graph is None:
            graph = self._graphs[flow.name] = pickled(flow.graph_info())
        return graph

    def _pickled(self, value: Any) -> Pickled:
        if isinstance(value, Pickled):
            return value
        if not isinstance(value, list | dict | tuple) or not value:
            return pickled(value)
        known = self._by_identity.get(id(value))
        if known is None:
            known = self._by_identity[id(value)] = (value, pickled(value))
        return known[1]


def task_artifacts(
    flow_name: str, task: Task, attempt: Attempt, step: Step, graph: Pickled | None = None
) -> dict[str, Any]:
    """Every artifact one attempt stores (a failed attempt: only what it inherited).

    Values are plain objects, or `Pickled` for those that need Metaflow's own classes.
    """
    ok = attempt.ok
    artifacts: dict[str, Any] = {
        "name": flow_name,
        "_transition": _transition(step) if ok else None,
        "_task_ok": ok,
        "_success": ok and not task.caught,
        "_graph_info": graph,
        "_foreach_stack": layout.pickled_foreach_stack(task.foreach),
        "_configs_processed": True,
        **task.inherited,
        "_iteration_stack": [],
        "_foreach_var": None,
        "_foreach_num_splits": None,
        "_exception": None if ok else _exception(task),
        "_current_step": task.step,
    }
    if not ok:
        return artifacts
    if step.type == "split-foreach" and step.foreach_artifact:
        artifacts["_foreach_var"] = step.foreach_artifact
        artifacts["_foreach_num_splits"] = len(task.values[step.foreach_artifact])
    artifacts.update(task.values)
    if task.caught:
        artifacts["failure"] = artifacts["_catch_exception"] = _exception(task)
    return artifacts


def streams(flow: Flow, task: Task, attempt: Attempt) -> tuple[list[str], list[str]]:
    """The lines of an attempt's stdout and stderr: what the step printed, plus what the
    runtime adds when it raised (stderr) or what @catch prints when it caught (stdout)."""
    if not attempt.ok:
        return attempt.stdout, attempt.stderr + _failure_report(flow, task)
    if task.caught and attempt is task.last:
        report = [f"@catch caught an exception from <flow {flow.name} step {task.step}>"]
        report += [f">  {line}" for line in _traceback(task).rstrip("\n").split("\n")]
        return attempt.stdout + report, attempt.stderr
    return attempt.stdout, attempt.stderr


def _transition(step: Step) -> tuple[list[str], str | None] | None:
    if step.type == "end":
        return None
    return (list(step.next), step.foreach_artifact)


def _exception(task: Task) -> Pickled:
    type_name, message = task.error
    return pickled_exception(f"builtins.{type_name}", message, _traceback(task))


def _traceback(task: Task) -> str:
    type_name, message = task.error
    return (
        "Traceback (most recent call last):\n"
        f'  File "/home/user/project/flow.py", line 42, in {task.step}\n'
        f"    raise {type_name}({message!r})\n"
        f"{type_name}: {message}\n"
    )


def _failure_report(flow: Flow, task: Task) -> list[str]:
    """What the runtime adds to stderr when an attempt raises."""
    return [
        f"<flow {flow.name} step {task.step}> failed:",
        "    Internal error",
        *_traceback(task).rstrip("\n").split("\n"),
        "",
        "Task failed.",
    ]


def _environment(ctx: RunContext, name: str) -> str:
    values = {
        "user": ctx.owner.user,
        "runtime": "dev",
        "python_version": layout.PYTHON_VERSION,
        "metaflow_version": layout.METAFLOW_VERSION,
        "script-name": ctx.flow.script,
    }
    return values[name]


def _attempt_metadata(ctx: RunContext, task: Task, attempt: int) -> Iterator[tuple[str, Any]]:
    yield "attempt", str(attempt)
    yield "origin-run-id", "None"
    yield "ds-type", "local"
    yield "ds-root", ctx.owner.ds_root
    if task.foreach:
        yield "foreach-stack", [f"{f.var}={f.value}" for f in task.foreach]
        yield "foreach-execution-path", ",".join(f"{f.step}:{f.index}" for f in task.foreach)


def _registrations(run: Run, pick: Any) -> dict[str, int]:
    """Per step, `pick` (min or max) of its tasks' registration times."""
    found: dict[str, int] = {}
    for task in run.tasks:
        known = found.get(task.step)
        found[task.step] = task.registered_at if known is None else pick(known, task.registered_at)
    return found
