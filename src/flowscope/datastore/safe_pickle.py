"""Unpickle artifact values without letting a pickle run code.

A pickle names the callables it needs ("globals") and the unpickler calls them; a crafted
artifact can name `os.system` or `builtins.eval`. `SafeUnpickler` resolves only globals
from a fixed allowlist (plain data types, numpy arrays, pandas frames) and raises
`UnsafePickle` for anything else, before the global is even imported.

numpy and pandas are looked up by identity rather than by name: pickles written by other
pandas versions reference the same classes through other module paths
(`pandas.core.frame.DataFrame` vs `pandas.DataFrame`), and both must resolve to an
allowed object. Only modules already imported are searched, so a name can never make us
import a module that was not loaded anyway.
"""

from __future__ import annotations

import codecs
import collections
import datetime
import decimal
import fractions
import gzip
import importlib
import io
import pickle
import sys
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

from flowscope.datastore import DatastoreError
from flowscope.datastore.included_file import METAFLOW_CLASS as INCLUDED_FILE_CLASS
from flowscope.datastore.included_file import IncludedFileRef
from flowscope.datastore.recorded_exception import RecordedException

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


class UnsafePickle(DatastoreError):
    """The pickle references a global that is not on the allowlist."""

    def __init__(self, module: str, name: str, reason: str = "is not allowed") -> None:
        super().__init__(f"refusing to unpickle: global '{module}.{name}' {reason}")
        self.module = module
        self.name = name


class PayloadTooLarge(DatastoreError):
    """The (uncompressed) pickle is larger than the caller's limit."""


def _refuse_size_argument(kind: type) -> Callable[..., Any]:
    """`bytes(10**12)` in a pickle would allocate a terabyte: accept only real contents."""

    def build(*args: Any) -> Any:
        if args and isinstance(args[0], int):
            raise UnsafePickle("builtins", kind.__name__, "called with a size")
        return kind(*args)

    build.__name__ = kind.__name__
    return build


def _zoneinfo_getattr(obj: Any, attribute: str) -> Any:
    """The one `getattr` that pickles of tz-aware pandas data need, and nothing else.

    `ZoneInfo` pickles as `getattr(ZoneInfo, "_unpickle")`; a general getattr would hand
    out e.g. `DataFrame.eval`, so every other use is refused.
    """
    if obj is zoneinfo.ZoneInfo and attribute == "_unpickle":
        return zoneinfo.ZoneInfo._unpickle  # type: ignore[attr-defined]
    raise UnsafePickle("builtins", "getattr", f"is only allowed for ZoneInfo, not {attribute!r}")


# Plain data from the standard library: exact (module, name) pairs.
_STDLIB: dict[tuple[str, str], Any] = {
    **{
        ("builtins", kind.__name__): kind
        for kind in (
            dict,
            list,
            tuple,
            set,
            frozenset,
            str,
            int,
            float,
            complex,
            bool,
            slice,
            range,
        )
    },
    ("builtins", "bytes"): _refuse_size_argument(bytes),
    ("builtins", "bytearray"): _refuse_size_argument(bytearray),
    ("builtins", "getattr"): _zoneinfo_getattr,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): collections.defaultdict,
    ("collections", "deque"): collections.deque,
    ("datetime", "datetime"): datetime.datetime,
    ("datetime", "date"): datetime.date,
    ("datetime", "time"): datetime.time,
    ("datetime", "timedelta"): datetime.timedelta,
    ("datetime", "timezone"): datetime.timezone,
    ("decimal", "Decimal"): decimal.Decimal,
    ("fractions", "Fraction"): fractions.Fraction,
    ("uuid", "UUID"): uuid.UUID,
    ("zoneinfo", "ZoneInfo"): zoneinfo.ZoneInfo,
    # Protocol 2 stores bytes as `_codecs.encode(text, "latin1")`; codecs only convert data.
    ("_codecs", "encode"): codecs.encode,
    # `_exception` and @catch's variable: strings only (see recorded_exception).
    ("metaflow.exception", "MetaflowExceptionWrapper"): RecordedException,
    # flowscope's own stand-ins, as a bounded_unpickle worker hands them back: they hold
    # only the plain values they were rebuilt with.
    ("flowscope.datastore.recorded_exception", "RecordedException"): RecordedException,
    ("flowscope.datastore.included_file", "IncludedFileRef"): IncludedFileRef,
}

# Protocol 2 pickles use Python 2 names.
_PY2_ALIASES = {
    ("__builtin__", "xrange"): ("builtins", "range"),
    ("__builtin__", "unicode"): ("builtins", "str"),
}

_NUMPY_NAMES: dict[str, tuple[str, ...]] = {
    "numpy": ("ndarray", "dtype"),
    "numpy._core.multiarray": ("_reconstruct", "scalar"),
    "numpy._core.numeric": ("_frombuffer",),
    "numpy.ma": ("MaskedArray",),
    "numpy.ma.core": ("_mareconstruct",),
}

_PANDAS_NAMES: dict[str, tuple[str, ...]] = {
    "pandas": (
        "DataFrame",
        "Series",
        "Index",
        "RangeIndex",
        "MultiIndex",
        "DatetimeIndex",
        "TimedeltaIndex",
        "PeriodIndex",
        "CategoricalIndex",
        "IntervalIndex",
        "Categorical",
        "CategoricalDtype",
        "DatetimeTZDtype",
        "PeriodDtype",
        "IntervalDtype",
        "SparseDtype",
        "StringDtype",
        "BooleanDtype",
        "Int8Dtype",
        "Int16Dtype",
        "Int32Dtype",
        "Int64Dtype",
        "UInt8Dtype",
        "UInt16Dtype",
        "UInt32Dtype",
        "UInt64Dtype",
        "Float32Dtype",
        "Float64Dtype",
        "Timestamp",
        "Timedelta",
        "Period",
        "Interval",
        "NA",
        "NaT",
    ),
    "pandas.arrays": (
        "BooleanArray",
        "DatetimeArray",
        "FloatingArray",
        "IntegerArray",
        "IntervalArray",
        "NumpyExtensionArray",
        "PeriodArray",
        "SparseArray",
        "StringArray",
        "TimedeltaArray",
    ),
    # Internal reconstructors that the pickles of the classes above reference.
    "pandas._libs.arrays": ("__pyx_unpickle_NDArrayBacked",),
    "pandas._libs.internals": ("_unpickle_block",),
    "pandas._libs.interval": ("__pyx_unpickle_IntervalMixin",),
    "pandas._libs.sparse": ("IntIndex", "BlockIndex"),
    "pandas._libs.tslibs.nattype": ("_nat_unpickle",),
    "pandas._libs.tslibs.timedeltas": ("_timedelta_unpickle",),
    "pandas._libs.tslibs.timestamps": ("_unpickle_timestamp",),
    "pandas.core.indexes.base": ("_new_Index",),
    "pandas.core.indexes.datetimes": ("_new_DatetimeIndex",),
    "pandas.core.indexes.interval": ("_new_IntervalIndex",),
    "pandas.core.indexes.period": ("_new_PeriodIndex",),
    "pandas.core.indexes.timedeltas": ("_new_TimedeltaIndex",),
    "pandas.core.internals.blocks": ("new_block",),
    "pandas.core.internals.managers": ("BlockManager", "SingleBlockManager"),
}

_allowed_objects: dict[int, Any] | None = None
_offset_base: type | None = None


def _collect(root: str, names: dict[str, tuple[str, ...]]) -> dict[int, Any]:
    """Objects allowed from one library, keyed by id; empty when it is not installed."""
    try:
        importlib.import_module(root)
    except ImportError:
        return {}
    found: dict[int, Any] = {}
    for module_name, attributes in names.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for attribute in attributes:
            obj = getattr(module, attribute, None)
            if obj is not None:
                found[id(obj)] = obj
    return found


def _library_objects() -> dict[int, Any]:
    global _allowed_objects, _offset_base
    if _allowed_objects is None:
        objects = _collect("numpy", _NUMPY_NAMES)
        objects.update(_collect("pandas", _PANDAS_NAMES))
        if "pandas" in sys.modules:
            from pandas._libs.tslibs.offsets import BaseOffset

            _offset_base = BaseOffset
        _allowed_objects = objects
    return _allowed_objects


def _resolve_library_global(module: str, name: str) -> Any:
    if module == "numpy.core" or module.startswith("numpy.core."):
        # numpy 1.x pickles; numpy 2 moved the module and warns on the old path.
        module = "numpy._core" + module[len("numpy.core") :]
    allowed = _library_objects()
    root = module.split(".", 1)[0]
    if root not in sys.modules:
        raise DatastoreError(f"reading this artifact needs {root}, which is not installed")
    loaded = sys.modules.get(module)
    obj = getattr(loaded, name, None) if loaded is not None else None
    if obj is None:
        raise UnsafePickle(module, name)
    if id(obj) in allowed:
        return obj
    # Date offsets (Day, Hour, MonthEnd, ...) appear as the freq of date ranges.
    if isinstance(obj, type) and _offset_base is not None and issubclass(obj, _offset_base):
        return obj
    raise UnsafePickle(module, name)


class SafeUnpickler(pickle.Unpickler):
    """A `pickle.Unpickler` that resolves only allowlisted globals."""

    def find_class(self, module: str, name: str) -> Any:
        if "." in name:
            # Nested attribute paths could reach anything hanging off an allowed class.
            raise UnsafePickle(module, name)
        if module == "__builtin__":
            module, name = _PY2_ALIASES.get((module, name), ("builtins", name))
        stdlib = _STDLIB.get((module, name))
        if stdlib is not None:
            return stdlib
        if (module, name) == INCLUDED_FILE_CLASS:
            # An IncludeFile parameter: a descriptor of the file, rebuilt as plain data.
            return IncludedFileRef
        root = module.split(".", 1)[0]
        if root in ("numpy", "pandas"):
            return _resolve_library_global(module, name)
        raise UnsafePickle(module, name)


def safe_loads(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Unpickle `data` with `SafeUnpickler`, refusing payloads over `max_bytes`."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"pickle is {len(data)} bytes, over the {max_bytes} byte limit")
    try:
        return SafeUnpickler(io.BytesIO(data)).load()
    except (DatastoreError, MemoryError):
        raise  # MemoryError: a worker's limit (bounded_unpickle) says what it means
    except Exception as error:
        # Corrupt or unsupported pickles surface as one error type for the API.
        raise DatastoreError(
            f"cannot unpickle artifact: {type(error).__name__}: {error}"
        ) from error


def read_gzip_capped(raw: io.BufferedIOBase, max_bytes: int) -> bytes:
    """Decompress a gzip stream, stopping as soon as it passes `max_bytes`.

    A small compressed file can inflate to gigabytes: never decompress more than the cap.
    """
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            data = stream.read(max_bytes + 1)
    except (OSError, EOFError) as error:
        raise DatastoreError(f"corrupt compressed artifact: {error}") from error
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"artifact is over the {max_bytes} byte limit once uncompressed")
    return data
