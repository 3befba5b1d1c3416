"""Small, forgiving readers of the local datastore's files: a bad file is logged and
skipped, never raised, so one corrupt file cannot stop the indexer.

A bad file is warned about once per process, not once per indexing pass or request
(issue 12): the indexer reads unsealed runs again every few seconds, and a log that
repeats the same complaint forever hides the next, different one.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

# Enough to remember every damaged file of a badly damaged datastore; past it, warnings
# may repeat rather than memory grow without bound.
_WARNED_LIMIT = 100_000
_warned: set[str] = set()
_warned_lock = threading.Lock()


class Unreadable(Exception):
    """A file or folder that exists but could not be read (damaged, not JSON, no access)."""


def warn_once(key: str, message: str, *args: object) -> None:
    """Log `message` at WARNING the first time `key` is seen in this process."""
    with _warned_lock:
        if key in _warned:
            return
        if len(_warned) < _WARNED_LIMIT:
            _warned.add(key)
    log.warning(message, *args)


def load_json(path: Path) -> Any:
    """A JSON file's content; None when it does not exist (yet); Unreadable when it
    exists but is partial, not JSON, or cannot be read."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        warn_once(str(path), "skipping unreadable file %s: %s", path, exc)
        raise Unreadable(str(path)) from exc


def read_json(path: Path) -> Any:
    """A JSON file's content, or None when it is missing, partial or not JSON."""
    try:
        return load_json(path)
    except Unreadable:
        return None


def mtime_ns(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def list_dir(path: Path) -> list[os.DirEntry[str]]:
    """A folder's entries; [] when it does not exist; Unreadable when it exists but
    cannot be listed (no permission, a symlink loop, an I/O error)."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        warn_once(str(path), "cannot list %s: %s", path, exc)
        raise Unreadable(str(path)) from exc


def scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        return list_dir(path)
    except Unreadable:
        return []


def attempt_of(record: dict[str, Any]) -> int | None:
    for tag in record.get("tags") or []:
        if isinstance(tag, str) and tag.startswith("attempt_id:"):
            return to_int(tag.partition(":")[2])
    return None


def to_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # 1e400 is inf
        return None


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()
