"""What only the local datastore has: files that change while a task runs, big logs read
through a mapping, and symlinks that must not lead out of the `.metaflow` folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flowscope.datastore import NotFoundError
from flowscope.datastore.local import LocalDatastore
from flowscope.datastore.mflog import log_text, merge_logs
from flowscope.pathspec import Pathspec

from .conftest import FLOW, ProbeRun

END = Pathspec(FLOW, "1", "end", "3")


def _copy_task(probe_run: ProbeRun, tmp_path: Path) -> tuple[LocalDatastore, Path]:
    """A private copy of the `end` task, to play the part of a task still running."""
    source = probe_run.root / FLOW / probe_run.run_id / "end" / "3"
    task_dir = tmp_path / ".metaflow" / FLOW / "1" / "end" / "3"
    shutil.copytree(source, task_dir)
    return LocalDatastore(tmp_path / ".metaflow"), task_dir


def test_attempts_and_task_folder(probe_run: ProbeRun, datastore: LocalDatastore) -> None:
    flaky = Pathspec.parse(probe_run.pathspec("flaky", "2"))
    assert datastore.attempts(flaky) == [0, 1]
    assert datastore.task_folder(flaky) == probe_run.root.resolve() / FLOW / probe_run.run_id / (
        "flaky/2"
    )
    with pytest.raises(NotFoundError):
        datastore.task_folder(Pathspec(FLOW, probe_run.run_id, "flaky", ".."))


def test_running_attempt_without_logs_reads_empty(probe_run: ProbeRun, tmp_path: Path) -> None:
    store, task_dir = _copy_task(probe_run, tmp_path)
    # What the local runtime leaves while the attempt runs: no logs, no data.json yet.
    for name in os.listdir(task_dir):
        if name.startswith("0.") and name != "0.attempt.json":
            (task_dir / name).unlink()
    log = store.open_log(END, 0, "stdout")
    assert len(log) == 0 and not log.final
    assert store.list_artifacts(END, 0) == []


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
    running = store.open_log(END, 0, "stdout")
    texts = [line.text for line in running.lines.lines()]
    assert "early" in texts and "half writ" not in texts
    (task_dir / "0.DONE.lock").write_text("")
    finished = store.open_log(END, 0, "stdout")
    assert finished.version != running.version  # a new version, not the cached log
    assert [line.text for line in finished.lines.lines()][:2] == ["early", "half writ"]


def test_large_log_read_through_a_mapping_equals_small_read(
    probe_run: ProbeRun, tmp_path: Path
) -> None:
    store, task_dir = _copy_task(probe_run, tmp_path)
    line = b"[MFLOG|0|2026-01-01T00:00:%02d.%06dZ|runtime|%d]%s\n"
    blob = b"".join(line % (i // 100_000, i % 100_000, i, b"x" * 40) for i in range(80_000))
    assert len(blob) > 5 << 20  # past the size where files are mapped, not read
    (task_dir / "0.runtime_stdout.log").write_bytes(blob)
    log = store.open_log(END, 0, "stdout")
    assert log.omitted_bytes == 0  # a local log is never cut
    assert log.lines.lines() == merge_logs([blob])
    assert log.lines.text() == log_text([blob])


def test_symlink_escaping_root_is_refused(tmp_path: Path) -> None:
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
        store.open_log(Pathspec(FLOW, "9", "start", "1"), 0, "stdout")
    # A symlinked file inside the root that points outside is refused too.
    inside = root / FLOW / "10" / "start" / "1"
    inside.mkdir(parents=True)
    (inside / "0.attempt.json").write_text("{}")
    (inside / "0.runtime_stdout.log").symlink_to(outside / "start" / "1" / "0.runtime_stdout.log")
    log = store.open_log(Pathspec(FLOW, "10", "start", "1"), 0, "stdout")
    assert "secret" not in log.lines.text()


def test_symlinked_root_itself_is_fine(probe_run: ProbeRun, tmp_path: Path) -> None:
    link = tmp_path / "linked"
    link.symlink_to(probe_run.root, target_is_directory=True)
    store = LocalDatastore(link)
    log = store.open_log(Pathspec.parse(probe_run.pathspec("end", "3")), 0, "stdout")
    assert log.lines.text().endswith("done\n")


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
    task = Pathspec(FLOW, "1", "start", "1")
    assert [card.hash for card in store.list_cards(task)] == ["def"]
    with pytest.raises(NotFoundError):
        store.card_html(task, "abc")
    assert store.card_html(task, "def") == b"<p>card</p>"
