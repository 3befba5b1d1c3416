"""Previews of artifact values: kinds, JSON data, tables, and their size caps."""

from __future__ import annotations

import datetime
import json
import math

import numpy as np
import pandas as pd
import pytest

from flowscope.datastore.preview import (
    MAX_JSON_DEPTH,
    MAX_JSON_ITEMS,
    MAX_PREVIEW_CHARS,
    MAX_TABLE_ROWS,
    load_snippet,
    make_preview,
)


def _strict_json(data: object) -> object:
    return json.loads(json.dumps(data, allow_nan=False))


def test_int_is_json() -> None:
    preview = make_preview(42)
    assert (preview.preview, preview.preview_kind, preview.preview_data) == ("42", "json", 42)


def test_dict_is_json() -> None:
    value = {"a": 1, "b": [1, 2.5, "x"], "c": {"d": None, "e": True}}
    preview = make_preview(value)
    assert preview.preview_kind == "json"
    assert preview.preview_data == value
    assert preview.preview == repr(value)


def test_list_and_tuple_are_json() -> None:
    assert make_preview(list(range(20))).preview_data == list(range(20))
    assert make_preview((1, "a")).preview_data == [1, "a"]


def test_numpy_array_is_repr_with_shape_and_dtype() -> None:
    preview = make_preview(np.arange(12, dtype=np.float64).reshape(3, 4))
    assert preview.preview_kind == "repr"
    assert preview.preview_data is None
    assert preview.preview.startswith("ndarray shape=(3, 4) dtype=float64\n")
    assert "11." in preview.preview


def test_huge_numpy_array_preview_is_small() -> None:
    preview = make_preview(np.zeros((1000, 1000)))
    assert len(preview.preview) < 5_000
    assert "shape=(1000, 1000)" in preview.preview


def test_dataframe_is_a_table() -> None:
    frame = pd.DataFrame(
        {
            "i": range(250),
            "f": [0.5] * 249 + [math.nan],
            "s": ["x"] * 250,
            "t": pd.to_datetime(["2024-01-01"] * 250),
            "c": pd.Categorical(["u"] * 250),
            "b": [True] * 250,
        }
    )
    preview = make_preview(frame)
    assert preview.preview_kind == "table"
    data = _strict_json(preview.preview_data)
    assert data == preview.preview_data
    assert preview.preview_data["columns"] == ["i", "f", "s", "t", "c", "b"]
    assert preview.preview_data["total_rows"] == 250
    rows = preview.preview_data["rows"]
    assert len(rows) == MAX_TABLE_ROWS
    assert rows[0] == [0, 0.5, "x", "2024-01-01T00:00:00", "u", True]
    assert len(preview.preview) <= MAX_PREVIEW_CHARS


def test_missing_values_in_a_table_are_null() -> None:
    frame = pd.DataFrame(
        {"f": [math.nan], "t": [pd.NaT], "n": pd.array([None], dtype="Int64"), "o": [None]}
    )
    assert make_preview(frame).preview_data["rows"] == [[None, None, None, None]]


def test_series_and_labelled_index_become_columns() -> None:
    series = pd.Series([1, 2], index=pd.Index(["a", "b"], name="key"), name="v")
    data = make_preview(series).preview_data
    assert data == {"columns": ["key", "v"], "rows": [["a", 1], ["b", 2]], "total_rows": 2}


def test_datetime_is_repr() -> None:
    preview = make_preview(datetime.datetime(2024, 5, 6, 7, 8, 9))
    assert preview.preview_kind == "repr"
    assert preview.preview == "datetime.datetime(2024, 5, 6, 7, 8, 9)"


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, {1: "int key"}, {"set": {1, 2}}, b"bytes", 2**60, datetime.date.today()],
)
def test_values_without_a_faithful_json_form_are_repr(value: object) -> None:
    preview = make_preview(value)
    assert preview.preview_kind == "repr"
    assert preview.preview_data is None


def test_numpy_scalars_inside_json_become_plain_numbers() -> None:
    preview = make_preview({"loss": np.float32(0.5), "step": np.int64(3)})
    assert preview.preview_kind == "json"
    assert preview.preview_data == {"loss": 0.5, "step": 3}


def test_json_is_capped_per_container_and_in_depth() -> None:
    big = make_preview(list(range(10 * MAX_JSON_ITEMS)))
    assert big.preview_data == list(range(MAX_JSON_ITEMS))
    assert len(big.preview) <= MAX_PREVIEW_CHARS

    deep: object = "bottom"
    for _ in range(3 * MAX_JSON_DEPTH):
        deep = [deep]
    data = make_preview(deep).preview_data
    for _ in range(MAX_JSON_DEPTH):
        assert isinstance(data, list)
        data = data[0]
    assert isinstance(data, str)  # the rest is shown as a capped repr


def test_wide_and_deep_json_stays_small() -> None:
    value = [[list(range(1000)) for _ in range(1000)] for _ in range(3)]
    preview = make_preview(value)
    assert len(json.dumps(preview.preview_data)) < 500_000
    assert len(preview.preview) <= MAX_PREVIEW_CHARS


def test_long_strings_and_bytes_are_capped() -> None:
    assert len(make_preview("x" * 1_000_000).preview) <= MAX_PREVIEW_CHARS
    assert len(make_preview(b"x" * 10_000_000).preview) <= MAX_PREVIEW_CHARS
    assert len(make_preview({"k": "x" * 1_000_000}).preview) <= MAX_PREVIEW_CHARS


def test_load_snippet() -> None:
    snippet = load_snippet("Flow/1/start/1", "x", 0)
    assert snippet == 'Task("Flow/1/start/1", attempt=0)["x"].data'
