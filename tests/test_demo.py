"""`flowscope demo`: every bundled flow runs on the pinned Metaflow and ends as it is meant
to, the demo says how each ended, and the client agrees (real runs, real Metaflow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flowscope.demo.runner import DEMO_RUNS, run_flows

# Asked in a fresh interpreter: this process's client is bound to the fixture sysroot.
_CLIENT_SCRIPT = """
import json, sys
from metaflow import Run, namespace
from metaflow.cards import get_cards
from metaflow.plugins.cards.exception import CardNotPresentException


def cards(task):
    try:
        return len(get_cards(task))
    except CardNotPresentException:
        return 0


namespace(None)
out = {}
for pathspec in sys.argv[1:]:
    run = Run(pathspec)
    tasks = [t for s in run for t in s]
    out[pathspec] = {
        "successful": run.successful,
        "steps": sorted(s.id for s in run),
        "attempts": {f"{t.parent.id}/{t.id}": t.current_attempt for t in tasks},
        "cards": sum(cards(t) for t in tasks if t.parent.id == "end"),
    }
print(json.dumps(out))
"""


def test_every_demo_flow_runs_and_the_demo_says_how_it_ended(tmp_path: Path) -> None:
    (tmp_path / ".metaflow").mkdir()
    said: list[str] = []
    outcomes = run_flows(tmp_path, said.append)

    assert [o.flow_file for o in outcomes] == [name for name, _, _ in DEMO_RUNS]
    for outcome in outcomes:
        # Every flow got as far as a run of its own, and ended as it is meant to.
        assert outcome.run_id is not None, outcome.describe()
        assert outcome.as_meant, outcome.describe()
        assert outcome.log.stat().st_size > 0
    assert len(said) == len(outcomes)
    assert "hello_flow.py (run " in said[0] and said[0].endswith(": completed")
    assert said[1].endswith(": completed")
    assert "failed, as it is meant to" in said[2]

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")},
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp_path),
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
    }
    flows = {
        "hello_flow.py": "HelloFlow",
        "train_flow.py": "TrainFlow",
        "broken_flow.py": "BrokenFlow",
    }
    pathspecs = [f"{flows[o.flow_file]}/{o.run_id}" for o in outcomes]
    answer = subprocess.run(
        [sys.executable, "-c", _CLIENT_SCRIPT, *pathspecs],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    client = json.loads(answer.stdout)
    hello, train, broken = (client[p] for p in pathspecs)
    assert hello["successful"] and not broken["successful"]
    # TrainFlow shows what the demo is for: a branch, a foreach, a retry and a card.
    assert train["successful"]
    assert {"load_data", "load_features", "merge", "train", "pick"} <= set(train["steps"])
    train_attempts = [n for key, n in train["attempts"].items() if key.startswith("train/")]
    assert len(train_attempts) == 4
    assert sorted(train_attempts) == [0, 0, 0, 1]
    assert train["cards"] >= 1


def test_an_unexpected_failure_is_reported_with_the_flows_output(tmp_path: Path) -> None:
    from flowscope.demo.runner import DemoOutcome

    log = tmp_path / "x.log"
    log.write_text("Traceback ...\nMetaflowException: Step merge is both a join step\n")
    said = DemoOutcome("train_flow.py", None, failed=True, meant_to_fail=False, log=log).describe()
    assert "no run started" in said and "FAILED" in said
    assert "Step merge is both a join step" in said and str(log) in said
