"""Which .metaflow a running process writes to, read from a real /proc (real child
processes with the environments and working directories Metaflow's runtime would see)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowscope.ingest.runtime_datastore import runtime_datastore

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")


def _datastore_of(cwd: Path, env: dict[str, str]) -> str | None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        child.stdout.readline()  # running its own program now, with its own environment
        return runtime_datastore(Path(f"/proc/{child.pid}"))
    finally:
        child.communicate(b"")


def _env(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
    return {**base, "HOME": str(home), **extra}


def test_the_sysroot_variable_decides(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    env = _env(tmp_path, METAFLOW_DATASTORE_SYSROOT_LOCAL=str(tmp_path / "root"))
    assert _datastore_of(tmp_path / "work", env) == str(tmp_path / "root" / ".metaflow")


def test_else_the_nearest_metaflow_folder_above_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".metaflow").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert _datastore_of(deep, _env(tmp_path)) == str(tmp_path / ".metaflow")


def test_else_a_new_one_in_the_working_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if any((p / ".metaflow").is_dir() for p in work.parents):
        pytest.skip("this machine has a .metaflow folder above the temporary folders")
    assert _datastore_of(work, _env(tmp_path)) == str(work / ".metaflow")


def test_the_config_file_sets_the_sysroot_too(tmp_path: Path) -> None:
    config = tmp_path / ".metaflowconfig"
    config.mkdir()
    (config / "config.json").write_text(
        '{"METAFLOW_DATASTORE_SYSROOT_LOCAL": "%s"}' % (tmp_path / "cfgroot")
    )
    (tmp_path / "work").mkdir()
    assert _datastore_of(tmp_path / "work", _env(tmp_path)) == str(
        tmp_path / "cfgroot" / ".metaflow"
    )


def test_an_unreadable_config_file_means_unknown(tmp_path: Path) -> None:
    config = tmp_path / ".metaflowconfig"
    config.mkdir()
    (config / "config.json").write_text("{not json")
    (tmp_path / "work").mkdir()
    assert _datastore_of(tmp_path / "work", _env(tmp_path)) is None
