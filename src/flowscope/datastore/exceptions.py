"""The exception of a failed attempt, found in its stderr the way a person reads it:
the last Python traceback, ending at the line that names the exception."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

TRACEBACK_START = "Traceback (most recent call last):"
# "ValueError: msg", "mod.sub.CustomError: msg", or a bare "KeyboardInterrupt".
EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")


@dataclass(frozen=True)
class FoundException:
    type: str
    message: str
    traceback: str


def find_exception(lines: Sequence[str]) -> FoundException | None:
    start = None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip().endswith(TRACEBACK_START):
            start = i
            break
    if start is None:
        return None
    prefix = lines[start][: lines[start].index(TRACEBACK_START)]  # e.g. "> " from @catch
    block = [lines[start]]
    for line in lines[start + 1 :]:
        body = line[len(prefix) :] if line.startswith(prefix) else line
        block.append(line)
        if body and not body[0].isspace():
            match = EXCEPTION_LINE.match(body.strip())
            if match:
                return FoundException(
                    type=match["type"],
                    message=(match["message"] or "").strip(),
                    traceback="\n".join(block),
                )
    return None
