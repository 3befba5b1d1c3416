"""Which folders of a datastore to watch, within the kernel's limit (issue 10).

Watching a datastore recursively costs one inotify watch per folder: a run of 100,000
tasks is 200,000 folders, more than Linux allows a user by default
(`fs.inotify.max_user_watches`), and then the watcher silently gets no events for the
folders it could not add. Only some folders can still change in a way that needs an
event, so only they are watched, each on its own (not recursively):

- the datastore itself and each flow folder: a new flow, a new run;
- each run's `_meta` folder: tags edited after the run (`add_tag` rewrites `_self.json`);
- an unfinished run's folder and its step folders: new steps and new tasks. What changes
  inside a task folder is read by the liveness pass every 2 s, which re-reads every
  unfinished run anyway.

The set changes as runs start and finish, so the watcher is restarted with the new set.
When the kernel refuses a watch even so, `WatchLimit` says so and the caller polls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flowscope.ingest.local_indexer import NOT_FLOWS
from flowscope.ingest.local_reader import META

LIMIT_FILE = Path("/proc/sys/fs/inotify/max_user_watches")


class WatchLimit(RuntimeError):
    """The kernel refused a watch: too many folders for inotify."""


@dataclass(frozen=True)
class WatchSet:
    paths: tuple[str, ...]
    # Folders whose new subfolders change the set (a new flow, run, step).
    growing: frozenset[str]


def watch_set(root: Path, unfinished: Iterable[tuple[str, str]]) -> WatchSet:
    open_runs = set(unfinished)
    paths = [str(root)]
    growing = {str(root)}
    for flow in _subdirs(root):
        if flow.name in NOT_FLOWS or flow.name.startswith("."):
            continue
        paths.append(str(flow))
        growing.add(str(flow))
        for run in _subdirs(flow):
            if run.name in (META, "data"):
                continue
            meta = run / META
            if meta.is_dir():
                paths.append(str(meta))
            if (flow.name, run.name) in open_runs:
                paths.append(str(run))
                growing.add(str(run))
                paths.extend(str(step) for step in _subdirs(run) if step.name != META)
    return WatchSet(tuple(paths), frozenset(growing))


def needs_new_set(changes: Iterable[str], current: WatchSet) -> bool:
    """Whether a change added or removed a folder the set depends on."""
    return any(os.path.dirname(path) in current.growing for path in changes)


def kernel_limit() -> int | None:
    try:
        return int(LIMIT_FILE.read_text().strip())
    except (OSError, ValueError):
        return None


def is_watch_limit(exc: BaseException) -> bool:
    """watchfiles reports a refused watch as an OSError naming the limit (or ENOSPC)."""
    text = str(exc)
    return isinstance(exc, OSError) and (
        "watch limit" in text or "MaxFilesWatch" in text or "No space left" in text
    )


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as it:
            return sorted(Path(e.path) for e in it if e.is_dir(follow_symlinks=False))
    except OSError:
        return []
