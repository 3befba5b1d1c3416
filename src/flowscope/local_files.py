"""Small, forgiving readers of the local datastore's files: a bad file is logged and
skipped, never raised, so one corrupt file cannot stop the indexer."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


def read_json(path: Path) -> Any:
    """A JSON file's content, or None when it is missing, partial or not JSON."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        log.warning("skipping unreadable file %s: %s", path, exc)
        return None


def mtime_ns(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        log.warning("cannot list %s: %s", path, exc)
        return []


def attempt_of(record: dict[str, Any]) -> int | None:
    for tag in record.get("tags") or []:
        if isinstance(tag, str) and tag.startswith("attempt_id:"):
            return to_int(tag.partition(":")[2])
    return None


def to_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()
