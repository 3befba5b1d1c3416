"""Which local datastore a running Metaflow runtime writes to, read from `/proc`.

Two projects on one machine may both run a `train.py`; a runtime of one must not keep a
dead run of the other alive. Metaflow picks its local datastore the same way on every
start: `METAFLOW_DATASTORE_SYSROOT_LOCAL` (from the environment, else from the Metaflow
config file) joined with `.metaflow`; without it, the nearest `.metaflow` folder at or
above the working directory, else a new one in the working directory. This repeats that
choice for another process. Where a part of it cannot be read, the answer is None: the
runtime could be writing anywhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flowscope.ingest.locate import DATASTORE_DIR

SYSROOT_VAR = "METAFLOW_DATASTORE_SYSROOT_LOCAL"


def runtime_datastore(process_dir: Path) -> str | None:
    """The real path of the `.metaflow` folder the process at `/proc/<pid>` writes to."""
    try:
        cwd = os.readlink(process_dir / "cwd")
        raw = (process_dir / "environ").read_bytes()
    except OSError:
        return None
    environ = dict(_pairs(raw))
    sysroot = environ.get(SYSROOT_VAR)
    if sysroot is None:
        configured = _from_config(environ)
        if configured is _UNREADABLE:
            return None
        sysroot = configured if isinstance(configured, str) else None
    if sysroot:
        return os.path.realpath(os.path.join(cwd, sysroot, DATASTORE_DIR))
    return _nearest_datastore(cwd)


_UNREADABLE = object()


def _from_config(environ: dict[str, str]) -> object:
    """The sysroot set in the process's Metaflow config file, None if none is set."""
    home = environ.get("METAFLOW_HOME") or os.path.join(environ.get("HOME", "/"), ".metaflowconfig")
    profile = environ.get("METAFLOW_PROFILE")
    path = Path(home) / (f"config_{profile}.json" if profile else "config.json")
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return _UNREADABLE
    value = config.get(SYSROOT_VAR) if isinstance(config, dict) else None
    return value if isinstance(value, str) else None


def _nearest_datastore(cwd: str) -> str:
    current = cwd
    while True:
        candidate = os.path.join(current, DATASTORE_DIR)
        if os.path.isdir(candidate):
            return os.path.realpath(candidate)
        parent = os.path.dirname(current)
        if parent == current:
            return os.path.realpath(os.path.join(cwd, DATASTORE_DIR))
        current = parent


def _pairs(raw: bytes) -> list[tuple[str, str]]:
    pairs = []
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep:
            pairs.append((name.decode(errors="replace"), value.decode(errors="replace")))
    return pairs
