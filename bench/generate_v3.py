"""Generate a metaflow-service database (its v3 tables) the size of a big team's archive.

    python -m bench.generate_v3 --db postgresql://postgres@127.0.0.1/NAME \\
        --runs 1000000 --big-run-tasks 100000 --seed 1 --datastore DIR

The database must hold the v3 tables already, empty (`flowscope db upgrade --db URL`
makes them as metaflow-service's migrations do). Rows are shaped as the Metaflow client
writes them through the service (checked against runs of metaflow 2.19.39 through
metaflow-service): per task its `attempt`, `attempt_ok` (type `internal_attempt_status`),
`attempt-done` and `ds-root` metadata tagged `attempt_id:0`, its `_success` artifact
(`_graph_info` on the `_parameters` task, which records only `attempt-done`). About 50
flows, 200 users, thousands of tags, projects; 85% of runs complete, 10% fail in a step,
2% were killed (an attempt without an outcome, heartbeats long stale), a few run now. The
newest run of one flow is a foreach of `--big-run-tasks` tasks. The artifacts' blobs
(the graphs, `True`, `False`) are written to the local datastore DIR, where the rows say.

Rows go in with COPY, so 1,000,000 runs (about 9,000,000 metadata rows) take minutes.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from random import Random

import psycopg

from bench.layout import Blobs, pickled
from bench.plans import Flow, Step

FLOWS = 50
USERS = 200
TAG_POOL = 3000
DAY_MS = 86_400_000
SPAN_DAYS = 365
BIG_FLOW = "BigForeachFlow"
SYSTEM = ["runtime:dev", "python_version:3.11.7", "metaflow_version:2.19.39"]


@dataclass
class Counts:
    runs: int = 0
    tasks: int = 0
    metadata: int = 0
    artifacts: int = 0


def flows() -> list[Flow]:
    linear = (
        Step("start", "start", ("train",)),
        Step("train", "linear", ("end",)),
        Step("end", "end"),
    )
    out = [
        Flow(f"Pipeline{i:02d}Flow", f"pipeline {i}", linear, ("start", "train", "end"))
        for i in range(FLOWS - 1)
    ]
    out.append(
        Flow(
            BIG_FLOW,
            "a very wide foreach",
            (
                Step("start", "split-foreach", ("work",), foreach_artifact="items"),
                Step("work", "linear", ("join",)),
                Step("join", "join", ("end",)),
                Step("end", "end"),
            ),
            ("start", ("work",), "join", "end"),
        )
    )
    return out


class Archive:
    def __init__(self, datastore: Path, seed: int) -> None:
        self.rng = Random(seed)
        self.datastore = datastore
        self.flows = flows()
        self.now = int(time.time() * 1000)
        self.counts = Counts()
        self.task_id = 0
        self.meta_id = 0
        self.shas: dict[str, dict[str, str]] = {}
        for flow in self.flows:
            blobs = Blobs(str(datastore / flow.name))
            self.shas[flow.name] = {
                "graph": blobs.put(pickled(flow.graph_info()), self.now),
                "True": blobs.put(pickled(True), self.now),
                "False": blobs.put(pickled(False), self.now),
            }
        self.tags = [f"exp-{i}" for i in range(TAG_POOL)]
        self.users = [f"user{i:03d}" for i in range(USERS)]
        self.root = f":root:{datastore}"
        self.ds_root = str(datastore)

    def rows(self, runs: int, big_tasks: int) -> Iterator[tuple[str, tuple[object, ...]]]:
        """(table, row) in an order the foreign keys accept."""
        for flow in self.flows:
            yield "flows_v3", (flow.name, "system", self.now - SPAN_DAYS * DAY_MS, "[]", "[]")
        # Oldest first, so run numbers grow with time as a serial makes them.
        times = sorted(
            self.now - 600_000 - int(self.rng.random() ** 0.7 * SPAN_DAYS * DAY_MS)
            for _ in range(runs - 1)
        )
        for number, ts in enumerate(times, start=1):
            flow = self.flows[self.rng.randrange(FLOWS - 1)]
            yield from self._run(flow, number, ts, None)
        yield from self._run(self.flows[-1], runs, self.now - 300_000, big_tasks)

    def _run(
        self, flow: Flow, number: int, ts: int, foreach: int | None
    ) -> Iterator[tuple[str, tuple[object, ...]]]:
        rng = self.rng
        user = self.users[int(rng.random() ** 2 * USERS)]
        tags = rng.sample(self.tags, rng.choice((0, 0, 1, 1, 2, 3)))
        system = [f"user:{user}", *SYSTEM]
        if number % 7 == 0:
            system += ["project:recsys", f"project_branch:user.{user}"]
        fate = rng.random()
        if foreach is not None:
            fate = 0.0
        ended = ts + 60_000 + int(rng.random() * 600_000)
        running = ts > self.now - 900_000 and fate > 0.9
        beat = (self.now // 1000) if running else ended // 1000
        self.counts.runs += 1
        yield "runs_v3", (flow.name, number, None, user, ts, _j(tags), _j(system), beat)
        steps = ["_parameters", *(s.name for s in flow.steps)]
        for step in steps:
            yield "steps_v3", (flow.name, number, step, None, user, ts, "[]", _j(system))
        yield from self._task(flow.name, number, "_parameters", user, ts, system, "graph", None)
        clock = ts + 500
        for step in flow.steps:
            width = foreach if (foreach is not None and step.name == "work") else 1
            # Which step fails, if the run fails: 10% fail, 2% are killed, the rest complete.
            fails_here = 0.85 <= fate < 0.95 and step.name == "train"
            killed_here = 0.95 <= fate < 0.97 and step.name == "train"
            for _ in range(width):
                outcome = "False" if fails_here else (None if killed_here else "True")
                if running and step.name == "end":
                    return
                yield from self._task(
                    flow.name, number, step.name, user, clock, system, outcome, beat
                )
                clock += 200
            if fails_here or killed_here:
                return

    def _task(
        self,
        flow_id: str,
        number: int,
        step: str,
        user: str,
        ts: int,
        system: list[str],
        outcome: str | None,
        beat: int | None,
    ) -> Iterator[tuple[str, tuple[object, ...]]]:
        self.task_id += 1
        task_id = self.task_id
        self.counts.tasks += 1
        sys_tags = _j(system)
        yield "tasks_v3", (flow_id, number, step, task_id, None, user, ts, "[]", sys_tags, beat)
        attempt0 = '["attempt_id:0"]'
        fields: list[tuple[str, str, str, int]]
        if step == "_parameters":
            fields = [("attempt-done", "0", "attempt-done", ts + 30)]
        else:
            fields = [
                ("attempt", "0", "attempt", ts + 5),
                ("ds-root", self.ds_root, "ds-root", ts + 6),
            ]
            if outcome is not None:
                fields += [
                    ("attempt_ok", outcome, "internal_attempt_status", ts + 150),
                    ("attempt-done", "0", "attempt-done", ts + 160),
                ]
        for field_name, value, kind, at in fields:
            self.meta_id += 1
            self.counts.metadata += 1
            yield (
                "metadata_v3",
                (
                    flow_id,
                    number,
                    step,
                    task_id,
                    self.meta_id,
                    field_name,
                    value,
                    kind,
                    user,
                    at,
                    attempt0,
                    sys_tags,
                ),
            )
        name = "_graph_info" if step == "_parameters" else "_success"
        key = "graph" if step == "_parameters" else (outcome or "")
        sha = self.shas[flow_id].get(key)
        if sha is not None:
            self.counts.artifacts += 1
            yield (
                "artifact_v3",
                (
                    flow_id,
                    number,
                    step,
                    task_id,
                    name,
                    self.root,
                    "local",
                    sha,
                    "metaflow.artifact",
                    "pickle-v4",
                    user,
                    0,
                    ts + 140,
                    attempt0,
                    sys_tags,
                ),
            )


COLUMNS = {
    "flows_v3": "flow_id, user_name, ts_epoch, tags, system_tags",
    "runs_v3": "flow_id, run_number, run_id, user_name, ts_epoch, tags, system_tags, "
    "last_heartbeat_ts",
    "steps_v3": "flow_id, run_number, step_name, run_id, user_name, ts_epoch, tags, system_tags",
    "tasks_v3": "flow_id, run_number, step_name, task_id, task_name, user_name, ts_epoch, tags, "
    "system_tags, last_heartbeat_ts",
    "metadata_v3": "flow_id, run_number, step_name, task_id, id, field_name, value, type, "
    "user_name, ts_epoch, tags, system_tags",
    "artifact_v3": "flow_id, run_number, step_name, task_id, name, location, ds_type, sha, "
    "type, content_type, user_name, attempt_id, ts_epoch, tags, system_tags",
}


def _j(values: list[str]) -> str:
    return json.dumps(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL database with empty v3 tables")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--big-run-tasks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--datastore", type=Path, required=True, help="a .metaflow folder")
    args = parser.parse_args()
    datastore = args.datastore.resolve()
    datastore.mkdir(parents=True, exist_ok=True)
    archive = Archive(datastore, args.seed)
    started = time.monotonic()
    with psycopg.connect(args.db.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM runs_v3")
            if cur.fetchone() != (0,):
                raise SystemExit("the v3 tables are not empty; use a fresh database")
        # One COPY per table at a time, in foreign-key order: buffer each table's rows
        # in batches and flush in the order parents come first.
        order = list(COLUMNS)
        buffers: dict[str, list[tuple[object, ...]]] = {t: [] for t in order}
        pending = 0
        for table, row in archive.rows(args.runs, args.big_run_tasks):
            buffers[table].append(row)
            pending += 1
            if pending >= 200_000:
                _flush(conn, buffers, order)
                pending = 0
        _flush(conn, buffers, order)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('runs_v3', 'run_number'), %s)", (args.runs,)
            )
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('tasks_v3', 'task_id'), %s)",
                (archive.task_id,),
            )
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('metadata_v3', 'id'), %s)", (archive.meta_id,)
            )
            cur.execute("ANALYZE")
        conn.commit()
    c = archive.counts
    print(
        f"wrote {c.runs:,} runs, {c.tasks:,} tasks, {c.metadata:,} metadata rows, "
        f"{c.artifacts:,} artifacts in {time.monotonic() - started:.0f}s; "
        f"big run: {BIG_FLOW}/{args.runs} ({args.big_run_tasks:,} tasks)"
    )
    return 0


def _flush(
    conn: psycopg.Connection, buffers: dict[str, list[tuple[object, ...]]], order: list[str]
) -> None:
    with conn.cursor() as cur:
        for table in order:
            rows = buffers[table]
            if not rows:
                continue
            with cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            rows.clear()


if __name__ == "__main__":
    raise SystemExit(main())
