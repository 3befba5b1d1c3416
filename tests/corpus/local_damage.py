"""A corpus of damaged local datastores, derived from real Metaflow runs.

`build_corpus(datastore)` takes a private copy of the fixture runs' `.metaflow` and adds
one damaged copy of a real run per case (the copy gets its own run id, so the fixture
runs themselves stay intact and can be compared with a clean index of them). Every case
says what flowscope should make of it; tests/test_bad_input_local.py checks that.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

# The run every case damages a copy of: linear (start -> middle -> end, logs on both
# streams, parameters).
VICTIM_FLOW = "LinearFlow"
GIB = 1 << 30


@dataclass(frozen=True)
class Case:
    name: str
    run_id: str
    # How many tasks the run page should say could not be read; None: the run is not
    # shown at all (its own record is missing or damaged).
    unreadable_tasks: int | None
    what: str


def victim_run(datastore: Path) -> Path:
    flow = datastore / VICTIM_FLOW
    return next(p for p in sorted(flow.iterdir()) if p.is_dir() and p.name.isdigit())


def _task(run: Path, step: str) -> Path:
    return next(p for p in sorted((run / step).iterdir()) if p.name != "_meta")


def _meta_files(task: Path, field: str) -> list[Path]:
    return sorted((task / "_meta").glob(f"sysmeta_{field}_*.json"))


def _rewrite_json(path: Path, change: Callable[[dict], dict]) -> None:
    path.write_bytes(orjson.dumps(change(orjson.loads(path.read_bytes()))))


# ---- the damages: each takes the copied run folder ---------------------------------


def truncated_json(run: Path) -> None:
    target = _meta_files(_task(run, "middle"), "attempt-done")[0]
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])


def invalid_json(run: Path) -> None:
    (_task(run, "start") / "0.attempt.json").write_bytes(b"\x00\xff{not json at all")
    (_task(run, "end") / "0.runtime").write_bytes(b"[1, 2,")


def json_of_the_wrong_shape(run: Path) -> None:
    _meta_files(_task(run, "middle"), "attempt_ok")[0].write_bytes(b"[true]")


def missing_task_self(run: Path) -> None:
    (_task(run, "middle") / "_meta" / "_self.json").unlink()


def missing_run_self(run: Path) -> None:
    (run / "_meta" / "_self.json").unlink()


def damaged_run_self(run: Path) -> None:
    (run / "_meta" / "_self.json").write_bytes(b'{"flow_id": "LinearFlow", "run_num')


def task_without_attempts(run: Path) -> None:
    task = _task(run, "middle")
    for field in ("attempt", "attempt-done", "attempt_ok"):
        for path in _meta_files(task, field):
            path.unlink()
    for path in task.glob("0.*"):
        path.unlink()


def attempt_without_meta(run: Path) -> None:
    shutil.rmtree(_task(run, "end") / "_meta")


def unknown_fields_and_future_version(run: Path) -> None:
    """Every record grows fields flowscope has never seen; new kinds of metadata appear;
    the run says it was made by a Metaflow from the future."""
    for path in run.rglob("*.json"):
        if path.name.endswith(".data.json"):
            continue
        try:
            record = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict):
            record["x_future_field"] = {"nested": [1, 2, 3]}
            record["schema_version"] = 99
            path.write_bytes(orjson.dumps(record))
    _rewrite_json(
        run / "_meta" / "_self.json",
        lambda r: {**r, "system_tags": [*r.get("system_tags", []), "metaflow_version:9.99.0"]},
    )
    for step in ("start", "middle", "end"):
        meta = _task(run, step) / "_meta"
        (meta / "sysmeta_quantum-state_1700000000000.json").write_bytes(
            orjson.dumps({"field_name": "quantum-state", "value": {"q": 1}, "type": "future"})
        )


def duplicate_records(run: Path) -> None:
    """Two records of the same attempt's start and end (a retried write, a copied
    folder): the earliest start and the latest end are the attempt's."""
    task = _task(run, "middle")
    for field in ("attempt", "attempt-done", "attempt_ok"):
        source = _meta_files(task, field)[0]
        ts = int(source.stem.rsplit("_", 1)[1])
        record = orjson.loads(source.read_bytes())
        if "ts_epoch" in record:
            record["ts_epoch"] = int(record["ts_epoch"]) + 5
        (source.parent / f"sysmeta_{field}_{ts + 5}.json").write_bytes(orjson.dumps(record))


def binary_logs(run: Path) -> None:
    task = _task(run, "start")
    (task / "0.runtime_stdout.log").write_bytes(os.urandom(64 * 1024))
    (task / "0.runtime_stderr.log").write_bytes(b"\xff\xfe\xfd not utf-8 \xc3\x28\n" * 1000)


def huge_sparse_log(run: Path) -> None:
    """A 2 GiB stdout log (sparse: it costs no disk, reads as zeros)."""
    path = _task(run, "middle") / "0.runtime_stdout.log"
    with open(path, "r+b") as handle:
        handle.truncate(2 * GIB)


def million_line_log(run: Path) -> None:
    path = _task(run, "middle") / "0.runtime_stdout.log"
    with open(path, "wb") as handle:
        line = b"[MFLOG|0|2026-12-01T10:00:00.000000Z|task|1]line of a chatty task\n"
        for _ in range(100):
            handle.write(line * 10_000)


def symlink_loops(run: Path) -> None:
    task = _task(run, "start")
    os.symlink("loop", task / "loop")
    os.symlink(".", task / "_meta" / "self-loop")
    os.symlink("..", run / "middle" / "parent-loop")
    os.symlink(str(run), run / "run-loop")


def clock_jumps(run: Path) -> None:
    """Timestamps that go backwards (an attempt ending before it began) and file times a
    day in the future (the clock was set back since)."""
    task = _task(run, "middle")
    done = _meta_files(task, "attempt-done")[0]
    _rewrite_json(done, lambda r: {**r, "ts_epoch": 1_000})
    future = os.path.getmtime(run) + 86_400
    for folder, dirs, files in os.walk(run):
        for name in [*dirs, *files]:
            os.utime(Path(folder) / name, (future, future), follow_symlinks=False)
    os.utime(run, (future, future))


def no_permission(run: Path) -> None:
    os.chmod(_task(run, "middle") / "_meta", 0)


CASES: list[tuple[str, Callable[[Path], None], int | None, str]] = [
    ("truncated-json", truncated_json, 1, "a metadata record cut in half"),
    ("invalid-json", invalid_json, 2, "attempt and runtime records that are not JSON"),
    ("wrong-shape-json", json_of_the_wrong_shape, 1, "a record that is JSON but not an object"),
    ("missing-task-self", missing_task_self, 1, "a task without its _self.json"),
    ("missing-run-self", missing_run_self, None, "a run without its _self.json"),
    ("damaged-run-self", damaged_run_self, None, "a run whose _self.json is cut off"),
    ("task-without-attempts", task_without_attempts, 0, "a registered task that never began"),
    ("attempt-without-meta", attempt_without_meta, 1, "attempt files but no _meta folder"),
    ("future-version", unknown_fields_and_future_version, 0, "unknown fields and metadata"),
    ("duplicate-records", duplicate_records, 0, "the same attempt recorded twice"),
    ("binary-logs", binary_logs, 0, "random bytes and non-UTF-8 in the logs"),
    ("huge-log", huge_sparse_log, 0, "a 2 GiB log file"),
    ("million-lines", million_line_log, 0, "a log of a million lines"),
    ("symlink-loops", symlink_loops, 0, "symlinks that point at themselves and upwards"),
    ("clock-jumps", clock_jumps, 0, "an attempt ending before it began; files from tomorrow"),
    # As root the folder stays readable: the test says so and expects 0 then.
    ("no-permission", no_permission, 1, "a task's _meta folder without read permission"),
]


def damaged_copy(datastore: Path, run_id: str, damage: Callable[[Path], None]) -> str:
    """Add a copy of the victim run to `datastore` as `run_id` (replacing one made before),
    damaged; its pathspec."""
    source = victim_run(datastore)
    copy = source.parent / run_id
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(source, copy, symlinks=True)
    damage(copy)
    return f"{VICTIM_FLOW}/{run_id}"


def build_corpus(datastore: Path) -> list[Case]:
    """Add one damaged copy of the victim run per case to `datastore`."""
    source = victim_run(datastore)
    cases = []
    for i, (name, damage, unreadable, what) in enumerate(CASES):
        run_id = f"9{i:03d}{source.name[4:]}"
        damaged_copy(datastore, run_id, damage)
        cases.append(Case(name, run_id, unreadable, what))
    return cases


def names_with_spaces_and_unicode(datastore: Path) -> tuple[str, str, str, str]:
    """A copy of the victim run under a run id, step and task names with spaces and
    non-ASCII letters (Metaflow forbids them; a copied or hand-made folder has them)."""
    source = victim_run(datastore)
    run_id = "run wïth späces ☃"
    copy = source.parent / run_id
    shutil.copytree(source, copy, symlinks=True)
    task = _task(copy, "middle")
    renamed = task.parent / "täsk 7"
    task.rename(renamed)
    (copy / "middle").rename(copy / "mïddle step")
    return VICTIM_FLOW, run_id, "mïddle step", "täsk 7"
