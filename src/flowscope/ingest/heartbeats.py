"""Is a run of a metadata service still alive? Its heartbeats say.

The Metaflow client beats every 10 seconds: the runtime for its run
(`POST .../runs/{run}/heartbeat`), each task for itself (`.../tasks/{task}/heartbeat`); the
service stamps `last_heartbeat_ts` (seconds) with its own clock, so freshness is judged
against the database's clock, not ours. Three missed beats and the process is taken as
gone: a run or task whose heartbeats stopped is failed (lost) within about 35 seconds of
its last beat (the existing UI waits 6 minutes for a run, or forever).

Runs started by a scheduler (Argo Workflows, Step Functions, Airflow) have no runtime
and so no run heartbeat: such a run is alive while one of its tasks is, or while its
newest sign of life is recent enough for the next step's task to be on its way.
"""

from __future__ import annotations

from flowscope.ingest.facts import RunFacts, TaskFacts

STALE_AFTER_MS = 30_000
# A scheduled run between two steps: the scheduler may take minutes to start a task.
NO_RUNTIME_GRACE_MS = 15 * 60_000


class HeartbeatLiveness:
    """The `ingest.assembler.Liveness` of runs read from a metadata service."""

    def __init__(self) -> None:
        self.now_ms = 0  # the database's clock at the last look

    def observe(self, db_now_ms: int) -> None:
        self.now_ms = db_now_ms

    def task_alive(self, run: RunFacts, task: TaskFacts) -> bool:
        return self._fresh(task.last_seen_at or task.created_at, STALE_AFTER_MS)

    def run_alive(self, run: RunFacts, started_at: int | None) -> bool:
        if run.heartbeat_at is not None:
            return self._fresh(run.heartbeat_at, STALE_AFTER_MS)
        return self._fresh(run.last_seen_at or started_at, NO_RUNTIME_GRACE_MS)

    def _fresh(self, at: int | None, within_ms: int) -> bool:
        return at is not None and self.now_ms - at < within_ms
