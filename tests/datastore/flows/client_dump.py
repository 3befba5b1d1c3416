"""Dump what the Metaflow client says about runs, for the datastore tests to compare with.

Run in a subprocess with METAFLOW_DATASTORE_SYSROOT_LOCAL set, so the client reads the test
datastore whatever else the test session imported. Usage:
`python client_dump.py OUT_DIR FLOW RUN [RUN ...]`; writes OUT_DIR/client.json and, for
values that JSON cannot carry, OUT_DIR/values.pickle.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

from metaflow import Run, Task, namespace
from metaflow.cards import get_cards
from metaflow.plugins.cards.exception import CardNotPresentException

VALUE_NAMES = ("an_int", "a_dict", "a_list", "an_array", "a_frame", "a_datetime")


def dump_task(task: Task) -> dict[str, Any]:
    attempts: dict[str, Any] = {}
    for attempt in range(task.current_attempt + 1):
        at = Task(task.pathspec, attempt=attempt)
        attempts[str(attempt)] = {
            "stdout": at.stdout,
            "stderr": at.stderr,
            "stdout_lines": [text for _, text in at.loglines("stdout")],
            "artifacts": sorted(artifact.id for artifact in at.artifacts),
        }
    try:
        found = list(get_cards(task))
    except CardNotPresentException:
        found = []
    cards = [
        {"id": card.id, "type": card.type, "hash": card.hash, "path": card.path, "html": card.get()}
        for card in found
    ]
    return {"attempts": attempts, "cards": cards}


def main() -> None:
    out_dir, flow, *runs = sys.argv[1:]
    namespace(None)
    tasks: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for run_id in runs:
        for step in Run(f"{flow}/{run_id}"):
            for task in step:
                tasks[task.pathspec] = dump_task(task)
                if task.pathspec.endswith("/start/1"):
                    values[task.pathspec] = {name: task[name].data for name in VALUE_NAMES}
    Path(out_dir, "client.json").write_text(json.dumps({"tasks": tasks}))
    Path(out_dir, "values.pickle").write_bytes(pickle.dumps(values))


if __name__ == "__main__":
    main()
