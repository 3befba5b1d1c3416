"""A stand-in that Metaflow's pickled exceptions unpickle into.

A failed attempt stores `_exception`, and `@catch(var=...)` stores the exception it
caught, as `metaflow.exception.MetaflowExceptionWrapper`: a class whose state is three
strings (`type`, `exception`, `stacktrace`). flowscope does not import metaflow to read
them; the allowlist maps that class to this one, which keeps only those strings.
"""

from __future__ import annotations

from typing import Any


class RecordedException:
    """What `MetaflowExceptionWrapper` holds: the dotted type, its text, the traceback."""

    def __init__(self, _exception: Any = None) -> None:
        # Metaflow pickles it as `MetaflowExceptionWrapper(None)` plus its state.
        self.type: str | None = None
        self.exception: str | None = None
        self.stacktrace: str | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        for name in ("type", "exception", "stacktrace"):
            value = state.get(name)
            setattr(self, name, value if isinstance(value, str) else None)

    def __repr__(self) -> str:
        return self.stacktrace or f"{self.type}: {self.exception}"
