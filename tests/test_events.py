"""The live event stream over a real flow started by the test (issue 4).

A real `metaflow` run (a foreach of 20 tasks that sleep and print) is followed through
`GET /api/v1/events` on a real HTTP server fed by the live indexer: the run's creation,
its tasks, their status changes, the task's log lines and the final `completed`; then a
reconnect with Last-Event-ID. The indexer's safety-net full pass is off, so every event
here was caused by a file event or a liveness check. How fast (the 2 s target) is
measured by `python -m bench.live_latency`, not asserted here, so that a loaded machine
cannot fail the test.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import kill_group, start_flow, wait_for
from tests.sse_client import Subscription, serving

from flowscope.api.app import create_app
from flowscope.api.context import AppContext
from flowscope.ingest.live import LiveIndexer
from flowscope.ingest.local_indexer import LocalIndexer
from flowscope.store import Store


def test_event_stream_follows_a_real_run(tmp_path: Path) -> None:
    (tmp_path / ".metaflow").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ctx = AppContext(store=store)
    live = LiveIndexer(
        LocalIndexer(store, tmp_path / ".metaflow"), ctx.index.ready, full_pass_every_s=3600
    )
    live.start()
    flow = None
    try:
        with serving(create_app(ctx)) as url:
            wait_for(ctx.index.ready.is_set, timeout=10)
            runs = Subscription(f"{url}/api/v1/events")
            assert runs.next(5, "hello")
            flow = start_flow(
                tmp_path, "slow_flow.py", SLOW_FLOW_SLEEP_S="0.1", SLOW_FLOW_WIDTH="20"
            )
            created = runs.next(60, "run_created")
            run_id = created.data["run_id"]
            assert created.data["flow_id"] == "SlowFlow"
            assert created.data["status"] == "running"

            # The run's own stream, from its first event on (Last-Event-ID semantics).
            detail = Subscription(
                f"{url}/api/v1/events?flow_id=SlowFlow&run_id={run_id}&last_event_id={created.id - 1}"
            )
            final = runs.next(120, "run_status")
            while final.data["status"] == "running":
                final = runs.next(120, "run_status")
            assert final.data["status"] == "completed"
            assert flow.wait(timeout=60) == 0

            events = detail.until(
                lambda e: e.kind == "run_status" and e.data["status"] == "completed", timeout=60
            )
            kinds = [e.kind for e in events]
            assert kinds[0] == "run_created"
            ids = [e.id for e in events]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
            created_tasks = {
                (e.data["step_name"], e.data["task_id"]) for e in events if e.kind == "task_created"
            }
            assert len([t for t in created_tasks if t[0] == "work"]) == 20
            completed = {
                (e.data["step_name"], e.data["task_id"])
                for e in events
                if e.kind in ("task_status", "task_created") and e.data["status"] == "completed"
            }
            assert created_tasks <= completed
            assert any(e.kind == "attempt_status" for e in events)
            steps = [e for e in events if e.kind == "step_status" and e.data["step_name"] == "work"]
            assert steps[-1].data["task_counts"]["completed"] == 20
            last_run_event = [e for e in events if e.kind in ("run_created", "run_status")][-1]
            assert last_run_event.data["status"] == "completed"
            # Every task's creation comes before any later change of that task.
            for task in created_tasks:
                positions = [
                    i
                    for i, e in enumerate(events)
                    if e.kind in ("task_created", "task_status")
                    and (e.data["step_name"], e.data["task_id"]) == task
                ]
                assert events[positions[0]].kind == "task_created", task

            # A task's stream carries its log lines (the local runtime writes them when the
            # attempt ends; they are sent as soon as they are on disk).
            step, task_id = sorted(t for t in created_tasks if t[0] == "work")[0]
            logs = Subscription(
                f"{url}/api/v1/events?flow_id=SlowFlow&run_id={run_id}&step_name={step}&task_id={task_id}"
            )
            log_event = logs.next(10, "log")
            assert log_event.data["stream"] == "stdout"
            assert [line["text"] for line in log_event.data["lines"]][:1] == [
                line["text"] for line in log_event.data["lines"] if "tick 0" in line["text"]
            ]
            assert any("tick 4" in line["text"] for line in log_event.data["lines"])

            # Reconnecting with Last-Event-ID replays exactly what was missed.
            middle = events[len(events) // 2]
            again = Subscription(
                f"{url}/api/v1/events?flow_id=SlowFlow&run_id={run_id}",
                headers={"Last-Event-ID": str(middle.id)},
            )
            replay = again.until(lambda e: e.id == events[-1].id, timeout=60)
            assert [e.id for e in replay if e.id is not None] == [
                e.id for e in events if e.id is not None and e.id > middle.id
            ]

            # Too far behind: one resync event instead of a flood.
            store.prune_events(keep=5)
            late = Subscription(f"{url}/api/v1/events", headers={"Last-Event-ID": "1"})
            assert late.next(5).kind == "resync"
            # An id the server never gave (its index was rebuilt): resync too.
            future = Subscription(f"{url}/api/v1/events", headers={"Last-Event-ID": "999999999"})
            assert future.next(5).kind == "resync"
            future.close()
            for sub in (runs, detail, logs, again, late):
                sub.close()
    finally:
        if flow is not None and flow.poll() is None:
            kill_group(flow)
        live.stop()
        store.close()
