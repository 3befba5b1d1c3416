"""The allowlisted unpickler: data loads, code never runs."""

from __future__ import annotations

import builtins
import collections
import datetime
import decimal
import fractions
import gzip
import io
import os
import pickle
import subprocess
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flowscope.datastore import DatastoreError
from flowscope.datastore.safe_pickle import (
    PayloadTooLarge,
    UnsafePickle,
    read_gzip_capped,
    safe_loads,
)


class _Reduce:
    """Pickles as `func(*args)`: the classic way a pickle runs code."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def _malicious(marker: Path) -> dict[str, Any]:
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": _Reduce(os.system, f"touch {marker}"),
        "subprocess.Popen": _Reduce(subprocess.Popen, ["touch", str(marker)]),
        "subprocess.check_call": _Reduce(subprocess.check_call, ["touch", str(marker)]),
        "eval": _Reduce(builtins.eval, touch),
        "exec": _Reduce(builtins.exec, touch),
        "compile": _Reduce(builtins.compile, touch, "x", "exec"),
        "__import__": _Reduce(builtins.__import__, "os"),
        "getattr": _Reduce(builtins.getattr, pd.DataFrame, "eval"),
        "open": _Reduce(builtins.open, str(marker), "w"),
        "pickle.loads": _Reduce(pickle.loads, pickle.dumps(_Reduce(builtins.exec, touch))),
        "pandas.eval": _Reduce(pd.eval, "1+1"),
        "pandas.read_pickle": _Reduce(pd.read_pickle, str(marker)),
        "numpy.load": _Reduce(np.load, str(marker)),
        "nested in a list": [1, 2, {"x": _Reduce(builtins.exec, touch)}],
    }


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_malicious_pickles_are_refused_and_never_run(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    for label, payload in _malicious(marker).items():
        data = pickle.dumps(payload, protocol=protocol)
        with pytest.raises(UnsafePickle) as refused:
            safe_loads(data)
        assert refused.value.name in str(refused.value), label
        assert not marker.exists(), f"{label} ran"


def test_the_malicious_payload_is_real(tmp_path: Path) -> None:
    # Guard against a test that passes because its payload does nothing.
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_malicious(marker)["exec"]))
    assert marker.exists()


def test_error_names_the_forbidden_global() -> None:
    with pytest.raises(UnsafePickle, match=r"'posix\.system'"):
        safe_loads(pickle.dumps(_Reduce(os.system, "true")))
    with pytest.raises(UnsafePickle, match=r"'builtins\.eval'"):
        safe_loads(pickle.dumps(_Reduce(builtins.eval, "1")))


def test_handwritten_globals_are_refused() -> None:
    # Protocol 0 text: GLOBAL 'os system', then call it with ('true',).
    with pytest.raises(UnsafePickle):
        safe_loads(b"cos\nsystem\n(S'true'\ntR.")
    # Dotted names could walk from an allowed class to anything it references.
    with pytest.raises(UnsafePickle):
        safe_loads(
            b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x06pandas\x8c\x0eDataFrame.eval\x93."
        )
    # A module that pickle could import on its own is never imported by us.
    with pytest.raises(UnsafePickle):
        safe_loads(b"cantigravity\nfly\n.")


def test_getattr_is_refused_except_for_zoneinfo() -> None:
    aware = pd.Timestamp("2024-03-01 12:00", tz="Europe/Paris")
    assert safe_loads(pickle.dumps(aware)) == aware
    with pytest.raises(UnsafePickle, match="getattr"):
        safe_loads(pickle.dumps(_Reduce(getattr, pd.DataFrame, "eval")))
    with pytest.raises(UnsafePickle, match="getattr"):
        safe_loads(pickle.dumps(_Reduce(getattr, dict, "fromkeys")))


def test_size_arguments_cannot_allocate() -> None:
    with pytest.raises(UnsafePickle):
        safe_loads(pickle.dumps(_Reduce(bytes, 10**12), protocol=2))
    with pytest.raises(UnsafePickle):
        safe_loads(pickle.dumps(_Reduce(bytearray, 10**12), protocol=2))
    assert safe_loads(pickle.dumps(bytearray(b"ok"), protocol=2)) == bytearray(b"ok")


VALUES: dict[str, Any] = {
    "scalars": [None, True, 1, 2**80, 1.5, 1 + 2j, "s", b"b", bytearray(b"ba")],
    "containers": {"t": (1, 2), "s": {1, 2}, "f": frozenset({3}), "sl": slice(1, 5, 2)},
    "range": range(3, 9),
    "collections": [
        collections.OrderedDict(a=1),
        collections.defaultdict(list, {"a": [1]}),
        collections.deque([1, 2]),
    ],
    "time": [
        datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
        datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        datetime.date(2024, 1, 2),
        datetime.time(3, 4),
        datetime.timedelta(days=1, seconds=2),
        datetime.UTC,
    ],
    "numbers": [decimal.Decimal("1.10"), fractions.Fraction(1, 3)],
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
}


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("name", sorted(VALUES))
def test_plain_data_round_trips(name: str, protocol: int) -> None:
    value = VALUES[name]
    assert safe_loads(pickle.dumps(value, protocol=protocol)) == value


ARRAYS: dict[str, Any] = {
    "int": np.arange(12).reshape(3, 4),
    "float": np.array([0.5, np.nan]),
    "bool": np.array([True, False]),
    "str": np.array(["a", "bb"]),
    "object": np.array([1, "a", None], dtype=object),
    "datetime": np.array(["2024-01-01"], dtype="datetime64[ns]"),
    "record": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    "scalar": np.float32(1.5),
    "masked": np.ma.masked_array([1, 2], mask=[0, 1]),
}


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_numpy_values_round_trip(name: str, protocol: int) -> None:
    value = ARRAYS[name]
    loaded = safe_loads(pickle.dumps(value, protocol=protocol))
    assert type(loaded) is type(value)
    np.testing.assert_array_equal(loaded, value)


def _frames() -> dict[str, Any]:
    return {
        "mixed": pd.DataFrame(
            {
                "i": [1, 2, 3],
                "f": [0.5, np.nan, 2.5],
                "s": ["x", "y", None],
                "o": pd.Series([1, "a", None], dtype=object),
                "t": pd.to_datetime(["2024-01-01", None, "2024-01-03"]),
                "tz": pd.to_datetime(["2024-01-01"] * 3).tz_localize("UTC"),
                "c": pd.Categorical(["u", "v", "u"]),
                "b": [True, False, True],
                "Int64": pd.array([1, None, 3], dtype="Int64"),
                "td": pd.to_timedelta([1, 2, 3], unit="s"),
            }
        ),
        "indexed": pd.DataFrame(
            {"v": [1, 2]}, index=pd.date_range("2024-01-01", periods=2, freq="h", tz="Europe/Paris")
        ),
        "multi": pd.DataFrame({"v": [1, 2]}, index=pd.MultiIndex.from_tuples([(1, "a"), (2, "b")])),
        "periods": pd.DataFrame({"p": pd.period_range("2024-01", periods=2, freq="M")}),
        "intervals": pd.Series(pd.interval_range(0, 2)),
        "series": pd.Series([1.0, 2.0], name="x", index=["a", "b"]),
        "sparse": pd.Series(pd.arrays.SparseArray([0, 1, 0])),
        "index": pd.Index(["a", "b"]),
        "categorical_index": pd.CategoricalIndex(["a", "b"]),
        "timestamp": pd.Timestamp("2024-01-01"),
        "timedelta": pd.Timedelta("1s"),
        "period": pd.Period("2024-01", freq="M"),
        "missing": [pd.NaT, pd.NA],
    }


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("name", sorted(_frames()))
def test_pandas_values_round_trip(name: str, protocol: int) -> None:
    value = _frames()[name]
    loaded = safe_loads(pickle.dumps(value, protocol=protocol))
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, value)
    elif isinstance(value, pd.Series):
        pd.testing.assert_series_equal(loaded, value)
    elif isinstance(value, pd.Index):
        pd.testing.assert_index_equal(loaded, value)
    elif isinstance(value, list):
        assert loaded[0] is pd.NaT and loaded[1] is pd.NA
    else:
        assert loaded == value


def test_numpy_1_module_paths_load_without_warning() -> None:
    data = pickle.dumps(np.arange(3), protocol=2).replace(b"numpy._core", b"numpy.core")
    assert b"numpy.core.multiarray" in data
    np.testing.assert_array_equal(safe_loads(data), np.arange(3))


def test_payload_over_the_cap_is_refused_before_unpickling() -> None:
    data = pickle.dumps(list(range(1000)))
    with pytest.raises(PayloadTooLarge):
        safe_loads(data, max_bytes=100)
    assert safe_loads(data, max_bytes=len(data)) == list(range(1000))


def test_gzip_bomb_stops_at_the_cap() -> None:
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb") as handle:
        for _ in range(64):
            handle.write(bytes(1 << 20))  # 64 MiB of zeros, ~64 KiB compressed
    raw.seek(0)
    with pytest.raises(PayloadTooLarge):
        read_gzip_capped(raw, 1 << 20)


def test_corrupt_data_is_a_datastore_error() -> None:
    with pytest.raises(DatastoreError):
        safe_loads(b"\x80\x04not a pickle")
    with pytest.raises(DatastoreError):
        read_gzip_capped(io.BytesIO(b"not gzip"), 100)
