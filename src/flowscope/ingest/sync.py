"""One run from a source into the store, in one transaction: the loop every source shares.

A source hands over the run's facts and a way to read the tasks that changed since the
store last saw them; the assembler makes the records; the store writes them. Killing the
process at any point leaves the run as it was before, and the next pass redoes it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from flowscope.ingest.assembler import Liveness, assemble_run, assemble_task
from flowscope.ingest.facts import RunFacts, TaskFacts
from flowscope.store import Store
from flowscope.store.records import StoredTask

log = logging.getLogger(__name__)

TaskKey = tuple[str, str]  # (step_name, task_id)


@dataclass
class TaskChanges:
    """What a source found among a run's tasks, given what the store already has."""

    changed: list[TaskFacts] = field(default_factory=list)
    # Every task the source still has, so the rest can be removed; None when the source
    # reports only what changed and never removes tasks.
    present: set[TaskKey] | None = None
    # The newest sign of life among the tasks looked at (file change, heartbeat).
    last_seen_at: int | None = None


TaskReader = Callable[[Mapping[TaskKey, StoredTask]], TaskChanges]


class Outcome(Enum):
    WRITTEN = "written"
    # Another source already holds a run with this pathspec: it keeps it (see
    # `RunWriter.claim_run`), and this source's copy is not indexed.
    OWNED_ELSEWHERE = "owned elsewhere"


@dataclass
class Written:
    outcome: Outcome
    tasks_read: int = 0


def ingest_run(
    store: Store,
    source_id: int,
    run: RunFacts,
    read_tasks: TaskReader,
    liveness: Liveness,
    now_ms: int,
    seal_when_ended: bool = False,
) -> Written:
    with store.run_writer(source_id) as writer:
        run_pk = writer.claim_run(run.flow_id, run.run_id, run.created_at)
        if run_pk is None:
            return Written(Outcome.OWNED_ELSEWHERE)
        known = writer.stored_tasks(run_pk)
        changes = read_tasks(known)
        if changes.last_seen_at is not None:
            run = dataclasses.replace(
                run, last_seen_at=max(run.last_seen_at or 0, changes.last_seen_at)
            )
        if run.graph is None:
            # The graph is read once per run; liveness and the steps' order need it.
            run = dataclasses.replace(run, graph=writer.stored_graph(run_pk))
        records = [assemble_task(run, task, liveness) for task in changes.changed]
        writer.write_tasks(run_pk, records, known)
        if changes.present is not None:
            writer.delete_tasks(t.pk for key, t in known.items() if key not in changes.present)
        summary = writer.summarize(run_pk)
        record, steps = assemble_run(run, summary, liveness, now_ms, seal_when_ended)
        writer.write_steps(run_pk, steps)
        writer.write_run(run_pk, record)
        return Written(Outcome.WRITTEN, tasks_read=len(changes.changed))
