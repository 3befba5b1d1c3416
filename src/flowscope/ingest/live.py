"""Keeping the index current while `flowscope serve` runs.

File-system events (inotify through watchfiles) name the runs that changed; those are
re-read at once. Where there are no events (network mounts: `--poll`, or when inotify
fails), an incremental pass every `POLL_EVERY_S` seconds stands in for them. Unfinished runs
are also re-read every `LIVENESS_EVERY_S` seconds, since a process dying writes nothing,
and a full pass every `FULL_PASS_EVERY_S` seconds catches anything an event missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import watchfiles

from flowscope.ingest.local_indexer import NOT_FLOWS, LocalIndexer, PassStats, ProgressCallback

log = logging.getLogger(__name__)

LIVENESS_EVERY_S = 2.0
POLL_EVERY_S = 1.0
FULL_PASS_EVERY_S = 60.0
# The change log keeps this many events; a subscriber further behind is told to resync.
KEEP_EVENTS = 200_000


class LiveIndexer:
    def __init__(
        self,
        indexer: LocalIndexer,
        ready: threading.Event,
        poll: bool = False,
        full_pass_every_s: float = FULL_PASS_EVERY_S,
        first_pass_progress: ProgressCallback | None = None,
        on_first_pass: Callable[[PassStats], None] | None = None,
    ) -> None:
        self.indexer = indexer
        # `flowscope serve` shows the first pass's progress and says when it is done.
        self.first_pass_progress = first_pass_progress
        self.on_first_pass = on_first_pass
        self.ready = ready
        self.poll = poll
        # Tests stretch this to prove that events, not the safety-net pass, found a change.
        self.full_pass_every_s = full_pass_every_s
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="flowscope-indexer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        stats = self.indexer.index_once(self.first_pass_progress)
        log.info("indexed %d runs in %.2fs", stats.runs_seen, stats.seconds)
        self.ready.set()
        if self.on_first_pass is not None:
            self.on_first_pass(stats)
        while not self.stop_event.is_set():
            try:
                self._follow()
            except Exception:  # e.g. more folders than inotify may watch
                log.exception("following file events failed; polling instead")
                self.poll = True
                self.stop_event.wait(1.0)

    def _follow(self) -> None:
        root = self.indexer.root
        while not root.is_dir() and not self.stop_event.is_set():
            self.stop_event.wait(1.0)  # the datastore appears with the first run
        if self.poll:
            self._poll()
        else:
            self._watch(root)

    def _poll(self) -> None:
        """Without file events (network mounts, or too many folders to watch), passes
        are the events: a pass over unchanged, finished runs costs a few stat() calls
        each, so repeating it every second is cheap."""
        last_prune = time.monotonic()
        while not self.stop_event.is_set():
            self.indexer.index_once()
            if time.monotonic() - last_prune >= self.full_pass_every_s:
                self.indexer.store.prune_events(KEEP_EVENTS)
                last_prune = time.monotonic()
            self.stop_event.wait(POLL_EVERY_S)

    def _watch(self, root: Path) -> None:
        last_liveness = last_full = time.monotonic()
        for changes in watchfiles.watch(
            root,
            stop_event=self.stop_event,
            yield_on_timeout=True,
            rust_timeout=int(LIVENESS_EVERY_S * 1000),
            debounce=150,
            step=50,
            recursive=True,
            ignore_permission_denied=True,
        ):
            runs = runs_touched(root, (path for _, path in changes))
            if runs:
                self.indexer.index_runs(sorted(runs))
            now = time.monotonic()
            if now - last_full >= self.full_pass_every_s:
                self.indexer.index_once()
                self.indexer.store.prune_events(KEEP_EVENTS)
                last_full = last_liveness = now
            elif now - last_liveness >= LIVENESS_EVERY_S:
                unsealed = [key for key in self.indexer.unsealed_runs() if key not in runs]
                if unsealed:
                    self.indexer.index_runs(unsealed)
                last_liveness = now


def runs_touched(root: Path, paths: Iterable[str]) -> set[tuple[str, str]]:
    """The (flow, run) pairs whose folders the changed paths lie in."""
    runs: set[tuple[str, str]] = set()
    for raw in paths:
        try:
            parts = Path(raw).relative_to(root).parts
        except ValueError:
            continue
        if len(parts) < 2 or parts[0] in NOT_FLOWS or parts[0].startswith("."):
            continue
        if parts[1] in ("_meta", "data", "latest_run"):
            continue
        runs.add((parts[0], parts[1]))
    return runs
