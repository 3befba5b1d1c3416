"""Turn an unpickled artifact value into a small, safe-to-send preview.

Three kinds, as the API defines them: `json` (the value is plain JSON data: `preview_data`
holds it, capped), `table` (pandas: `preview_data` is `{columns, rows, total_rows}`), and
`repr` (everything else: only the capped `preview` string). Every preview is bounded in
size whatever the value, so a huge artifact cannot produce a huge response.
"""

from __future__ import annotations

import datetime
import json
import math
import reprlib
from dataclasses import dataclass
from typing import Any, Literal

from flowscope.datastore.included_file import IncludedContent, IncludedFileRef

MAX_PREVIEW_CHARS = 10_000
MAX_JSON_ITEMS = 1_000
MAX_JSON_DEPTH = 10
MAX_JSON_STRING = 10_000
MAX_TABLE_ROWS = 100
MAX_TABLE_COLUMNS = 100
MAX_CELL_CHARS = 1_000

PreviewKind = Literal["repr", "json", "table", "text", "bytes"]


@dataclass(frozen=True, slots=True)
class Preview:
    """What the artifact endpoint shows for a value."""

    preview: str
    preview_kind: PreviewKind
    preview_data: Any = None


MAX_JSON_NODES = 20_000


class _NotJson(Exception):
    """The value holds something that has no faithful JSON form."""


class _CappedRepr(reprlib.Repr):
    """reprlib's caps, plus byte strings cut before their repr is built, not after."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 6
        self.maxdict = self.maxlist = self.maxtuple = 100
        self.maxset = self.maxfrozenset = self.maxdeque = self.maxarray = 100
        self.maxstring = 2_000
        self.maxlong = 400
        self.maxother = 2_000

    def repr_bytes(self, obj: bytes, level: int) -> str:
        if len(obj) <= self.maxstring:
            return repr(obj)
        return f"{obj[: self.maxstring]!r}... ({len(obj)} bytes)"

    def repr_bytearray(self, obj: bytearray, level: int) -> str:
        return f"bytearray({self.repr_bytes(bytes(obj[: self.maxstring + 1]), level)})"


_REPR = _CappedRepr()


def _cap(text: str, limit: int = MAX_PREVIEW_CHARS) -> str:
    if len(text) <= limit:
        return text
    marker = f"... [{len(text) - limit} more characters]"
    return text[: limit - len(marker)] + marker


def _numpy_scalar(value: Any) -> Any:
    """numpy scalars as plain Python ones, without importing numpy for everyone."""
    kind = type(value)
    if kind.__module__ == "numpy" and hasattr(value, "item"):
        if kind.__name__.startswith(("datetime64", "timedelta64")):
            # .item() turns nanosecond stamps into bare integers.
            return str(value)
        return value.item()
    return value


class _JsonCopy:
    """Copies plain JSON data with caps on items per container, depth and total nodes.

    Per-container caps alone would still allow 1,000 ** 10 nodes; the node budget keeps
    the whole preview small. Containers past the depth cap become their capped repr.
    """

    def __init__(self) -> None:
        self.nodes = 0

    def copy(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        value = _numpy_scalar(value)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            if abs(value) >= 2**53:
                # A browser would silently round it; the repr keeps every digit.
                raise _NotJson
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _NotJson
            return value
        if isinstance(value, str):
            return _cap(value, MAX_JSON_STRING)
        if type(value) in (list, tuple):
            if depth >= MAX_JSON_DEPTH:
                return _REPR.repr(value)
            return [self.copy(item, depth + 1) for item in self._take(value)]
        if isinstance(value, dict):
            if depth >= MAX_JSON_DEPTH:
                return _REPR.repr(value)
            if not all(isinstance(key, str) for key in self._take(value)):
                raise _NotJson
            return {key: self.copy(value[key], depth + 1) for key in self._take(value)}
        raise _NotJson

    def _take(self, items: Any) -> list[Any]:
        room = max(0, min(MAX_JSON_ITEMS, MAX_JSON_NODES - self.nodes))
        taken: list[Any] = []
        for item in items:
            if len(taken) >= room:
                break
            taken.append(item)
        return taken


def _cell(value: Any) -> Any:
    """One table cell as a JSON scalar."""
    value = _numpy_scalar(value)
    if value is None:
        return None
    if isinstance(value, bool | int | str):
        return value if not isinstance(value, str) else _cap(value, MAX_CELL_CHARS)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        import pandas as pd

        if value is pd.NaT or value is pd.NA:
            return None
    except ImportError:  # pragma: no cover - pandas values imply pandas
        pass
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return _cap(str(value), MAX_CELL_CHARS)


def _table(frame: Any) -> dict[str, Any]:
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name=frame.name if frame.name is not None else "value")
    head = frame.iloc[:MAX_TABLE_ROWS, :MAX_TABLE_COLUMNS]
    index = head.index
    # A default 0..n-1 index says nothing; any other index is data worth showing.
    show_index = not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1)
    columns = [str(column) for column in head.columns]
    if show_index:
        names = [str(name) for name in index.names if name is not None]
        columns = [" / ".join(names) or "index", *columns]
    rows = []
    for label, row in zip(index, head.itertuples(index=False, name=None), strict=True):
        cells = [_cell(cell) for cell in row]
        if show_index:
            shown = " / ".join(map(str, label)) if isinstance(label, tuple) else label
            cells.insert(0, _cell(shown))
        rows.append(cells)
    return {"columns": columns, "rows": rows, "total_rows": len(frame)}


def _pandas_repr(value: Any) -> str:
    import pandas as pd

    with pd.option_context(
        "display.max_rows", 60, "display.max_columns", 20, "display.max_colwidth", 80
    ):
        return repr(value)


def _numpy_repr(value: Any) -> str:
    import numpy as np

    with np.printoptions(threshold=200, edgeitems=5, linewidth=100):
        body = repr(value)
    return f"ndarray shape={value.shape} dtype={value.dtype}\n{body}"


def _library(value: Any) -> str:
    return type(value).__module__.split(".", 1)[0]


def make_preview(value: Any) -> Preview:
    """The preview of one artifact value (already unpickled safely)."""
    library = _library(value)
    if library == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame | pd.Series):
            return Preview(_cap(_pandas_repr(value)), "table", _table(value))
        return Preview(_cap(_pandas_repr(value)), "repr")
    if library == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            return Preview(_cap(_numpy_repr(value)), "repr")
    text = _cap(_REPR.repr(value))
    try:
        data = _JsonCopy().copy(value)
    except _NotJson:
        return Preview(text, "repr")
    return Preview(text, "json", data)


def included_preview(content: IncludedContent) -> Preview:
    """An IncludeFile parameter's content, as the client's `.data` gives it: text as text
    (capped), binary by its size (the whole file is a download)."""
    if content.is_text:
        return Preview(_cap(content.text()), "text")
    return Preview(f"{content.size:,} bytes of binary content", "bytes", {"size": content.size})


def preview_pickle(data: bytes, *, max_bytes: int) -> Preview | IncludedFileRef:
    """The preview of a pickled artifact, unpickled and previewed in a worker process with
    memory and time limits (`bounded_unpickle`): nothing of the value reaches the server
    but the capped preview, or an IncludeFile parameter's descriptor (whose content the
    caller reads from the datastore)."""
    from flowscope.datastore.bounded_unpickle import bounded_preview

    text, kind, data_ = bounded_preview(data, max_bytes=max_bytes)
    if kind == "included" and isinstance(data_, dict):
        return IncludedFileRef.of(data_)
    if kind not in ("repr", "json", "table"):
        raise ValueError(f"unknown preview kind {kind!r}")
    return Preview(text, kind, data_)  # type: ignore[arg-type]


def load_snippet(pathspec: str, name: str, attempt: int) -> str:
    """One line of Metaflow client code that loads this artifact."""
    return f"Task({json.dumps(pathspec)}, attempt={int(attempt)})[{json.dumps(name)}].data"
