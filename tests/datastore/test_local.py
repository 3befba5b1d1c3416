"""LocalDatastore against a real Metaflow run, checked against the Metaflow client."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flowscope.datastore import NotFoundError
from flowscope.datastore.local import LocalDatastore
from flowscope.datastore.mflog import log_text, merge_logs
from flowscope.datastore.preview import Preview, make_preview

from .conftest import FLOW, ProbeRun


def _ids(pathspec: str) -> tuple[str, str, str, str]:
    flow, run, step, task = pathspec.split("/")
    return flow, run, step, task


def _all_attempts(probe_run: ProbeRun) -> list[tuple[str, int]]:
    return [
        (pathspec, int(attempt))
        for pathspec, task in probe_run.client["tasks"].items()
        for attempt in task["attempts"]
    ]


# -- logs --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_log_text_equals_client_for_every_attempt(
    probe_run: ProbeRun, datastore: LocalDatastore, stream: str
) -> None:
    attempts = _all_attempts(probe_run)
    assert len(attempts) >= 8  # both runs, the retried task twice
    for pathspec, attempt in attempts:
        expected = probe_run.client_task(pathspec)["attempts"][str(attempt)][stream]
        assert datastore.log_text(*_ids(pathspec), attempt, stream) == expected, pathspec


def test_unicode_and_ansi_line_survives_exactly(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    pathspec = probe_run.pathspec("start", "1")
    lines = datastore.read_log(*_ids(pathspec), 0, "stdout")
    first = lines[0].text
    assert first == "héllo wörld ✓ \x1b[31mred\x1b[0m 日本語"
    expected = probe_run.client_task(pathspec)["attempts"]["0"]["stdout_lines"]
    assert [line.text for line in lines] == expected


def test_300_line_log_is_complete_and_in_order(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    pathspec = probe_run.pathspec("start", "1")
    lines = datastore.read_log(*_ids(pathspec), 0, "stdout")
    numbered = [line.text for line in lines if line.text.startswith("line ")]
    assert numbered == [f"line {i:03d}" for i in range(300)]
    stamps = [line.ts for line in lines]
    assert all(isinstance(ts, int) for ts in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    now_ms = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
    assert now_ms - 3_600_000 < stamps[0] <= now_ms  # type: ignore[operator]


def test_failed_attempt_stderr_matches_client(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    pathspec = probe_run.pathspec("flaky", "2")
    text = datastore.log_text(*_ids(pathspec), 0, "stderr")
    assert "RuntimeError: first attempt fails on purpose" in text
    # The runtime appends "Task failed." without a newline; the client adds one.
    assert text.endswith("Task failed.\n")
    assert text == probe_run.client_task(pathspec)["attempts"]["0"]["stderr"]


def test_retried_task_attempts_have_their_own_stdout(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    pathspec = probe_run.pathspec("flaky", "2")
    client = probe_run.client_task(pathspec)["attempts"]
    for attempt in (0, 1):
        text = datastore.log_text(*_ids(pathspec), attempt, "stdout")
        assert text == client[str(attempt)]["stdout"]
        assert f"flaky attempt {attempt} stdout" in text
    assert datastore.attempts(*_ids(pathspec)) == [0, 1]


def test_cloned_task_has_no_logs_like_the_client(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    pathspec = probe_run.pathspec("start", "1", resumed=True)
    assert datastore.read_log(*_ids(pathspec), 0, "stdout") == []
    assert probe_run.client_task(pathspec)["attempts"]["0"]["stdout"] == ""


def test_unknown_attempt_and_stream_are_not_found(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    ids = _ids(probe_run.pathspec("end", "3"))
    with pytest.raises(NotFoundError):
        datastore.read_log(*ids, 5, "stdout")
    with pytest.raises(NotFoundError):
        datastore.read_log(*ids, 0, "stdin")
    with pytest.raises(NotFoundError):
        datastore.read_log(*ids, -1, "stdout")


def _copy_task(probe_run: ProbeRun, tmp_path: Path) -> tuple[LocalDatastore, Path]:
    """A private copy of the `end` task, to play the part of a task still running."""
    source = probe_run.root / FLOW / probe_run.run_id / "end" / "3"
    task_dir = tmp_path / ".metaflow" / FLOW / "1" / "end" / "3"
    shutil.copytree(source, task_dir)
    return LocalDatastore(tmp_path / ".metaflow"), task_dir


def test_running_attempt_without_logs_reads_empty(probe_run: ProbeRun, tmp_path: Path) -> None:
    store, task_dir = _copy_task(probe_run, tmp_path)
    # What the local runtime leaves while the attempt runs: no logs, no data.json yet.
    for name in os.listdir(task_dir):
        if name.startswith("0.") and name != "0.attempt.json":
            (task_dir / name).unlink()
    assert store.read_log(FLOW, "1", "end", "3", 0, "stdout") == []
    assert store.list_artifacts(FLOW, "1", "end", "3", 0) == []


def test_partial_last_line_waits_until_the_attempt_ends(
    probe_run: ProbeRun, tmp_path: Path
) -> None:
    store, task_dir = _copy_task(probe_run, tmp_path)
    for marker in ("0.DONE.lock", "0.runtime", "0.task_end"):
        (task_dir / marker).unlink()
    (task_dir / "0.task_stdout.log").write_bytes(
        b"[MFLOG|0|2000-01-01T00:00:00.000001Z|task|a]early\n"
        b"[MFLOG|0|2000-01-01T00:00:00.000002Z|task|b]half writ"
    )
    running = [line.text for line in store.read_log(FLOW, "1", "end", "3", 0, "stdout")]
    assert "early" in running and "half writ" not in running
    (task_dir / "0.DONE.lock").write_text("")
    finished = [line.text for line in store.read_log(FLOW, "1", "end", "3", 0, "stdout")]
    assert finished[:2] == ["early", "half writ"]  # older stamps sort first


def test_large_log_read_through_a_mapping_equals_small_read(
    probe_run: ProbeRun, tmp_path: Path
) -> None:
    store, task_dir = _copy_task(probe_run, tmp_path)
    line = b"[MFLOG|0|2026-01-01T00:00:%02d.%06dZ|runtime|%d]%s\n"
    blob = b"".join(line % (i // 100_000, i % 100_000, i, b"x" * 40) for i in range(80_000))
    assert len(blob) > 5 << 20  # past the size where files are mapped, not read
    (task_dir / "0.runtime_stdout.log").write_bytes(blob)
    lines = store.read_log(FLOW, "1", "end", "3", 0, "stdout")
    assert lines == merge_logs([blob])
    assert store.log_text(FLOW, "1", "end", "3", 0, "stdout") == log_text([blob])


# -- artifacts ---------------------------------------------------------------------------


def test_artifact_names_equal_client_for_every_attempt(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    for pathspec, attempt in _all_attempts(probe_run):
        listed = datastore.list_artifacts(*_ids(pathspec), attempt, include_private=False)
        names = [a.name for a in listed]
        assert names == probe_run.client_task(pathspec)["attempts"][str(attempt)]["artifacts"]


def test_attempts_of_a_retried_task_keep_their_own_artifacts(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    ids = _ids(probe_run.pathspec("flaky", "2"))
    first = {a.name for a in datastore.list_artifacts(*ids, 0)}
    second = {a.name for a in datastore.list_artifacts(*ids, 1)}
    assert "only_in_attempt_0" in first and "only_in_attempt_0" not in second
    assert "only_in_attempt_1" in second


def test_private_artifacts_are_listed_unless_excluded(
    probe_run: ProbeRun, datastore: LocalDatastore
) -> None:
    ids = _ids(probe_run.pathspec("start", "1"))
    public = {a.name for a in datastore.list_artifacts(*ids, 0, include_private=False)}
    everything = {a.name for a in datastore.list_artifacts(*ids, 0)}
    assert not any(name.startswith("_") for name in public)
    assert {"_private_thing", "_task_ok", "_graph_info"} <= everything - public


def test_artifact_info_fields(probe_run: ProbeRun, datastore: LocalDatastore) -> None:
    info = datastore.artifact_info(*_ids(probe_run.pathspec("start", "1")), 0, "an_int")
    assert info.type == "int"
    assert info.encoding == "pickle-v4"
    assert info.size > 0 and len(info.sha) == 40
    frame = datastore.artifact_info(*_ids(probe_run.pathspec("start", "1")), 0, "a_frame")
    assert frame.type == "pandas.DataFrame"


def test_artifact_values_equal_client(probe_run: ProbeRun, datastore: LocalDatastore) -> None:
    pathspec = probe_run.pathspec("start", "1")
    expected = probe_run.values[pathspec]
    loaded = {
        name: datastore.load_artifact_value(
            FLOW, datastore.artifact_info(*_ids(pathspec), 0, name).sha
        )
        for name in expected
    }
    assert loaded["an_int"] == expected["an_int"] == 42
    assert loaded["a_dict"] == expected["a_dict"]
    assert loaded["a_list"] == expected["a_list"]
    assert loaded["a_datetime"] == expected["a_datetime"]
    np.testing.assert_array_equal(loaded["an_array"], expected["an_array"])
    pd.testing.assert_frame_equal(loaded["a_frame"], expected["a_frame"])


def test_real_artifacts_preview(probe_run: ProbeRun, datastore: LocalDatastore) -> None:
    ids = _ids(probe_run.pathspec("start", "1"))

    def preview(name: str) -> Preview:
        info = datastore.artifact_info(*ids, 0, name)
        return make_preview(datastore.load_artifact_value(FLOW, info.sha, encoding=info.encoding))

    assert preview("an_int").preview_data == 42
    assert preview("a_dict").preview_kind == "json"
    table = preview("a_frame")
    assert table.preview_kind == "table"
    assert table.preview_data["total_rows"] == 3
    assert table.preview_data["columns"] == ["i", "f", "s", "t", "c", "b"]


def test_unknown_artifact_blob_is_not_found(datastore: LocalDatastore) -> None:
    with pytest.raises(NotFoundError):
        datastore.load_artifact_value(FLOW, "0" * 40)
    with pytest.raises(NotFoundError):
        datastore.load_artifact_value(FLOW, "../../etc/passwd")


# -- path safety -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", ".", "..", "../ProbeFlow", "a/b", "/etc", "/", "a\\b", "a\x00b", "x" * 300],
)
def test_unsafe_ids_are_refused(probe_run: ProbeRun, datastore: LocalDatastore, bad: str) -> None:
    ids = list(_ids(probe_run.pathspec("start", "1")))
    for position in range(4):
        args = list(ids)
        args[position] = bad
        with pytest.raises(NotFoundError):
            datastore.task_path(*args)
        with pytest.raises(NotFoundError):
            datastore.read_log(*args, 0, "stdout")
        with pytest.raises(NotFoundError):
            datastore.list_artifacts(*args, 0)
        with pytest.raises(NotFoundError):
            datastore.list_cards(*args)
    with pytest.raises(NotFoundError):
        datastore.load_artifact_value(bad, "0" * 40)


def test_symlink_escaping_root_is_refused(probe_run: ProbeRun, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "start" / "1").mkdir(parents=True)
    (outside / "start" / "1" / "0.runtime_stdout.log").write_text("secret\n")
    (outside / "start" / "1" / "0.attempt.json").write_text("{}")
    root = tmp_path / "sys" / ".metaflow"
    (root / FLOW).mkdir(parents=True)
    (root / FLOW / "9").symlink_to(outside, target_is_directory=True)
    store = LocalDatastore(root)
    with pytest.raises(NotFoundError):
        store.task_path(FLOW, "9", "start", "1")
    with pytest.raises(NotFoundError):
        store.read_log(FLOW, "9", "start", "1", 0, "stdout")
    # A symlinked file inside the root that points outside is refused too.
    inside = root / FLOW / "10" / "start" / "1"
    inside.mkdir(parents=True)
    (inside / "0.attempt.json").write_text("{}")
    (inside / "0.runtime_stdout.log").symlink_to(outside / "start" / "1" / "0.runtime_stdout.log")
    with pytest.raises(NotFoundError):
        store.read_log(FLOW, "10", "start", "1", 0, "stdout")


def test_symlinked_root_itself_is_fine(probe_run: ProbeRun, tmp_path: Path) -> None:
    link = tmp_path / "linked"
    link.symlink_to(probe_run.root, target_is_directory=True)
    store = LocalDatastore(link)
    pathspec = probe_run.pathspec("end", "3")
    assert store.log_text(*_ids(pathspec), 0, "stdout").endswith("done\n")


# -- cards -------------------------------------------------------------------------------


def _client_cards(probe_run: ProbeRun, pathspec: str) -> list[tuple[str | None, str, str]]:
    return [(c["id"], c["type"], c["hash"]) for c in probe_run.client_task(pathspec)["cards"]]


@pytest.mark.parametrize("resumed", [False, True])
def test_cards_equal_client_get_cards(
    probe_run: ProbeRun, datastore: LocalDatastore, resumed: bool
) -> None:
    pathspec = probe_run.pathspec("start", "1", resumed=resumed)
    cards = datastore.list_cards(*_ids(pathspec))
    expected = _client_cards(probe_run, pathspec)
    assert [(c.id, c.type, c.hash) for c in cards] == expected
    assert {(card_id, card_type) for card_id, card_type, _ in expected} == {
        (None, "default"),
        ("notes", "blank"),
    }
    for card, client_card in zip(cards, probe_run.client_task(pathspec)["cards"], strict=True):
        assert card.path.as_posix().endswith(client_card["path"])
        html = datastore.card_html(*_ids(pathspec), card.hash)
        assert html.decode("utf-8") == client_card["html"]


def test_tasks_without_cards_list_none(probe_run: ProbeRun, datastore: LocalDatastore) -> None:
    for step, task in (("flaky", "2"), ("end", "3")):
        pathspec = probe_run.pathspec(step, task)
        assert datastore.list_cards(*_ids(pathspec)) == []
        assert _client_cards(probe_run, pathspec) == []


def test_card_symlinked_out_of_the_root_is_skipped(probe_run: ProbeRun, tmp_path: Path) -> None:
    root = tmp_path / ".metaflow"
    shutil.copytree(probe_run.root / FLOW / probe_run.run_id / "start", root / FLOW / "1" / "start")
    cards = root / "mf.cards" / FLOW / "runs" / "1" / "steps" / "start" / "tasks" / "1" / "cards"
    cards.mkdir(parents=True)
    secret = tmp_path / "secret.html"
    secret.write_text("secret")
    (cards / "default-abc.html").symlink_to(secret)
    (cards / "default-def.html").write_text("<p>card</p>")
    (cards / "tmpq1w2e3").write_text("half-written temp file")
    store = LocalDatastore(root)
    assert [card.hash for card in store.list_cards(FLOW, "1", "start", "1")] == ["def"]
    with pytest.raises(NotFoundError):
        store.card_html(FLOW, "1", "start", "1", "abc")
    assert store.card_html(FLOW, "1", "start", "1", "def") == b"<p>card</p>"


def test_unknown_card_is_not_found(probe_run: ProbeRun, datastore: LocalDatastore) -> None:
    ids = _ids(probe_run.pathspec("start", "1"))
    with pytest.raises(NotFoundError):
        datastore.card_html(*ids, "nope")
    with pytest.raises(NotFoundError):
        datastore.card_html(*ids, "../../../../etc/passwd")
