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


def test_schemathesis_finds_nothing_against_the_committed_spec(fixture_root: Path) -> None:
    result = run(quick=True, seed=12, sysroot=fixture_root)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Stateful" in report and "Coverage" in report and "Fuzzing" in report, report
    summary = report.strip().splitlines()[-1]
    assert not re.search(r"\d+ (failures?|errors?)\b", summary), report
