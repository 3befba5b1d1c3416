"""`flowscope index`, killed by SIGKILL at a point the crash test chooses.

    python -m tests.crash_indexer <write> <n> <marker> -- <flowscope index arguments>

Runs the real `flowscope index` command in this process, with one change: right after the
`n`-th call of `RunWriter.<write>` (inside a run's open transaction, before it commits),
the process writes `marker` (which run it was writing) and SIGKILLs itself. So the crash
test knows each kill landed mid-write, instead of hoping a timer fires at a good moment.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from flowscope import cli
from flowscope.store.writes import RunWriter

KILL_POINTS = ("claim_run", "write_tasks", "write_steps", "write_run")


def main(argv: list[str]) -> int:
    write, n, marker = argv[0], int(argv[1]), Path(argv[2])
    assert write in KILL_POINTS and argv[3] == "--", argv
    original = getattr(RunWriter, write)
    calls = 0

    def killing(self: RunWriter, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        result = original(self, *args, **kwargs)
        calls += 1
        if calls == n:
            marker.write_text(f"{write} {self.flow_id}/{self.run_id}\n", encoding="utf-8")
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(RunWriter, write, killing)
    return cli.main(["index", *argv[4:]])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
