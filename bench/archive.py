"""A realistic archive written straight into an index database (issue 10).

    python -m bench.generate --db URL archive --runs 1000000 --big-run-tasks 100000 --seed 0

About 50 flows of a few shapes (linear, a foreach, a static branch), 200 users whose
activity follows a power law, a scheduler that runs some flows nightly on Argo, thousands
of tags (experiments, datasets and sweeps that come and go over time, a few common ones),
projects with `prod`, `test.*` and `user.*` branches, Metaflow versions that change over
the two years the runs span, and a status mix with failures (mostly errors, some runs
killed or lost), retried attempts and a few runs still going. Every run has its steps,
tasks and attempts. One run of `--big-run-tasks` foreach tasks (16 at a time, every
1,000th task retried, every 5,000th failing all three attempts under @catch) is the
newest run of its flow; its pathspec is printed.

Runs go in through `flowscope.store.bulk`, in the store's own schema. The same seed gives
the same archive.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import time
from dataclasses import dataclass
from random import Random
from typing import Any

import orjson

from bench.plans import Flow, Step
from flowscope.store import Store
from flowscope.store import schema as s
from flowscope.store.bulk_load import BulkWriter, bulk_load
from flowscope.store.records import task_sort_key

SOURCE = ("generator", "bench.archive")
STATE_KEY = "bench.archive"
SPAN_MS = 2 * 365 * 86_400_000  # the runs cover the last two years
FLUSH_RUNS = 20_000
WORKERS = 16  # Metaflow's default --max-workers

RUN_COLUMNS = (
    "pk", "source_id", "flow_id", "run_id", "user", "status", "status_reason", "started_at",
    "finished_at", "duration_ms", "tags", "system_tags", "project", "branch", "parameters",
    "graph", "origin_run_id", "first_failure_step", "first_failure_task", "task_count",
    "last_activity_at", "fingerprint", "sealed",
)  # fmt: skip
TAG_COLUMNS = ("run_pk", "tag", "is_system", "started_at", "flow_id")
STEP_COLUMNS = (
    "run_pk", "step_name", "position", "type", "status", "started_at", "finished_at",
    "pending", "running", "completed", "failed",
)  # fmt: skip
TASK_COLUMNS = (
    "pk", "run_pk", "step_name", "task_id", "task_key", "status", "status_reason", "caught",
    "attempt", "started_at", "finished_at", "duration_ms", "foreach_label", "fingerprint",
)  # fmt: skip
ATTEMPT_COLUMNS = ("task_pk", "attempt", "status", "status_reason", "started_at", "finished_at")

WORDS = [
    "Train",
    "Score",
    "Ingest",
    "Feature",
    "Embed",
    "Rank",
    "Forecast",
    "Clean",
    "Label",
    "Evaluate",
    "Deploy",
    "Backfill",
    "Sample",
    "Tune",
    "Index",
    "Export",
    "Audit",
    "Cluster",
    "Predict",
    "Monitor",
    "Merge",
    "Split",
    "Refresh",
    "Sync",
    "Report",
]
NOUNS = ["Model", "Data", "Pipeline", "Job", "Batch", "Graph", "Table", "Metrics", "Report", "Set"]
SYLLABLES = [
    "al",
    "be",
    "ca",
    "da",
    "el",
    "fa",
    "gi",
    "ha",
    "io",
    "ju",
    "ka",
    "le",
    "mi",
    "no",
    "ol",
    "pa",
    "qu",
    "ri",
    "sa",
    "ti",
    "ul",
    "vi",
    "wo",
    "xa",
    "yu",
    "zo",
]
COMMON_TAGS = ("baseline", "wip", "debug", "gpu", "large", "small", "hotfix", "v2")
PROJECTS = tuple(
    f"{a}_{b}"
    for a, b in zip(
        [
            "search",
            "ads",
            "recs",
            "fraud",
            "pricing",
            "vision",
            "speech",
            "growth",
            "ranking",
            "safety",
            "ops",
            "finance",
        ],
        [
            "ml",
            "core",
            "v2",
            "lab",
            "platform",
            "ai",
            "models",
            "eng",
            "team",
            "infra",
            "data",
            "svc",
        ],
        strict=True,
    )
)


@dataclass(frozen=True)
class ArchiveFlow:
    name: str
    steps: tuple[Step, ...]
    graph: str  # the `_graph_info` JSON every run of it stores
    weight: float
    median_ms: float
    fail_rate: float
    width: tuple[int, int]  # foreach width range; (0, 0) when the flow has no foreach
    project: str | None
    scheduled: bool  # also run nightly by the scheduler
    parameters: tuple[str, ...]


@dataclass
class ArchiveResult:
    runs: int
    tasks: int
    seconds: float
    big_run: str | None


# ---- the flows, users and tags --------------------------------------------------------


def _shape(kind: int, rng: Random) -> tuple[tuple[Step, ...], tuple[Any, ...]]:
    if kind == 0:  # linear: start -> a -> b ... -> end
        middle = [f"step_{i}" for i in range(rng.randint(1, 4))]
        names = ["start", *middle, "end"]
        steps = tuple(
            Step(n, "start" if n == "start" else "end" if n == "end" else "linear", nxt)
            for n, nxt in zip(names, [(x,) for x in names[1:]] + [()], strict=True)
        )
        return steps, tuple(names)
    if kind == 1:  # foreach: start -> work (xN) -> join -> end
        steps = (
            Step(
                "start", "split-foreach", ("work",), foreach_artifact="items", matching_join="join"
            ),
            Step("work", "linear", ("join",), decorators=("retry",)),
            Step("join", "join", ("end",)),
            Step("end", "end"),
        )
        return steps, ("start", (("work",),), "join", "end")
    steps = (  # a static branch: start -> (left, right) -> join -> end
        Step("start", "split-static", ("left", "right"), matching_join="join"),
        Step("left", "linear", ("join",)),
        Step("right", "linear", ("join",), decorators=("catch",)),
        Step("join", "join", ("end",)),
        Step("end", "end"),
    )
    return steps, ("start", (("left",), ("right",)), "join", "end")


def make_flows(rng: Random, count: int = 50) -> list[ArchiveFlow]:
    names: list[str] = []
    for a, b in itertools.product(WORDS, NOUNS):
        names.append(f"{a}{b}Flow")
    rng.shuffle(names)
    flows = []
    for i, name in enumerate(names[:count]):
        kind = 1 if i == 0 else rng.choice((0, 0, 0, 0, 1, 2))
        steps, structure = _shape(kind, rng)
        project = rng.choice(PROJECTS) if rng.random() < 0.6 else None
        params = tuple(rng.sample(("alpha", "epochs", "lr", "date", "sample", "region"), 2))
        plan = Flow(
            name, f"{name}: generated for the scale benchmark.", steps, structure, params, project
        )
        flows.append(
            ArchiveFlow(
                name=name,
                steps=steps,
                graph=orjson.dumps(plan.graph_info()).decode(),
                weight=1.0 / (i + 1) ** 0.9,
                median_ms=math.exp(rng.uniform(math.log(30_000), math.log(7_200_000))),
                fail_rate=rng.uniform(0.03, 0.2),
                width=(rng.randint(2, 4), rng.randint(6, 16)) if kind == 1 else (0, 0),
                project=project,
                scheduled=rng.random() < 0.3,
                parameters=params,
            )
        )
    return flows


def make_users(rng: Random, count: int = 200) -> list[str]:
    users: set[str] = set()
    while len(users) < count:
        users.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))))
    return sorted(users)


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


# ---- one run's rows -------------------------------------------------------------------


class ArchiveWriter:
    """Generates runs in start order and hands their rows to the bulk writer in batches."""

    def __init__(self, bulk: BulkWriter, source_id: int, seed: int, runs: int, now: int) -> None:
        self.bulk = bulk
        self.source_id = source_id
        self.rng = Random(seed)
        self.flows = make_flows(self.rng)
        self.users = make_users(self.rng)
        self.flow_cum = _cumulative([f.weight for f in self.flows])
        self.user_cum = _cumulative([1.0 / (i + 1) ** 1.1 for i in range(len(self.users))])
        self.runs = runs
        self.now = now
        self.run_pk = 0
        self.task_pk = 0
        self.tasks_written = 0
        self.rows: dict[str, list[tuple[Any, ...]]] = {
            k: [] for k in ("runs", "tags", "steps", "tasks", "attempts")
        }

    # The big run belongs to the first flow (a foreach); no run of it starts after it.
    @property
    def big_flow(self) -> ArchiveFlow:
        return self.flows[0]

    def write_archive(self, big_run_started: int | None) -> None:
        rng = self.rng
        gap = SPAN_MS / max(1, self.runs)
        first = self.now - SPAN_MS - 60_000
        for i in range(self.runs):
            # One run in each slot of `gap`, at a random moment of it: in order, distinct.
            started = first + int((i + rng.random()) * gap)
            self.add_run(started, i, big_run_started)
            if len(self.rows["runs"]) >= FLUSH_RUNS:
                self.flush()
        self.flush()

    def _pick_flow(self, started: int, big_run_started: int | None) -> ArchiveFlow:
        while True:
            flow = self.flows[bisect.bisect(self.flow_cum, self.rng.random() * self.flow_cum[-1])]
            if big_run_started is None or flow is not self.big_flow or started < big_run_started:
                return flow

    def add_run(self, started: int, i: int, big_run_started: int | None) -> None:
        rng = self.rng
        flow = self._pick_flow(started, big_run_started)
        hour = (started // 3_600_000) % 24
        scheduled = flow.scheduled and hour < 4 and rng.random() < 0.8
        if scheduled:
            user = "prod-scheduler"
            runtime = "argo-workflows"
            run_id = f"argo-{flow.name.lower()[:20]}-{''.join(rng.choices('bcdfghjklmnpqrstvwxz2456789', k=8))}"
        else:
            user = self.users[bisect.bisect(self.user_cum, rng.random() * self.user_cum[-1])]
            runtime = "dev"
            run_id = str(started * 1000 + rng.randrange(1000))
        # Tags: experiments, datasets and sweeps drift with time, so most are used by a
        # few hundred runs in a window of weeks; a few tags are everywhere.
        era = (started - (self.now - SPAN_MS)) / SPAN_MS
        tags: list[str] = []
        if scheduled:
            tags.append("nightly")
            if flow.project:
                tags.append("prod")
        else:
            roll = rng.random()
            if roll < 0.5:
                tags.append(f"exp-{int(era * 4000) + rng.randrange(-20, 20) + 20}")
            if roll < 0.2 or roll > 0.9:
                tags.append(f"dataset:v{int(era * 300) + rng.randrange(3)}")
            if rng.random() < 0.1:
                tags.append(f"sweep-{int(era * 1500) + rng.randrange(10)}")
            if rng.random() < 0.3:
                tags.append(rng.choice(COMMON_TAGS))
        metaflow = f"2.{12 + int(era * 7.99)}.{rng.randrange(5)}"
        system_tags = [
            f"user:{user}",
            f"runtime:{runtime}",
            "python_version:3.11.7",
            f"metaflow_version:{metaflow}",
        ]
        project = branch = None
        if flow.project:
            project = flow.project
            branch = (
                "prod"
                if scheduled
                else (f"test.f{rng.randrange(40)}" if rng.random() < 0.1 else f"user.{user}")
            )
            system_tags += [f"project:{project}", f"project_branch:{branch}"]
        parameters = {p: repr(round(rng.random(), 3)) for p in flow.parameters}
        duration = rng.lognormvariate(math.log(flow.median_ms), 0.6)
        running = started + duration > self.now
        fail = not running and rng.random() < flow.fail_rate
        reason = None
        if fail:
            reason = rng.choices(("error", "killed", "lost"), (0.9, 0.06, 0.04))[0]
        self.run_pk += 1
        status, finished, first_failure, task_count = self._tasks(
            flow, started, duration, running, fail, reason
        )
        run_reason = reason if status == "failed" else None
        tags_json = orjson.dumps(tags).decode()
        self.rows["runs"].append(
            (
                self.run_pk, self.source_id, flow.name, run_id, user, status, run_reason,
                started, finished, None if finished is None else finished - started, tags_json,
                orjson.dumps(system_tags).decode(), project, branch,
                orjson.dumps(parameters).decode(), flow.graph, None,
                first_failure[0] if first_failure else None,
                first_failure[1] if first_failure else None,
                task_count, finished or started, None, status != "running",
            )
        )  # fmt: skip
        for tag in dict.fromkeys([*tags, *system_tags]):
            self.rows["tags"].append((self.run_pk, tag, tag not in tags, started, flow.name))

    def _tasks(
        self,
        flow: ArchiveFlow,
        started: int,
        duration: float,
        running: bool,
        fail: bool,
        reason: str | None,
    ) -> tuple[str, int | None, tuple[str, str] | None, int]:
        """Steps, tasks and attempts of one run; its status, finish, first failure, task count."""
        rng = self.rng
        linear = [st for st in flow.steps if st.name not in ("left", "right")]
        width = rng.randint(*flow.width) if flow.width[1] else 1
        per_step = duration / (len(linear) + (1 if flow.width[1] else 0))
        fail_at = rng.randrange(len(flow.steps)) if fail else -1
        t = float(started)
        task_id = 1
        first_failure = None
        count = 0
        steps_rows = self.rows["steps"]
        for position, step in enumerate(flow.steps):
            n = width if step.name == "work" else 1
            step_started = int(t)
            counts = [0, 0, 0, 0]  # pending, running, completed, failed
            step_end = t
            for k in range(n):
                s0 = t if step.name != "right" else float(step_started)
                length = per_step * (2 if step.name == "work" else 1) * rng.uniform(0.5, 1.5)
                if step.name == "work":
                    s0 = t + (k // WORKERS) * per_step * 0.1
                if s0 + length > self.now and running:
                    status, task_reason = "running", None
                elif position == fail_at and k == 0:
                    status, task_reason = "failed", reason
                else:
                    status, task_reason = "completed", None
                retried = "retry" in step.decorators and rng.random() < 0.03
                self._task(step.name, str(task_id), s0, length, status, task_reason, retried,
                           f"items[{k}]={k}" if step.name == "work" else None)  # fmt: skip
                counts[("pending", "running", "completed", "failed").index(status)] += 1
                if status == "failed" and first_failure is None:
                    first_failure = (step.name, str(task_id))
                task_id += 1
                count += 1
                step_end = max(step_end, s0 + length)
                if status == "running":
                    break
            step_status = "failed" if counts[3] else "running" if counts[1] else "completed"
            steps_rows.append(
                (self.run_pk, step.name, position, step.type, step_status, step_started,
                 None if step_status == "running" else int(step_end), *counts)
            )  # fmt: skip
            if step.name != "left":
                t = step_end
            if step_status != "completed":
                break
        if running:
            return "running", None, None, count
        if fail:
            return "failed", int(t), first_failure, count
        return "completed", int(t), None, count

    def _task(
        self,
        step: str,
        task_id: str,
        s0: float,
        length: float,
        status: str,
        reason: str | None,
        retried: bool,
        label: str | None,
        caught: bool = False,
    ) -> None:
        self.task_pk += 1
        self.tasks_written += 1
        start = int(s0)
        end = None if status == "running" else int(s0 + length)
        attempts = self.rows["attempts"]
        number = 0
        if retried:
            first_end = int(s0 + length / 3)
            attempts.append((self.task_pk, 0, "failed", "error", start, first_end))
            number = 1
            attempts.append((self.task_pk, 1, status, reason, first_end + 1, end))
        else:
            attempts.append((self.task_pk, 0, status, reason, start, end))
        self.rows["tasks"].append(
            (self.task_pk, self.run_pk, step, task_id, task_sort_key(task_id), status, reason,
             caught, number, start, end, None if end is None else end - start, label, None)
        )  # fmt: skip

    # ---- the big run --------------------------------------------------------------------

    def write_big_run(self, tasks: int, ended_at: int, seed: int) -> str:
        """start -> work x `tasks` (16 at a time) -> join -> end, ending at `ended_at`."""
        rng = Random(seed + 1)
        flow = self.big_flow
        self.run_pk += 1
        # Plan from 0, then shift so that it ends at `ended_at`.
        durations = [rng.randint(1000, 6000) for _ in range(tasks)]
        free = [44_000] * WORKERS
        plan: list[tuple[int, list[tuple[int, int, bool]]]] = []
        for i, d in enumerate(durations):
            begin = heapq.heappop(free)
            attempts = [(begin, begin + d, True)]
            if (i + 1) % 5000 == 0:  # every attempt fails; @catch records it
                attempts = [
                    (begin + j * (d + 50), begin + j * (d + 50) + d, False) for j in range(3)
                ]
            elif (i + 1) % 1000 == 0:  # the first attempt fails, the retry succeeds
                attempts = [(begin, begin + d, False), (begin + d + 50, begin + 2 * d + 50, True)]
            heapq.heappush(free, attempts[-1][1] + 20)
            plan.append((begin, attempts))
        work_end = max(free)
        end_at = work_end + 40_000
        shift = ended_at - end_at
        started = shift
        rows = self.rows
        self._task("start", "1", shift, 44_000 - 1000, "completed", None, False, None)
        first_failure = None
        failed = 0
        for i, (_begin, attempts) in enumerate(plan):
            self.task_pk += 1
            self.tasks_written += 1
            task_id = str(i + 2)
            ok = attempts[-1][2]
            for number, (a0, a1, good) in enumerate(attempts):
                rows["attempts"].append(
                    (self.task_pk, number, "completed" if good else "failed", None if good else "error", a0 + shift, a1 + shift)
                )  # fmt: skip
            t0, t1 = attempts[0][0] + shift, attempts[-1][1] + shift
            status = "completed" if ok else "failed"
            if not ok:
                failed += 1
                if first_failure is None:
                    first_failure = ("work", task_id)
            rows["tasks"].append(
                (self.task_pk, self.run_pk, "work", task_id, i + 2, status, None if ok else "error",
                 not ok, len(attempts) - 1, t0, t1, t1 - t0, f"items[{i}]={i}", None)
            )  # fmt: skip
        join_id, end_id = str(tasks + 2), str(tasks + 3)
        self._task("join", join_id, work_end + shift + 1000, 20_000, "completed", None, False, None)
        self._task("end", end_id, work_end + shift + 22_000, 10_000, "completed", None, False, None)
        finished = ended_at
        step_rows = [
            ("start", 0, "split-foreach", started, started + 43_000, 1, 0),
            ("work", 1, "linear", started + 44_000, work_end + shift, tasks - failed, failed),
            ("join", 2, "join", work_end + shift + 1000, work_end + shift + 21_000, 1, 0),
            ("end", 3, "end", work_end + shift + 22_000, work_end + shift + 32_000, 1, 0),
        ]
        for name, position, type_, s0, s1, done, bad in step_rows:
            status = "failed" if bad else "completed"
            rows["steps"].append(
                (self.run_pk, name, position, type_, status, s0, s1, 0, 0, done, bad)
            )
        run_id = str(started * 1000 + 1)
        user = self.users[0]
        tags = ["scale-test"]
        system_tags = [
            f"user:{user}",
            "runtime:dev",
            "python_version:3.11.7",
            "metaflow_version:2.19.39",
        ]
        rows["runs"].append(
            (self.run_pk, self.source_id, flow.name, run_id, user, "completed", None, started,
             finished, finished - started, orjson.dumps(tags).decode(),
             orjson.dumps(system_tags).decode(), None, None, orjson.dumps({"n": str(tasks)}).decode(),
             flow.graph, None, first_failure[0] if first_failure else None,
             first_failure[1] if first_failure else None, tasks + 3, finished, None, True)
        )  # fmt: skip
        for tag in [*tags, *system_tags]:
            rows["tags"].append((self.run_pk, tag, tag not in tags, started, flow.name))
        self.flush()
        return f"{flow.name}/{run_id}"

    def big_run_span(self, tasks: int) -> int:
        """About how long the big run takes (to keep its flow's other runs before it)."""
        return 44_000 + tasks * 3500 // WORKERS + 60_000

    def flush(self) -> None:
        tables = (
            ("runs", s.runs, RUN_COLUMNS),
            ("tags", s.run_tags, TAG_COLUMNS),
            ("steps", s.steps, STEP_COLUMNS),
            ("tasks", s.tasks, TASK_COLUMNS),
            ("attempts", s.attempts, ATTEMPT_COLUMNS),
        )
        for key, table, columns in tables:
            if self.rows[key]:
                self.bulk.insert(table, columns, self.rows[key])
                self.rows[key] = []
        self.bulk.commit()


# ---- the command ----------------------------------------------------------------------


def generate_archive(
    url: str, runs: int, big_run_tasks: int, seed: int, progress: bool = True
) -> ArchiveResult:
    """Fill the empty index at `url`; reuses one filled with the same parameters."""
    params = {"runs": runs, "big_run_tasks": big_run_tasks, "seed": seed}
    store = Store(url)
    try:
        found = store.get_state(STATE_KEY)
        if found is not None:
            made = orjson.loads(found)
            if made.get("params") == params:
                return ArchiveResult(**made["result"])
            raise SystemExit(
                f"{url} holds a different archive ({made.get('params')}); use a new database"
            )
        source_id = store.source_id(*SOURCE)
        started = time.monotonic()
        now = int(time.time() * 1000)
        ended = now - 10 * 60_000
        with bulk_load(store.engine) as bulk:
            writer = ArchiveWriter(bulk, source_id, seed, runs, now)
            big_started = ended - writer.big_run_span(big_run_tasks) if big_run_tasks else None
            writer.write_archive(big_started)
            pathspec = writer.write_big_run(big_run_tasks, ended, seed) if big_run_tasks else None
            if progress:
                print(
                    f"  rows written in {time.monotonic() - started:.0f} s; building indexes",
                    flush=True,
                )
        if pathspec is not None:
            # What the indexer does when it seals a run this big (store/timeline_pack.py).
            store.keep_timeline_packs([tuple(pathspec.split("/", 1))])  # type: ignore[list-item]
        result = ArchiveResult(
            runs=writer.run_pk,
            tasks=writer.tasks_written,
            seconds=round(time.monotonic() - started, 1),
            big_run=pathspec,
        )
        store.set_state(
            STATE_KEY, orjson.dumps({"params": params, "result": vars(result)}).decode()
        )
        return result
    finally:
        store.close()
