"""Runs the live indexer over a datastore and reports when a run is listed (for
test_watch_limit.py, which starts this inside a user namespace with a small inotify
limit of its own). Prints one JSON line per finding."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path

from flowscope.ingest.live import LiveIndexer
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import RunFilters, Store


def main() -> None:
    root, db, flow, timeout = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    store = Store(f"sqlite:///{db}")
    ready = threading.Event()
    # No safety-net pass during the test: only events, or the polling that stands in for them.
    live = LiveIndexer(LocalIndexer(store, root), ready, full_pass_every_s=3600)
    live.start()
    ready.wait(120)

    def runs() -> set[str]:
        items, _ = store.list_runs(RunFilters(flow_id=flow), "-started_at", 500, None)
        return {item["run_id"] for item in items}

    before = runs()  # runs of earlier tests in the same datastore
    print(json.dumps({"ready": True}), flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = runs() - before
        if new:
            print(json.dumps({"listed": new.pop(), "polling": live.poll}), flush=True)
            break
        time.sleep(0.05)
    live.stop()
    store.close()


if __name__ == "__main__":
    main()
