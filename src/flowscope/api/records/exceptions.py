"""Every failed attempt's exception, as Metaflow recorded it.

Where the client finds it: the attempt's `_exception` artifact (`Task.exception`), or
for the attempt whose failure `@catch` swallowed, the artifact named by `@catch(var=)`
(its `_exception` is then None). Metaflow's own exceptions, like @timeout's
TimeoutException, are recorded the same way. When no artifact holds it (no `var`, an
unreadable datastore, a process that died before persisting), the traceback is read
from the attempt's log, as a person would.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flowscope.datastore import DatastoreError
from flowscope.datastore.base import Datastore, Stream
from flowscope.datastore.exceptions import find_exception
from flowscope.datastore.recorded_exception import RecordedException
from flowscope.pathspec import Pathspec

# An exception artifact holds three strings; a bigger one is not what we look for.
EXCEPTION_MAX_BYTES = 2_000_000


def attempt_exceptions(
    datastore: Datastore,
    pathspec: Pathspec,
    task: dict[str, Any],
    decorators: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """[{type, message, traceback, attempt, caught, source}] oldest attempt first."""
    catch_var = next((d["attributes"].get("var") for d in decorators if d["name"] == "catch"), None)
    attempts = task["attempts"]
    found = []
    for i, attempt in enumerate(attempts):
        caught = bool(task["caught"]) and i == len(attempts) - 1
        if attempt["status"] != "failed" and not caught:
            continue
        number = int(attempt["attempt"])
        names = [catch_var, "_exception"] if caught and catch_var else ["_exception"]
        exception = _from_artifacts(datastore, pathspec, number, names)
        if exception is None:
            # @catch prints what it caught to stdout; a raising task's goes to stderr.
            exception = _from_log(datastore, pathspec, number, "stdout" if caught else "stderr")
        if exception is not None:
            found.append({**exception, "attempt": number, "caught": caught})
    return found


def _from_artifacts(
    datastore: Datastore, pathspec: Pathspec, attempt: int, names: list[str]
) -> dict[str, Any] | None:
    try:
        artifacts = {a.name: a for a in datastore.list_artifacts(pathspec, attempt)}
    except DatastoreError:
        return None
    for name in names:
        info = artifacts.get(name)
        if info is None:
            continue
        with contextlib.suppress(DatastoreError):
            value = datastore.load_artifact(
                pathspec.flow,
                info.sha,
                max_bytes=EXCEPTION_MAX_BYTES,
                encoding=info.encoding,
                location=info.location,
            )
            if isinstance(value, RecordedException) and value.type:
                text = value.exception or ""
                message, _, _ = text.partition("\n")
                return {
                    "type": value.type,
                    "message": message.strip(),
                    "traceback": value.stacktrace or text,
                    "source": name,
                }
    return None


def _from_log(
    datastore: Datastore, pathspec: Pathspec, attempt: int, stream: Stream
) -> dict[str, Any] | None:
    try:
        # Tracebacks are short lines; a huge line is cut rather than decoded whole.
        lines = datastore.open_log(pathspec, attempt, stream).lines.lines(max_line_bytes=64 * 1024)
    except DatastoreError:
        return None
    found = find_exception([line.text for line in lines])
    if found is None:
        return None
    return {
        "type": found.type,
        "message": found.message,
        "traceback": found.traceback,
        "source": f"log:{stream}",
    }
