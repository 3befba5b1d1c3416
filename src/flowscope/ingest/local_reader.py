"""Reading one run of the local `.metaflow` datastore into plain facts.

Only the few files that decide status and timing are opened (file names already say
which metadata field and time they hold); the full metadata of a task is read on demand
by `local_metadata.read_task_metadata`. Nothing here decides a status: that is
`flowscope.status`, through `ingest.assembler`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowscope.ingest.facts import AttemptFacts, TaskFacts
from flowscope.local_files import (
    Unreadable,
    attempt_of,
    list_dir,
    load_json,
    mtime_ns,
    read_json,
    scandir,
    to_int,
    warn_once,
)

log = logging.getLogger(__name__)

PARAMETERS_STEP = "_parameters"
# Between the levels of a nested foreach in a task's label.
FOREACH_SEPARATOR = " › "
META = "_meta"
# sysmeta_<field>_<ts>.json; the field may itself contain underscores.
SYSMETA = re.compile(r"^sysmeta_(?P<field>.+)_(?P<ts>\d+)\.json$")
STATUS_FIELDS = frozenset(
    {"attempt", "attempt-done", "attempt_ok", "foreach-stack", "foreach-execution-path"}
)
RACY_NS = 2_000_000_000
# `<attempt>_artifact_<name>.json`: local metadata's record of one artifact (name, sha).
ARTIFACT_RECORD = re.compile(r"^(?P<n>\d+)_artifact_(?P<name>.+)\.json$")
OUTCOME_ARTIFACTS = frozenset({"_success", "_task_ok"})
ATTEMPT_FILE = re.compile(r"^(?P<n>\d+)\.(?P<kind>attempt\.json|runtime|DONE\.lock|data\.json)$")

ValueLoader = Callable[[str, str], Any]  # (flow_id, sha) -> unpickled value (safely)


@dataclass
class RunHeader:
    flow_id: str
    run_id: str
    user: str | None
    started_at: int | None
    tags: list[str]
    system_tags: list[str]


@dataclass
class RunExtras:
    """Read once per run: the graph and parameters from the `_parameters` task."""

    graph: dict[str, Any] | None = None
    parameters: dict[str, str] = field(default_factory=dict)


def read_run_header(run_dir: Path, flow_id: str) -> RunHeader | None:
    """The run's record; None while it is not written yet. Raises Unreadable when it
    exists but is damaged."""
    record = load_json(run_dir / META / "_self.json")
    if record is None:
        return None
    if not isinstance(record, dict):
        path = run_dir / META / "_self.json"
        warn_once(str(path), "skipping run record that is not a JSON object: %s", path)
        raise Unreadable(str(path))
    return RunHeader(
        flow_id=flow_id,
        run_id=run_dir.name,
        user=record.get("user_name") if isinstance(record.get("user_name"), str) else None,
        started_at=to_int(record.get("ts_epoch")),
        tags=_strings(record.get("tags")),
        system_tags=_strings(record.get("system_tags")),
    )


def _strings(value: Any) -> list[str]:
    """A list of tags as strings; anything else (a future format, damage) as none."""
    return [str(t) for t in value] if isinstance(value, list) else []


def is_racy(fingerprint: str | None) -> bool:
    """A folder changed this recently may change again within the same mtime tick, so a
    fingerprint made of its mtime is not trusted yet: the next pass reads it again."""
    if fingerprint is None:
        return True
    now = time.time_ns()
    # An mtime far in the future (the clock jumped back since) is not "just written":
    # without the lower bound such a run would be re-read on every pass until the clock
    # caught up.
    return any(p.isdigit() and -RACY_NS < now - int(p) < RACY_NS for p in fingerprint.split(":"))


def task_fingerprint(task_dir: Path) -> str | None:
    own = mtime_ns(task_dir)
    meta = mtime_ns(task_dir / META)
    if own is None:
        return None
    return f"{own}:{meta}"


class _Reads:
    """Reads a task's files, remembering whether any that exists could not be read: such
    a task is shown from what could be read and counted as unreadable (issue 12)."""

    def __init__(self) -> None:
        self.failed = False

    def json(self, path: Path) -> Any:
        try:
            return load_json(path)
        except Unreadable:
            self.failed = True
            return None

    def record(self, path: Path) -> dict[str, Any] | None:
        """A JSON object; anything else that exists (a list, a number) counts as damage."""
        value = self.json(path)
        if value is not None and not isinstance(value, dict):
            self.failed = True
            return None
        return value

    def entries(self, path: Path) -> list[os.DirEntry[str]]:
        try:
            return list_dir(path)
        except Unreadable:
            self.failed = True
            return []


# Metaflow allows a handful of attempts (MAX_ATTEMPTS is 6); a number past this is damage,
# not a future version, and would not fit the index's integer column either.
MAX_ATTEMPT = 10_000
# Epoch milliseconds the index accepts: anything past year 33658 is damage.
MAX_MILLIS = 10**15


def _attempt_number(value: Any) -> int | None:
    number = to_int(value)
    return number if number is not None and 0 <= number < MAX_ATTEMPT else None


def _millis(value: Any) -> int | None:
    number = to_int(value)
    return number if number is not None and 0 <= number < MAX_MILLIS else None


def read_task(
    task_dir: Path, step_name: str, flow_id: str, load_value: ValueLoader
) -> TaskFacts | None:
    fingerprint = task_fingerprint(task_dir)
    if fingerprint is None:
        return None
    reads = _Reads()
    started: dict[int, int] = {}
    done: dict[int, int] = {}
    ok: dict[int, bool] = {}
    ok_at: dict[int, int] = {}
    killed: set[int] = set()
    foreach_stack: list[str] | None = None
    foreach_path: str | None = None
    created_at: int | None = None
    has_self = False
    has_sysmeta = False
    last_change = 0

    # Where the data is not local (`--datastore=s3`), these name the outcome artifacts.
    recorded: dict[int, dict[str, Path]] = {}
    meta_dir = task_dir / META
    meta_entries = reads.entries(meta_dir)
    for entry in meta_entries:
        last_change = max(last_change, _entry_mtime_ms(entry))
        if entry.name == "_self.json":
            has_self = True
            record = reads.record(Path(entry.path))
            if record is not None:
                created_at = _millis(record.get("ts_epoch"))
            continue
        artifact = ARTIFACT_RECORD.match(entry.name)
        if artifact is not None and artifact["name"] in OUTCOME_ARTIFACTS:
            # Read only if the attempt's data.json is not here (see _outcome_objects).
            number = _attempt_number(artifact["n"])
            if number is not None:
                recorded.setdefault(number, {})[artifact["name"]] = Path(entry.path)
            continue
        match = SYSMETA.match(entry.name)
        if not match:
            continue
        has_sysmeta = True
        if match["field"] not in STATUS_FIELDS:
            continue
        record = reads.record(Path(entry.path))
        if record is None:
            continue
        name = match["field"]
        attempt = attempt_of(record)
        ts = _millis(record.get("ts_epoch")) or _millis(match["ts"])
        value = record.get("value")
        if ts is None:
            reads.failed = True
        elif name == "attempt":
            number = _attempt_number(value)
            if number is not None:
                started[number] = min(ts, started.get(number, ts))
            else:
                reads.failed = True
        elif attempt is not None and _attempt_number(attempt) is None:
            reads.failed = True
        elif name == "attempt-done" and attempt is not None:
            # Recorded twice (a retried write, a copied folder): the later end, whatever
            # order the folder lists them in.
            done[attempt] = max(ts, done.get(attempt, ts))
        elif name == "attempt_ok" and attempt is not None:
            if ts >= ok_at.get(attempt, ts):
                ok_at[attempt] = ts
                ok[attempt] = str(value).lower() == "true"
        elif name == "foreach-stack" and isinstance(value, list):
            foreach_stack = [str(v) for v in value]
        elif name == "foreach-execution-path" and isinstance(value, str):
            foreach_path = value

    data_files: dict[int, Path] = {}
    done_locks: set[int] = set()
    attempt_files = False
    for entry in reads.entries(task_dir):
        last_change = max(last_change, _entry_mtime_ms(entry))
        match = ATTEMPT_FILE.match(entry.name)
        if not match:
            continue
        attempt_files = True
        number = _attempt_number(match["n"])
        if number is None:
            reads.failed = True
            continue
        kind = match["kind"]
        if kind == "attempt.json":
            # Written when the attempt starts, while its `attempt` metadata may land only
            # later: the earlier of the two is when it began.
            record = reads.record(Path(entry.path))
            moment = record.get("time") if record is not None else None
            marker = _millis(moment * 1000) if moment is not None and _finite(moment) else None
            if marker is not None:
                started[number] = min(marker, started.get(number, marker))
        elif kind == "runtime":
            record = reads.record(Path(entry.path))
            if record is not None and record.get("killed"):
                killed.add(number)
        elif kind == "DONE.lock":
            done_locks.add(number)
        elif kind == "data.json":
            data_files[number] = Path(entry.path)
    # The task's own record is written before any of its metadata, and its metadata
    # before its attempt files: one missing while the later ones exist is damage, not a
    # task being created.
    if (has_sysmeta and not has_self) or (attempt_files and not meta_dir.is_dir()):
        reads.failed = True

    numbers = sorted(set(started) | set(done) | set(ok))
    latest_index: dict[str, str] = {}
    attempts: list[AttemptFacts] = []
    for number in numbers:
        outcome = ok.get(number)
        if outcome is None and number in done_locks:
            # attempt_ok is missing (older Metaflow): the _task_ok artifact decides.
            objects = _outcome_objects(data_files.get(number), recorded.get(number))
            outcome = _as_bool(_load(load_value, flow_id, objects.get("_task_ok")))
        attempts.append(
            AttemptFacts(
                attempt=number,
                started_at=started.get(number),
                finished_at=done.get(number),
                ok=outcome,
                killed=number in killed,
            )
        )
    succeeded: bool | None = None
    if attempts and attempts[-1].ok is True:
        latest = attempts[-1].attempt
        latest_index = _outcome_objects(data_files.get(latest), recorded.get(latest))
        succeeded = _as_bool(_load(load_value, flow_id, latest_index.get("_success")))

    return TaskFacts(
        step_name=step_name,
        task_id=task_dir.name,
        created_at=created_at,
        attempts=attempts,
        succeeded=succeeded,
        foreach_label=foreach_label(foreach_stack, foreach_path),
        last_seen_at=last_change,
        fingerprint=None if is_racy(fingerprint) else fingerprint,
        unreadable=reads.failed,
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def foreach_label(stack: list[str] | None, path: str | None) -> str | None:
    """`outer_var[1]=b › items[2]=0.25`: the task's full foreach path, outermost first,
    each level as its variable, this task's index and its value (issue 9).

    The metadata holds the values (`foreach-stack`: `["letters=b", "items=0.25"]`) and
    the indices (`foreach-execution-path`: `"outer:1,inner:2"`), one per level.
    """
    if not stack:
        return None
    indices = [part.rpartition(":")[2] for part in path.split(",")] if path else []
    # Align from the innermost level, should one list be shorter.
    offset = len(indices) - len(stack)
    levels = []
    for i, frame in enumerate(stack):
        var, _, value = frame.partition("=")
        j = i + offset
        index = indices[j] if 0 <= j < len(indices) else ""
        levels.append(f"{var}[{index}]={value}" if index else frame)
    return FOREACH_SEPARATOR.join(levels)


def read_run_extras(run_dir: Path, flow_id: str, load_value: ValueLoader) -> RunExtras:
    extras = RunExtras()
    params_task = run_dir / PARAMETERS_STEP / "0"
    objects = _objects(params_task / "0.data.json") or _recorded_objects(params_task, 0)
    graph = _load(load_value, flow_id, objects.get("_graph_info"))
    if isinstance(graph, dict):
        extras.graph = graph
        for param in graph.get("parameters") or []:
            name = param.get("name") if isinstance(param, dict) else None
            if isinstance(name, str) and name in objects:
                value = _load(load_value, flow_id, objects[name], missing=_UNREADABLE)
                extras.parameters[name] = (
                    "<not previewable>" if value is _UNREADABLE else parameter_repr(value)
                )
    return extras


@dataclass(frozen=True)
class RunOrigins:
    """What every task of a run records about where it came from and where its data is."""

    origin_run_id: str | None = None  # `resume` sets it
    ds_type: str | None = None
    ds_root: str | None = None


_ORIGIN_FIELDS = {"origin-run-id": "origin_run_id", "ds-type": "ds_type", "ds-root": "ds_root"}


def read_run_origins(run_dir: Path) -> RunOrigins:
    """`origin-run-id`, `ds-type` and `ds-root` from the first task that has any."""
    for step_dir in sorted(scandir(run_dir), key=lambda e: e.name):
        if step_dir.name in (META, PARAMETERS_STEP) or not step_dir.is_dir():
            continue
        for task_dir in scandir(Path(step_dir.path)):
            if task_dir.name == META or not task_dir.is_dir():
                continue
            found: dict[str, str | None] = {}
            for entry in scandir(Path(task_dir.path) / META):
                match = SYSMETA.match(entry.name)
                if match is None or match["field"] not in _ORIGIN_FIELDS:
                    continue
                record = read_json(Path(entry.path))
                value = record.get("value") if isinstance(record, dict) else None
                found[_ORIGIN_FIELDS[match["field"]]] = (
                    str(value) if value not in (None, "None", "") else None
                )
            if found:
                return RunOrigins(**found)
    return RunOrigins()


_UNREADABLE = object()


def _load(load_value: ValueLoader, flow_id: str, sha: str | None, missing: Any = None) -> Any:
    if not sha:
        return missing
    try:
        return load_value(flow_id, sha)
    except Exception as exc:  # a bad or unsafe artifact must never stop the indexer
        log.debug("cannot load artifact %s/%s: %s", flow_id, sha, exc)
        return missing


def _recorded_sha(path: Path) -> str | None:
    record = read_json(path)
    sha = record.get("sha") if isinstance(record, dict) else None
    return sha if isinstance(sha, str) else None


def _outcome_objects(data_json: Path | None, records: dict[str, Path] | None) -> dict[str, str]:
    """name -> sha from the attempt's data.json, else from its artifact records."""
    if data_json is not None or not records:
        return _objects(data_json)
    shas = {name: _recorded_sha(path) for name, path in records.items()}
    return {name: sha for name, sha in shas.items() if sha is not None}


def _recorded_objects(task_dir: Path, attempt: int) -> dict[str, str]:
    """name -> sha of an attempt's artifacts from local metadata's records: what stands
    for the attempt's `data.json` when that lives in remote storage (`--datastore=s3`)."""
    found = {}
    for entry in scandir(task_dir / META):
        match = ARTIFACT_RECORD.match(entry.name)
        if match is not None and int(match["n"]) == attempt:
            sha = _recorded_sha(Path(entry.path))
            if sha is not None:
                found[match["name"]] = sha
    return found


def _objects(data_json: Path | None) -> dict[str, str]:
    if data_json is None:
        return {}
    record = read_json(data_json)
    objects = record.get("objects") if isinstance(record, dict) else None
    return objects if isinstance(objects, dict) else {}


def _entry_mtime_ms(entry: os.DirEntry[str]) -> int:
    try:
        return entry.stat().st_mtime_ns // 1_000_000
    except OSError:
        return 0


def _as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def parameter_repr(value: Any) -> str:
    """A parameter's value as the run shows it: its repr, capped; binary content (an
    IncludeFile with is_text=False) by its size, which says more than a wall of escapes."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value):,} bytes>"
    return short_repr(value)


def short_repr(value: Any, limit: int = 500) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
