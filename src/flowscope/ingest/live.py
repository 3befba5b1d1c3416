"""Keeping the index current while `flowscope serve` runs.

File-system events (inotify through watchfiles, on the folders that can still change:
ingest/watch.py) name the runs that changed; those are re-read at once. Where there are no events (network mounts: `--poll`, or when inotify
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
from flowscope.ingest.watch import is_watch_limit, kernel_limit, needs_new_set, watch_set

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
        try:
            stats = self.indexer.index_once(self._first_pass_progress)
        except _Stopped:
            return  # shutting down during the first pass: the next start goes on from here
        log.info("indexed %d runs in %.2fs", stats.runs_seen, stats.seconds)
        self.ready.set()
        if self.on_first_pass is not None:
            self.on_first_pass(stats)
        while not self.stop_event.is_set():
            try:
                self._follow()
            except Exception:
                log.exception("following file events failed; polling instead")
                self.poll = True
                self.stop_event.wait(1.0)

    def _first_pass_progress(self, done: int, total: int) -> None:
        # Called between runs (each run is its own transaction), so stopping here leaves
        # the index consistent; a first pass over many runs would otherwise delay shutdown.
        if self.stop_event.is_set():
            raise _Stopped
        if self.first_pass_progress is not None:
            self.first_pass_progress(done, total)

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
        """Follow file events on the folders that can still change (ingest/watch.py),
        restarting the watcher whenever that set of folders changes."""
        last_liveness = last_full = time.monotonic()
        while not self.stop_event.is_set():
            unsealed = set(self.indexer.unsealed_runs())
            current = watch_set(root, unsealed)
            try:
                for changes in watchfiles.watch(
                    *current.paths,
                    stop_event=self.stop_event,
                    yield_on_timeout=True,
                    rust_timeout=int(LIVENESS_EVERY_S * 1000),
                    debounce=150,
                    step=50,
                    recursive=False,
                    # True would also swallow the kernel refusing a watch (the limit),
                    # leaving folders silently unwatched.
                    ignore_permission_denied=False,
                ):
                    paths = [path for _, path in changes]
                    runs = runs_touched(root, paths)
                    if runs:
                        self.indexer.index_runs(sorted(runs))
                    restart = needs_new_set(paths, current)
                    if any(Path(path).parent == root for path in paths):
                        # A new flow: its folder was not watched yet, so a run that
                        # appeared in it meanwhile made no event. A pass finds it.
                        self.indexer.index_once()
                    now = time.monotonic()
                    if now - last_full >= self.full_pass_every_s:
                        self.indexer.index_once()
                        self.indexer.store.prune_events(KEEP_EVENTS)
                        last_full = last_liveness = now
                        restart = True
                    elif now - last_liveness >= LIVENESS_EVERY_S:
                        still = set(self.indexer.unsealed_runs())
                        stale = [key for key in still if key not in runs]
                        if stale:
                            self.indexer.index_runs(stale)
                        restart = restart or set(self.indexer.unsealed_runs()) != unsealed
                        last_liveness = now
                    if restart:
                        break
            except FileNotFoundError:
                continue  # a watched folder went away (a run deleted): look again
            except OSError as exc:
                if not is_watch_limit(exc):
                    raise
                log.warning(
                    "the kernel refused a file watch (fs.inotify.max_user_watches is %s; "
                    "this datastore needs %d watches): following %s by polling every %.0f s",
                    kernel_limit() or "unknown",
                    len(current.paths),
                    root,
                    POLL_EVERY_S,
                )
                self.poll = True
                return


class _Stopped(Exception):
    """Raised from the progress callback to end a pass when the server stops."""


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
