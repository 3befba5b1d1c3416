"""The bytes Metaflow 2.19's local runtime writes, one helper per kind of file.

Shapes were copied from real runs of `metaflow==2.19.39` (the test fixtures), not from
Metaflow's code: JSON records with the same keys in the same order, MFLog lines,
content-addressed gzip pickles with their `_meta` sidecar. Every file gets the mtime
of the moment it stands for, because flowscope (like any reader of a datastore) uses
mtimes to tell an old, finished run from a live one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import platform
import struct
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from random import Random
from typing import Any

METAFLOW_VERSION = "2.19.39"
PYTHON_VERSION = platform.python_version()
# `data.json` carries the long form, as `sys.version` spells it.
PYTHON_VERSION_LONG = sys.version.replace("\n", " ")
PICKLE_ENCODING = "pickle-v4"
CAS_META = b'{"cas_raw": false, "cas_version": 1}'
EMPTY_DONE_LOCK = b'""'


def dumps(record: dict[str, Any]) -> bytes:
    # json.dumps' default separators are what Metaflow writes (", " and ": ").
    return json.dumps(record).encode()


def write_file(path: str, data: bytes, ms: int) -> None:
    """Create `path` with `data`, its mtime set to epoch milliseconds `ms`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        ns = ms * 1_000_000
        os.utime(fd, ns=(ns, ns))
    finally:
        os.close(fd)


def set_mtime(path: str, ms: int) -> None:
    ns = ms * 1_000_000
    os.utime(path, ns=(ns, ns))


# ---- pickles -------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One level of a foreach: what `_foreach_stack` holds (Metaflow's ForeachFrame)."""

    step: str
    var: str
    num_splits: int
    index: int
    value: str


@dataclass(frozen=True)
class Pickled:
    """An artifact value as stored: its pickle and the type string `data.json` records."""

    blob: bytes
    type: str

    @cached_property
    def sha(self) -> str:
        # Content address, as Metaflow computes it: the sha1 of the (uncompressed) pickle.
        # Cached: a 100,000-item foreach list is hashed once per batch, not once per task.
        return hashlib.sha1(self.blob).hexdigest()


def pickled(value: Any) -> Pickled:
    return Pickled(pickle.dumps(value, protocol=4), str(type(value)))


def pickled_foreach_stack(frames: Sequence[Frame]) -> Pickled:
    """`_foreach_stack`: a list of `__main__.ForeachFrame` named tuples.

    Metaflow pickles the frames as `__main__.ForeachFrame` (it registers the class on
    `__main__` so that the client can load them). That class is not importable here,
    so the pickle is spelled out opcode by opcode, byte for byte what `pickle.dumps`
    writes for one frame (so the sha matches a real run's).
    """
    if not frames:
        return pickled([])
    body = bytearray(b"]\x94")  # EMPTY_LIST, MEMOIZE
    if len(frames) > 1:
        body += b"("  # MARK
    for frame in frames:
        body += _global("__main__", "ForeachFrame") + b"("
        body += _str(frame.step) + _str(frame.var) + _int(frame.num_splits)
        body += _int(frame.index) + _str(frame.value)
        body += b"t\x94\x81\x94"  # TUPLE, NEWOBJ (each memoized)
    body += b"e" if len(frames) > 1 else b"a"  # APPENDS / APPEND
    return Pickled(_framed(bytes(body) + b"."), "<class 'list'>")


def pickled_exception(type_name: str, message: str, traceback: str) -> Pickled:
    """`_exception` of a failed attempt: a `metaflow.exception.MetaflowExceptionWrapper`
    built with `(None,)` and then given `exception`, `type` and `stacktrace`."""
    body = _global("metaflow.exception", "MetaflowExceptionWrapper")
    body += b"N\x85\x94R\x94}\x94("  # NONE, TUPLE1, REDUCE, EMPTY_DICT (memoized), MARK
    for key, text in (("exception", message), ("type", type_name), ("stacktrace", traceback)):
        body += _str(key) + _str(text)
    body += b"ub."  # SETITEMS, BUILD, STOP
    return Pickled(_framed(body), "<class 'metaflow.exception.MetaflowExceptionWrapper'>")


def _str(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw + b"\x94"  # SHORT_BINUNICODE, MEMOIZE
    return b"X" + struct.pack("<I", len(raw)) + raw + b"\x94"  # BINUNICODE, MEMOIZE


def _int(number: int) -> bytes:
    if 0 <= number < 256:
        return b"K" + bytes([number])  # BININT1
    if 0 <= number < 65536:
        return b"M" + struct.pack("<H", number)  # BININT2
    return b"J" + struct.pack("<i", number)  # BININT


def _global(module: str, name: str) -> bytes:
    return _str(module) + _str(name) + b"\x93\x94"  # STACK_GLOBAL, MEMOIZE


def _framed(body: bytes) -> bytes:
    # Protocol 4 as pickle.dumps writes it: PROTO 4, then one FRAME holding the rest.
    return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body


# ---- the content-addressed store ----------------------------------------------------


class Blobs:
    """`<Flow>/data/<sha[:2]>/<sha>`: gzip pickles named by the sha1 of the pickle.

    Identical values share one file, so the same `True`, `None` or `_graph_info` of
    100,000 tasks costs one write. Several processes may write the same blob at once:
    each writes a private temporary file and renames it into place.
    """

    def __init__(self, flow_dir: str) -> None:
        self.data_dir = os.path.join(flow_dir, "data")
        self._written: set[str] = set()

    def put(self, value: Pickled, ms: int) -> str:
        sha = value.sha
        if sha in self._written:
            return sha
        folder = os.path.join(self.data_dir, sha[:2])
        path = os.path.join(folder, sha)
        if not os.path.exists(path + "_meta"):
            os.makedirs(folder, exist_ok=True)
            self._atomic(path, gzip.compress(value.blob, compresslevel=3, mtime=ms // 1000), ms)
            self._atomic(path + "_meta", CAS_META, ms)
        self._written.add(sha)
        return sha

    @staticmethod
    def _atomic(path: str, data: bytes, ms: int) -> None:
        temporary = f"{path}.{os.getpid()}.tmp"
        write_file(temporary, data, ms)
        os.replace(temporary, path)


# ---- JSON records -------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """Who a record belongs to: the fields every metadata record repeats."""

    flow_id: str
    run_id: str
    user: str
    system_tags: tuple[str, ...]
    ds_root: str


def self_record(
    owner: Owner,
    ts: int,
    tags: Sequence[str] = (),
    step: str | None = None,
    task_id: str | None = None,
) -> bytes:
    """`_meta/_self.json` of a run, a step (with `step`) or a task (with `task_id`)."""
    record: dict[str, Any] = {"run_number": owner.run_id}
    if step is not None:
        record["step_name"] = step
    if task_id is not None:
        record["task_id"] = task_id
    record.update(
        flow_id=owner.flow_id,
        user_name=owner.user,
        tags=list(tags),
        system_tags=list(owner.system_tags),
        ts_epoch=ts,
    )
    return dumps(record)


def sysmeta_record(
    owner: Owner,
    step: str,
    task_id: str,
    field: str,
    value: Any,
    ts: int,
    attempt: int | None,
    type_: str | None = None,
) -> bytes:
    """`_meta/sysmeta_<field>_<ts>.json`: one metadata entry (`attempt=None`: no tag)."""
    return dumps(
        {
            "flow_id": owner.flow_id,
            "run_number": owner.run_id,
            "step_name": step,
            "task_id": task_id,
            "field_name": field,
            "type": type_ or field,
            "value": value,
            "tags": [] if attempt is None else [f"attempt_id:{attempt}"],
            "user_name": owner.user,
            "ts_epoch": ts,
        }
    )


def artifact_record(
    owner: Owner, step: str, task_id: str, attempt: int, name: str, sha: str, ts: int
) -> bytes:
    """`_meta/<attempt>_artifact_<name>.json`: how the client lists a task's artifacts."""
    return dumps(
        {
            "run_number": owner.run_id,
            "step_name": step,
            "task_id": task_id,
            "attempt_id": attempt,
            "name": name,
            "content_type": PICKLE_ENCODING,
            "type": "metaflow.artifact",
            "sha": sha,
            "ds_type": "local",
            "location": f":root:{owner.ds_root}",
            "flow_id": owner.flow_id,
            "user_name": owner.user,
            "tags": [],
            "system_tags": list(owner.system_tags),
            "ts_epoch": ts,
        }
    )


def data_record(attempt: int, stored: dict[str, tuple[str, int, str]]) -> bytes:
    """`<attempt>.data.json`: name -> sha (`objects`) and name -> size/type (`info`)."""
    return dumps(
        {
            "datastore": "local",
            "version": "1.0",
            "attempt": attempt,
            "python_version": PYTHON_VERSION_LONG,
            "objects": {name: sha for name, (sha, _, _) in stored.items()},
            "info": {
                name: {
                    "size": size,
                    "type": type_,
                    "encoding": PICKLE_ENCODING,
                    "serializer_info": {"source": "metaflow"},
                }
                for name, (_, size, type_) in stored.items()
            },
        }
    )


def attempt_marker(ms: int) -> bytes:
    return dumps({"time": ms / 1000})


def task_begin_marker(attempt: int) -> bytes:
    return dumps(
        {
            "code_package_metadata": "",
            "code_package_sha": None,
            "code_package_ds": None,
            "code_package_url": None,
            "retry_count": attempt,
        }
    )


def runtime_marker(ok: bool, killed: bool = False) -> bytes:
    """`<attempt>.runtime`: what the runtime saw when the task process ended."""
    return_code = 0 if ok else (-9 if killed else 1)
    return dumps({"return_code": return_code, "killed": killed, "success": ok})


# ---- logs ---------------------------------------------------------------------------


def mflog(lines: Sequence[str], start_us: int, end_us: int, rng: Random) -> bytes:
    """Lines as the local runtime writes them: `[MFLOG|0|<utc>Z|runtime|<uuid>]text`,
    timestamps spread evenly over [start_us, end_us)."""
    if not lines:
        return b""
    step = max(1, (end_us - start_us) // len(lines))
    out = []
    for i, text in enumerate(lines):
        stamp = datetime.fromtimestamp((start_us + i * step) / 1e6, UTC)
        line_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        out.append(f"[MFLOG|0|{stamp:%Y-%m-%dT%H:%M:%S.%f}Z|runtime|{line_id}]{text}\n")
    return "".join(out).encode()
