"""The scale benchmark's smoke run (`python -m bench.scale --smoke`): a small archive on
both databases, served by a real `flowscope serve`, every request of the full benchmark
answered, and no query plan that scans. No timings are asserted (issue 10)."""

from __future__ import annotations

from pathlib import Path

import orjson
from bench import scale


def test_the_scale_benchmark_runs_small_and_finds_no_scan(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    assert scale.main(["--smoke", "--json", str(out)]) == 0
    results = orjson.loads(out.read_bytes())
    assert results["plan_problems"] == []
    whats = {(r["database"], r["what"]) for r in results["rows"]}
    for database in ("sqlite", "postgresql"):
        assert (database, "/runs?q=no-such-run (no match)") in whats
        assert (database, "big run /timeline/overview, first request") in whats
        assert (database, "big run /tasks?status=failed") in whats
    first = next(
        r for r in results["rows"] if r["what"] == "big run /timeline/overview, first request"
    )
    assert "MB on the wire" in first["value"]
