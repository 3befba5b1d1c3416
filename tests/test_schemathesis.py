"""The public API against its committed OpenAPI spec, by schemathesis (issue 12, point 3).

The short run of `python -m bench.schemathesis_full`: a real `flowscope serve` over the
real fixture runs, every check and every phase (examples, coverage, fuzzing, stateful),
20 examples an operation with a fixed seed, about a minute. It fails on any server
error, any answer the spec does not allow, a schema-valid request refused or an invalid
one accepted; the long run (`python -m bench.schemathesis_full`, 500 examples) is the
documented command for more.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.schemathesis_full import run
from starlette.testclient import TestClient


def test_schemathesis_finds_nothing_against_the_committed_spec(fixture_root: Path) -> None:
    result = run(quick=True, seed=12, sysroot=fixture_root)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Stateful" in report and "Coverage" in report and "Fuzzing" in report, report
    summary = report.strip().splitlines()[-1]
    assert not re.search(r"\d+ (failures?|errors?)\b", summary), report


def test_what_schemathesis_found_stays_fixed(api: TestClient, fixture_runs: dict[str, str]) -> None:
    """Requests from its runs that once got a 500, a dropped connection or a 404 for a
    wrong method; each now gets an answer the spec allows."""
    flow, run = fixture_runs["branch"].split("/")
    base = f"/api/v1/flows/{flow}/runs/{run}"
    for url, status in (
        ("/api/v1/runs?started_before=36893488147419103231", 422),  # past 64 bits: was a 500
        ("/api/v1/runs?started_before=9223372036854775807", 200),
        (f"{base}/timeline/detail?task=0/{'9' * 30}-{'9' * 31}", 200),  # was a 500
        (f"{base}/timeline/detail?task=", 422),
        ("/api/v1/runs?cursor=v1_1", 200),  # any cursor of the spec's pattern is a position
        ("/api/v1/flows?cursor=any%20flow%20name", 200),
    ):
        answer = api.get(url)
        assert answer.status_code == status, (url, answer.text)
    wrong = api.put("/api/v1/runs")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
