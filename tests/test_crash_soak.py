"""The crash soak, short (issue 12, point 2): a handful of SIGKILLs of `flowscope index`
and `flowscope serve` at random moments while the datastore changes under them; after
each, a restarted `flowscope index` reaches exactly a clean full index of the same files.

The full run is `python -m bench.crash_soak --kills 50` (bench/crash_soak.py). The kill
moments are random, so whether a given kill finds the process mid-write is not asserted:
tests/test_indexer.py::test_a_killed_indexer_resumes_to_the_same_index kills at chosen
writes inside a run's transaction for that.
"""

from __future__ import annotations

from pathlib import Path

from bench.crash_soak import run_soak


def test_a_few_random_kills_of_index_and_serve_leave_a_clean_index(
    fixture_root: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    result = run_soak(
        kills=4, seed=7, work=tmp_path, runs=30, log=lines.append, sysroot=fixture_root
    )
    assert [kill.command for kill in result.kills] == ["index", "serve", "index", "serve"]
    assert result.mutations > 0, "the datastore did not change under the processes"
    assert result.mismatches == [], "\n".join(lines)
