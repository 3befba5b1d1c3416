"""The Datastore contract, on a real Metaflow run, for every implementation: the same flow
run with the local datastore and with its data in S3 (moto on loopback), each checked
against what the Metaflow client says about it."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from flowscope.datastore import NotFoundError
from flowscope.datastore.base import ArtifactInfo
from flowscope.datastore.local import LocalDatastore
from flowscope.datastore.preview import Preview, make_preview
from flowscope.pathspec import Pathspec

from .conftest import FLOW, Probe, ProbeRun


def _all_attempts(probe_run: ProbeRun) -> list[tuple[str, int]]:
    return [
        (pathspec, int(attempt))
        for pathspec, task in probe_run.client["tasks"].items()
        for attempt in task["attempts"]
    ]


def _artifact(probe: Probe, pathspec: str, attempt: int, name: str) -> ArtifactInfo:
    found = probe.datastore.list_artifacts(Pathspec.parse(pathspec), attempt)
    return next(a for a in found if a.name == name)


# -- logs --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_log_text_equals_client_for_every_attempt(probe: Probe, stream: str) -> None:
    attempts = _all_attempts(probe.run)
    # start, flaky twice, end; the resumed run (local only) adds four more.
    assert len(attempts) >= (8 if probe.run.resumed_run_id else 4)
    for pathspec, attempt in attempts:
        expected = probe.run.client_task(pathspec)["attempts"][str(attempt)][stream]
        assert probe.log_text(pathspec, attempt, stream) == expected, pathspec


def test_unicode_and_ansi_line_survives_exactly(probe: Probe) -> None:
    pathspec = probe.run.pathspec("start", "1")
    lines = probe.datastore.open_log(Pathspec.parse(pathspec), 0, "stdout").lines.lines()
    assert lines[0].text == "héllo wörld ✓ \x1b[31mred\x1b[0m 日本語"
    expected = probe.run.client_task(pathspec)["attempts"]["0"]["stdout_lines"]
    assert [line.text for line in lines] == expected


def test_300_line_log_is_complete_and_in_order(probe: Probe) -> None:
    pathspec = probe.run.pathspec("start", "1")
    log = probe.datastore.open_log(Pathspec.parse(pathspec), 0, "stdout")
    assert log.final and log.omitted_bytes == 0
    lines = log.lines.lines()
    numbered = [line.text for line in lines if line.text.startswith("line ")]
    assert numbered == [f"line {i:03d}" for i in range(300)]
    stamps = [line.ts for line in lines]
    assert all(isinstance(ts, int) for ts in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    now_ms = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
    assert now_ms - 3_600_000 < stamps[0] <= now_ms  # type: ignore[operator]


def test_a_log_opened_again_is_the_same_version(probe: Probe) -> None:
    task = Pathspec.parse(probe.run.pathspec("start", "1"))
    first = probe.datastore.open_log(task, 0, "stdout")
    again = probe.datastore.open_log(task, 0, "stdout")
    assert first.version == again.version and len(first) == len(again)
    assert probe.datastore.open_log(task, 0, "stderr").version != first.version


def test_failed_attempt_stderr_matches_client(probe: Probe) -> None:
    pathspec = probe.run.pathspec("flaky", "2")
    text = probe.log_text(pathspec, 0, "stderr")
    assert "RuntimeError: first attempt fails on purpose" in text
    # The runtime appends "Task failed." without a newline; the client adds one.
    assert text.endswith("Task failed.\n")
    assert text == probe.run.client_task(pathspec)["attempts"]["0"]["stderr"]


def test_retried_task_attempts_have_their_own_stdout(probe: Probe) -> None:
    pathspec = probe.run.pathspec("flaky", "2")
    client = probe.run.client_task(pathspec)["attempts"]
    for attempt in (0, 1):
        text = probe.log_text(pathspec, attempt, "stdout")
        assert text == client[str(attempt)]["stdout"]
        assert f"flaky attempt {attempt} stdout" in text


def test_cloned_task_has_no_logs_like_the_client(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    # Local only: see `probe_run_s3` for why the S3 probe run is not resumed.
    pathspec = probe_run.pathspec("start", "1", resumed=True)
    log = datastore.open_log(Pathspec.parse(pathspec), 0, "stdout")
    assert log.lines.text() == ""
    assert probe_run.client_task(pathspec)["attempts"]["0"]["stdout"] == ""


def test_unknown_attempt_and_stream_are_not_found(probe: Probe) -> None:
    task = Pathspec.parse(probe.run.pathspec("end", "3"))
    for attempt, stream in ((5, "stdout"), (0, "stdin"), (-1, "stdout")):
        with pytest.raises(NotFoundError):
            probe.datastore.open_log(task, attempt, stream)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        probe.datastore.list_artifacts(task, 5)


# -- artifacts ---------------------------------------------------------------------------


def test_artifact_names_equal_client_for_every_attempt(probe: Probe) -> None:
    for pathspec, attempt in _all_attempts(probe.run):
        listed = probe.datastore.list_artifacts(Pathspec.parse(pathspec), attempt)
        names = [a.name for a in listed if not a.name.startswith("_")]
        assert names == probe.run.client_task(pathspec)["attempts"][str(attempt)]["artifacts"]


def test_attempts_of_a_retried_task_keep_their_own_artifacts(probe: Probe) -> None:
    task = Pathspec.parse(probe.run.pathspec("flaky", "2"))
    first = {a.name for a in probe.datastore.list_artifacts(task, 0)}
    second = {a.name for a in probe.datastore.list_artifacts(task, 1)}
    assert "only_in_attempt_0" in first and "only_in_attempt_0" not in second
    assert "only_in_attempt_1" in second


def test_private_artifacts_are_listed_too(probe: Probe) -> None:
    task = Pathspec.parse(probe.run.pathspec("start", "1"))
    names = {a.name for a in probe.datastore.list_artifacts(task, 0)}
    assert {"_private_thing", "_task_ok", "_graph_info", "an_int"} <= names


def test_artifact_info_fields(probe: Probe) -> None:
    info = _artifact(probe, probe.run.pathspec("start", "1"), 0, "an_int")
    assert info.type == "int"
    assert info.encoding == "pickle-v4"
    assert info.size > 0 and len(info.sha) == 40
    frame = _artifact(probe, probe.run.pathspec("start", "1"), 0, "a_frame")
    assert frame.type == "pandas.DataFrame"


def _value(probe: Probe, pathspec: str, name: str) -> object:
    info = _artifact(probe, pathspec, 0, name)
    return probe.datastore.load_artifact(FLOW, info.sha, max_bytes=50 << 20, encoding=info.encoding)


def test_artifact_values_equal_client(probe: Probe) -> None:
    pathspec = probe.run.pathspec("start", "1")
    expected = probe.run.values[pathspec]
    loaded = {name: _value(probe, pathspec, name) for name in expected}
    assert loaded["an_int"] == expected["an_int"] == 42
    assert loaded["a_dict"] == expected["a_dict"]
    assert loaded["a_list"] == expected["a_list"]
    assert loaded["a_datetime"] == expected["a_datetime"]
    np.testing.assert_array_equal(loaded["an_array"], expected["an_array"])
    pd.testing.assert_frame_equal(loaded["a_frame"], expected["a_frame"])


def test_real_artifacts_preview(probe: Probe) -> None:
    pathspec = probe.run.pathspec("start", "1")

    def preview(name: str) -> Preview:
        return make_preview(_value(probe, pathspec, name))

    assert preview("an_int").preview_data == 42
    assert preview("a_dict").preview_kind == "json"
    table = preview("a_frame")
    assert table.preview_kind == "table"
    assert table.preview_data["total_rows"] == 3
    assert table.preview_data["columns"] == ["i", "f", "s", "t", "c", "b"]


def test_artifact_size_cap_is_enforced(probe: Probe) -> None:
    from flowscope.datastore.safe_pickle import PayloadTooLarge

    info = _artifact(probe, probe.run.pathspec("start", "1"), 0, "a_frame")
    with pytest.raises(PayloadTooLarge):
        probe.datastore.load_artifact(FLOW, info.sha, max_bytes=64, encoding=info.encoding)


def test_unknown_artifact_blob_is_not_found(probe: Probe) -> None:
    for sha in ("0" * 40, "../../etc/passwd", "ab/../../cd" + "0" * 30):
        with pytest.raises(NotFoundError):
            probe.datastore.load_artifact(FLOW, sha, max_bytes=1 << 20)


def test_artifact_by_a_location_outside_the_datastore_is_refused(probe: Probe) -> None:
    sha = _artifact(probe, probe.run.pathspec("start", "1"), 0, "an_int").sha
    for location in (
        f"s3://someone-elses-bucket/metaflow/{FLOW}/data/{sha[:2]}/{sha}",
        f"/etc/{FLOW}/data/{sha[:2]}/{sha}",
        f"{probe.datastore.location}/{FLOW}/data/{sha[:2]}/../../../{sha}",
        f"{probe.datastore.location}/OtherFlow/data/{sha[:2]}/{sha}",
    ):
        with pytest.raises(NotFoundError):
            probe.datastore.load_artifact(FLOW, sha, max_bytes=1 << 20, location=location)


def test_artifact_by_its_recorded_location(probe: Probe) -> None:
    """metaflow-service records either `:root:<ds_root>` or the blob's full URL."""
    sha = _artifact(probe, probe.run.pathspec("start", "1"), 0, "an_int").sha
    root = probe.datastore.location
    for location in (f":root:{root}", f"{root}/{FLOW}/data/{sha[:2]}/{sha}"):
        value = probe.datastore.load_artifact(
            FLOW, sha if location.startswith(":root:") else "", max_bytes=1 << 20, location=location
        )
        assert value == 42


# -- path safety -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", ".", "..", "../ProbeFlow", "a/b", "/etc", "/", "a\\b", "a\x00b", "x" * 300, "%2e%2e"],
)
def test_unsafe_ids_are_refused(probe: Probe, bad: str) -> None:
    ids = probe.run.pathspec("start", "1").split("/")
    for position in range(4):
        parts = list(ids)
        parts[position] = bad
        task = Pathspec(*parts)
        with pytest.raises(NotFoundError):
            probe.datastore.open_log(task, 0, "stdout")
        with pytest.raises(NotFoundError):
            probe.datastore.list_artifacts(task, 0)
        with pytest.raises(NotFoundError):
            probe.datastore.list_cards(task)
    with pytest.raises(NotFoundError):
        probe.datastore.load_artifact(bad, "0" * 40, max_bytes=1 << 20)


# -- cards -------------------------------------------------------------------------------


def _client_cards(probe_run: ProbeRun, pathspec: str) -> list[tuple[str | None, str, str]]:
    return [(c["id"], c["type"], c["hash"]) for c in probe_run.client_task(pathspec)["cards"]]


def test_cards_equal_client_get_cards(probe: Probe) -> None:
    _check_cards(probe, resumed=False)


def test_cards_of_a_cloned_task_are_its_origins(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    # `get_cards` follows a cloned task to its origin; the API does that from the task's
    # origin-* metadata, and the datastore lists the origin's cards. Local only (see
    # `probe_run_s3`).
    _check_cards(Probe(probe_run, datastore), resumed=True)


def _check_cards(probe: Probe, *, resumed: bool) -> None:
    pathspec = probe.run.pathspec("start", "1", resumed=resumed)
    origin = Pathspec.parse(probe.run.pathspec("start", "1"))
    cards = probe.datastore.list_cards(origin)
    expected = _client_cards(probe.run, pathspec)
    assert [(c.id, c.type, c.hash) for c in cards] == expected
    assert {(card_id, card_type) for card_id, card_type, _ in expected} == {
        (None, "default"),
        ("notes", "blank"),
    }
    for card, client_card in zip(cards, probe.run.client_task(pathspec)["cards"], strict=True):
        assert client_card["path"].endswith(card.name)
        html = probe.datastore.card_html(origin, card.hash)
        assert html.decode("utf-8") == client_card["html"]


def test_tasks_without_cards_list_none(probe: Probe) -> None:
    for step, task in (("flaky", "2"), ("end", "3")):
        pathspec = probe.run.pathspec(step, task)
        assert probe.datastore.list_cards(Pathspec.parse(pathspec)) == []
        assert _client_cards(probe.run, pathspec) == []


def test_unknown_card_is_not_found(probe: Probe) -> None:
    task = Pathspec.parse(probe.run.pathspec("start", "1"))
    for card_hash in ("nope", "../../../../etc/passwd"):
        with pytest.raises(NotFoundError):
            probe.datastore.card_html(task, card_hash)
