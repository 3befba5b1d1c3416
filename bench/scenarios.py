"""Plans of runs to generate: many small runs of a few flows, or one very large run.

Times follow the local runtime: a task is registered when a worker slot frees up (at
most 16 at once, Metaflow's default `--max-workers`), its attempt starts after the
process has started, a retry starts right after the failed attempt. Everything is
drawn from a seeded `Random`, so a seed always gives the same runs.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random
from typing import Any

from bench.layout import Frame
from bench.plans import RETRY_TIMES, Attempt, Flow, Run, Step, Task

MAX_WORKERS = 16
LAUNCH_MS = 650  # task registered -> its attempt starts (process start-up)
HANDOFF_MS = 45  # a task done -> the next one registered
RETRY_GAP_MS = 300
USERS = ("alice", "bob", "carol", "dave", "erin")
TAG_POOL = ("nightly", "experiment", "prod", "ab-test", "v2", "baseline", "team:ml")
# Generated runs end this long before "now", so that they read as finished and settled.
SETTLED_MS = 10 * 60_000

HELLO = Flow(
    name="HelloFlow",
    doc="start, process, end: the smallest useful flow.",
    steps=(
        Step("start", "start", ("process",), doc="Greets."),
        Step("process", "linear", ("end",), doc="Does the work."),
        Step("end", "end"),
    ),
    structure=("start", "process", "end"),
    parameters=("alpha", "label"),
)
FANOUT = Flow(
    name="FanoutFlow",
    doc="start fans out over `items`; join sums the squares.",
    steps=(
        Step("start", "split-foreach", ("square",), foreach_artifact="items", matching_join="join"),
        Step("square", "linear", ("join",)),
        Step("join", "join", ("end",)),
        Step("end", "end"),
    ),
    structure=("start", (("square",),), "join", "end"),
    parameters=("scale",),
)
TRAIN = Flow(
    name="TrainFlow",
    doc="A training pipeline under @project; `train` is retried.",
    steps=(
        Step("start", "start", ("train",)),
        Step("train", "linear", ("evaluate",), decorators=("retry",)),
        Step("evaluate", "linear", ("end",)),
        Step("end", "end"),
    ),
    structure=("start", "train", "evaluate", "end"),
    parameters=("epochs", "lr"),
    project="demo_project",
)
BRANCH = Flow(
    name="BranchFlow",
    doc="start splits into left and right (right under @catch), which join again.",
    steps=(
        Step("start", "split-static", ("left", "right"), matching_join="join"),
        Step("left", "linear", ("join",)),
        Step("right", "linear", ("join",), decorators=("catch",)),
        Step("join", "join", ("end",)),
        Step("end", "end"),
    ),
    structure=("start", (("left",), ("right",)), "join", "end"),
)
BIG = Flow(
    name="BigForeachFlow",
    doc="One wide foreach: start -> work (N tasks, @retry, @catch) -> join -> end.",
    steps=(
        Step("start", "split-foreach", ("work",), foreach_artifact="items", matching_join="join"),
        Step("work", "linear", ("join",), decorators=("retry", "catch")),
        Step("join", "join", ("end",)),
        Step("end", "end"),
    ),
    structure=("start", (("work",),), "join", "end"),
    parameters=("n",),
)
SMALL_FLOWS = (HELLO, FANOUT, TRAIN, BRANCH)


@dataclass
class RunBuilder:
    """Accumulates the tasks of one run, handing out task ids in launch order."""

    flow: Flow
    started_at: int
    rng: Random
    shared: dict[str, Any]  # parameters and `name`: what every task inherits
    tasks: list[Task] = field(default_factory=list)
    next_id: int = 1

    def task(
        self,
        step: str,
        registered_at: int,
        outcomes: tuple[bool, ...] = (True,),
        values: dict[str, Any] | None = None,
        inherited: dict[str, Any] | None = None,
        stdout: list[str] | None = None,
        foreach: tuple[Frame, ...] = (),
        caught: bool = False,
        duration: tuple[int, int] = (300, 3000),
    ) -> Task:
        attempts = []
        clock = registered_at + LAUNCH_MS + self.rng.randrange(200)
        for number, ok in enumerate(outcomes):
            end = clock + self.rng.randrange(*duration)
            lines = [f"[{step}] attempt {number}", *(stdout or [])]
            attempts.append(Attempt(number, clock, end, ok, stdout=lines))
            clock = end + RETRY_GAP_MS
        task = Task(
            step=step,
            task_id=str(self.next_id),
            registered_at=registered_at,
            attempts=attempts,
            values=values or {},
            inherited={**self.shared, **(inherited or {})},
            foreach=foreach,
            caught=caught,
            error=("RuntimeError", f"{step} failed on purpose"),
        )
        self.next_id += 1
        self.tasks.append(task)
        return task

    def after(self, *tasks: Task) -> int:
        """When tasks that wait for `tasks` are registered."""
        return max(t.finished_at for t in tasks) + HANDOFF_MS


def run_id_at(ms: int, rng: Random) -> str:
    # The local runtime names runs by the start time in microseconds.
    return str(ms * 1000 + rng.randrange(1000))


# ---- many small runs ----------------------------------------------------------------


def small_runs(
    count: int,
    seed: int = 0,
    fail_every: int = 10,
    foreach_width: int = 8,
    days: float = 30.0,
    end_at: int | None = None,
) -> Iterator[Run]:
    """`count` runs cycling through four flows; every `fail_every`-th run fails."""
    rng = Random(seed)
    end_at = end_at if end_at is not None else int(time.time() * 1000) - SETTLED_MS
    spacing = max(1, int(days * 86_400_000 / max(count, 1)))
    first_start = end_at - count * spacing
    for i in range(count):
        flow = SMALL_FLOWS[i % len(SMALL_FLOWS)]
        started_at = first_start + i * spacing + rng.randrange(max(1, spacing // 4))
        fails = fail_every > 0 and i % fail_every == fail_every - 1
        yield _small_run(flow, i, started_at, fails, foreach_width, rng)


def _small_run(flow: Flow, i: int, started_at: int, fails: bool, width: int, rng: Random) -> Run:
    user = USERS[rng.randrange(len(USERS))]
    tags = sorted(rng.sample(TAG_POOL, k=rng.randrange(3)))
    params = _parameters(flow, i)
    builder = RunBuilder(flow, started_at, rng, shared={**params})
    builders = {HELLO: _hello, FANOUT: _fanout, TRAIN: _train, BRANCH: _branch}
    builders[flow](builder, i, fails, width)
    return Run(flow, run_id_at(started_at, rng), user, tags, started_at, params, builder.tasks)


def _parameters(flow: Flow, i: int) -> dict[str, Any]:
    if flow is HELLO:
        return {"alpha": round(0.1 * (i % 10), 1), "label": f"batch-{i % 7}"}
    if flow is FANOUT:
        return {"scale": 1 + i % 3}
    if flow is TRAIN:
        return {"epochs": 5 + i % 4, "lr": 0.01}
    return {}


def _first_registration(builder: RunBuilder) -> int:
    # The runtime launches `start` right after the `_parameters` task.
    return builder.started_at + 44


def _hello(b: RunBuilder, i: int, fails: bool, width: int) -> None:
    start = b.task("start", _first_registration(b), values={"greeting": "hello"}, stdout=["Hello!"])
    process = b.task(
        "process",
        b.after(start),
        outcomes=(not fails,),
        values={"result": i % 10},
        inherited={"greeting": "hello"},
        stdout=[f"processing batch {i % 7}"],
    )
    if not fails:
        b.task("end", b.after(process), inherited={"greeting": "hello", "result": i % 10})


def _fanout(b: RunBuilder, i: int, fails: bool, width: int) -> None:
    scale = b.shared["scale"]
    items = [round(scale * k * 0.5, 2) for k in range(width)]
    values = {"items": items, "_foreach_values": [str(v) for v in items]}
    start = b.task("start", _first_registration(b), values=values, stdout=[f"{width} items"])
    failing = 3 if fails else None
    squares = _foreach(b, "square", start, "items", items, values, failing_index=failing)
    if fails:
        return
    total = sum(v * v for v in items)
    join = b.task("join", b.after(*squares), values={"total": total})
    b.task("end", b.after(join), inherited={"total": total}, stdout=[f"total={total}"])


def _foreach(
    b: RunBuilder,
    step: str,
    parent: Task,
    var: str,
    items: list[Any],
    inherited: dict[str, Any],
    failing_index: int | None = None,
    retry_every: int = 0,
    catch_every: int = 0,
    duration: tuple[int, int] = (300, 3000),
) -> list[Task]:
    """One task per item, launched in order as worker slots free up."""
    ready = b.after(parent)
    free = [ready] * MAX_WORKERS
    tasks = []
    for index, item in enumerate(items):
        registered = max(ready, heapq.heappop(free))
        outcomes, caught = _foreach_outcomes(index, failing_index, retry_every, catch_every)
        frame = Frame(step, var, len(items), index, str(item))
        task = b.task(
            step,
            registered,
            outcomes=outcomes,
            values={"result": item * item if isinstance(item, float) else index % 97},
            inherited=inherited,
            stdout=[f"item {index}: {item}"],
            foreach=(frame,),
            caught=caught,
            duration=duration,
        )
        heapq.heappush(free, task.finished_at + HANDOFF_MS)
        tasks.append(task)
    return tasks


def _foreach_outcomes(
    index: int, failing_index: int | None, retry_every: int, catch_every: int
) -> tuple[tuple[bool, ...], bool]:
    """(attempt outcomes, caught) of one foreach task."""
    if index == failing_index:
        return (False,), False
    if catch_every and index % catch_every == catch_every // 2:
        # @retry ran out; @catch swallows the exception in the last attempt.
        return (False,) * RETRY_TIMES + (True,), True
    if retry_every and index % retry_every == retry_every - 1:
        return (False, True), False
    return (True,), False


def _train(b: RunBuilder, i: int, fails: bool, width: int) -> None:
    start = b.task("start", _first_registration(b), stdout=["loading data"])
    if fails:
        outcomes: tuple[bool, ...] = (False,) * (RETRY_TIMES + 1)
    elif (i // len(SMALL_FLOWS)) % 3 == 0:
        outcomes = (False, True)
    else:
        outcomes = (True,)
    train = b.task(
        "train",
        b.after(start),
        outcomes=outcomes,
        values={"loss": 0.25},
        stdout=[f"epoch {e}" for e in range(b.shared["epochs"])],
    )
    if fails:
        return
    evaluate = b.task(
        "evaluate", b.after(train), values={"accuracy": 0.9}, inherited={"loss": 0.25}
    )
    b.task("end", b.after(evaluate), inherited={"loss": 0.25, "accuracy": 0.9})


def _branch(b: RunBuilder, i: int, fails: bool, width: int) -> None:
    start = b.task("start", _first_registration(b), values={"seed": i % 5})
    ready = b.after(start)
    left = b.task(
        "left", ready, outcomes=(not fails,), values={"side": "left"}, inherited={"seed": i % 5}
    )
    caught = (i // len(SMALL_FLOWS)) % 5 == 0
    right = b.task(
        "right",
        ready + 3,
        values={"side": "right"},
        inherited={"seed": i % 5},
        caught=caught,
        stdout=["right side"],
    )
    if fails:
        return
    join = b.task("join", b.after(left, right), values={"sides": ["left", "right"]})
    b.task("end", b.after(join), inherited={"sides": ["left", "right"]})


# ---- one big run --------------------------------------------------------------------


def big_run(
    tasks: int,
    seed: int = 0,
    retry_every: int = 1000,
    catch_every: int = 5000,
    end_at: int | None = None,
) -> Run:
    """start -> work x `tasks` -> join -> end; every `retry_every`-th work task needs a
    second attempt, every `catch_every`-th fails all its attempts and @catch records it."""
    rng = Random(seed)
    params = {"n": tasks}
    builder = RunBuilder(BIG, 0, rng, shared=dict(params))
    items = list(range(tasks))
    values = {"items": items, "_foreach_values": [str(v) for v in items]}
    start = builder.task("start", 44, values=values, stdout=[f"{tasks} items"])
    work = _foreach(
        builder,
        "work",
        start,
        "items",
        items,
        values,
        retry_every=retry_every,
        catch_every=catch_every,
        duration=(1000, 6000),
    )
    join = builder.task("join", builder.after(*work), values={"done": tasks})
    builder.task("end", builder.after(join), inherited={"done": tasks})
    # Planned from t=0; shift so that the run ended a little before `end_at`.
    end_at = end_at if end_at is not None else int(time.time() * 1000) - SETTLED_MS
    offset = end_at - builder.tasks[-1].finished_at
    for task in builder.tasks:
        _shift(task, offset)
    return Run(BIG, run_id_at(offset, rng), "alice", ["scale-test"], offset, params, builder.tasks)


def _shift(task: Task, offset: int) -> None:
    task.registered_at += offset
    for attempt in task.attempts:
        attempt.started_at += offset
        attempt.finished_at += offset
