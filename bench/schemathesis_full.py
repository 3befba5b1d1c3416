"""Property-based tests of the public API against its committed OpenAPI spec (issue 12).

    python -m bench.schemathesis_full            # the long run: 500 examples an operation
    python -m bench.schemathesis_full --quick    # what the test suite runs (about a minute)

Starts a real `flowscope serve` over the real fixture runs (tests/fixtures_runs.py; set
FLOWSCOPE_FIXTURE_CACHE to reuse them) with a fresh SQLite index, then runs schemathesis
on `src/flowscope/api/openapi.json` with every check and every phase: the spec's examples,
the coverage phase (boundary and invalid values of each parameter), fuzzing, and the
stateful phase, which follows the spec's links (api/answers.py) from lists to their items
with real ids and cursors. Exits with schemathesis's status: non-zero on any server error,
any answer the spec does not allow, valid input refused or invalid input accepted.

`/api/v1/events` is left out: an event stream never ends, and schemathesis reads whole
answers. Its parameters are the runs list's, which it does test; tests/test_events.py and
tests/test_security_headers.py cover the stream itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e_server import _free_port, _wait_ready
from tests.fixtures_runs import fixture_sysroot, run_fixture_flows

SPEC = Path(__file__).resolve().parent.parent / "src" / "flowscope" / "api" / "openapi.json"
PHASES = "examples,coverage,fuzzing,stateful"


@contextmanager
def served(sysroot: Path, scratch: Path) -> Iterator[str]:
    """`flowscope serve` on `sysroot` with a fresh index; its URL once the index is ready."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(scratch / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowscope.cli",
            "serve",
            "--root",
            str(sysroot),
            "--db",
            f"sqlite:///{scratch}/index.sqlite",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(url, timeout=120)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def schemathesis_command(url: str, *, max_examples: int, seed: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(SPEC),
        "--url",
        url,
        "--checks",
        "all",
        "--phases",
        PHASES,
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--exclude-path",
        "/api/v1/events",
        "--workers",
        "1",
        # A loaded CI machine is slow, not wrong: no response-time check, generous timeouts.
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "too_slow,filter_too_much",
    ]


def run(*, quick: bool, seed: int, sysroot: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Serve the fixture runs and run schemathesis on them; its result (output captured)."""
    with tempfile.TemporaryDirectory(prefix="flowscope-schemathesis-") as scratch:
        root = sysroot or fixture_sysroot(Path(scratch) / "runs")
        run_fixture_flows(root)
        with served(root, Path(scratch)) as url:
            command = schemathesis_command(url, max_examples=20 if quick else 500, seed=seed)
            # In the scratch folder: schemathesis keeps its replay files in the working one.
            return subprocess.run(command, capture_output=True, text=True, check=False, cwd=scratch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the test suite's short run")
    parser.add_argument("--seed", type=int, default=12, help="hypothesis seed (default 12)")
    args = parser.parse_args()
    result = run(quick=args.quick, seed=args.seed)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
