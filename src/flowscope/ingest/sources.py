"""What the API may ask a run's source for on demand, beyond what the index keeps.

The index holds statuses and times; the full metadata of a task is read from the source
that indexed the task when a task page asks for it: the local `_meta` files for a local
run, the `metadata_v3` table for a run of a metadata service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import Engine

from flowscope.pathspec import Pathspec


@dataclass(frozen=True)
class MetadataEntry:
    """One metadata entry of a task, as the client's `Task.metadata` lists it."""

    field_name: str
    value: str | None
    type: str | None
    attempt: int | None
    ts_epoch: int | None


def distinct_metadata(entries: Sequence[MetadataEntry]) -> list[MetadataEntry]:
    """Each (field, value, type, attempt) once, at its first recording.

    Metaflow records `user`, `runtime`, `python_version`, `metaflow_version`, `script-name`
    and `git-info` twice for every attempt: the runtime when it launches the task, then the
    task itself as it starts (identical but for `ts_epoch`). The client's `Task.metadata`
    lists both; a reader learns nothing from the second, so it is left out. Entries that
    differ in anything but the time (a retry's, a changed value) are all kept.
    """
    seen: set[tuple[str, str | None, str | None, int | None]] = set()
    kept = []
    for entry in sorted(entries, key=lambda e: (e.ts_epoch is None, e.ts_epoch or 0)):
        key = (entry.field_name, entry.value, entry.type, entry.attempt)
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return kept


class TaskDetails(Protocol):
    def task_metadata(self, task: Pathspec) -> list[MetadataEntry]:
        """Every metadata entry of the task, oldest first; [] when it has none."""
        ...


class LocalTaskDetails:
    """Task details of runs indexed from a local `.metaflow` folder."""

    def __init__(self, root: Path) -> None:
        from flowscope.datastore.local import LocalDatastore

        self._datastore = LocalDatastore(root)

    def task_metadata(self, task: Pathspec) -> list[MetadataEntry]:
        from flowscope.ingest.local_metadata import read_task_metadata

        # task_path checks every id and that the folder stays inside the root.
        return read_task_metadata(self._datastore.task_path(*task.require_task()))


class ServiceTaskDetails:
    """Task details of runs read from a metaflow-service database (`metadata_v3`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def task_metadata(self, task: Pathspec) -> list[MetadataEntry]:
        from flowscope.service import v3_reads as v3

        flow_id, run_id, step_name, task_id = task.require_task()
        with self._engine.connect() as conn:
            run = v3.run_by_exposed_id(conn, flow_id, run_id)
            if run is None:
                return []
            found = [
                t
                for t in v3.tasks_by_exposed_id(conn, run.key, [task_id])
                if t.step_name == step_name
            ]
            if not found:
                return []
            rows = v3.task_metadata(conn, flow_id, run.run_number, step_name, found[0].task_id)
        return [MetadataEntry(r.field_name, r.value, r.type, r.attempt, r.ts_epoch) for r in rows]


def task_details_for(kind: str, location: str) -> TaskDetails | None:
    """The details reader of a source, by the kind and location the store records."""
    if kind == "local":
        return LocalTaskDetails(Path(location))
    return None
