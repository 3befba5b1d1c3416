"""What the API needs from the rest of the program, handed over at start-up."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from flowscope.datastore import NotFoundError
from flowscope.datastore.factory import Datastores
from flowscope.ingest.sources import TaskDetails, task_details_for
from flowscope.pathspec import Pathspec
from flowscope.store import RunRef, Store

if TYPE_CHECKING:
    from flowscope.datastore.base import Datastore
    from flowscope.ingest.service_follow import SyncProgress


@dataclass
class IndexStatus:
    """Set by whoever feeds the store; read by /health."""

    ready: threading.Event = field(default_factory=threading.Event)
    # While a service database syncs: how far it got (see ingest.service_follow).
    sync: SyncProgress | None = None


@dataclass
class AppContext:
    store: Store
    index: IndexStatus = field(default_factory=IndexStatus)
    base_path: str = "/"
    root: str | None = None  # the .metaflow folder being indexed, for /health
    database: str | None = None  # the metaflow-service database followed (no password)
    ui_dir: Path | None = None
    datastores: Datastores = field(default_factory=Datastores)
    # flowscope as metaflow-service, mounted at /metadata (flowscope.api.metadata).
    metadata_app: ASGIApp | None = None
    _details: dict[tuple[str, str], TaskDetails | None] = field(default_factory=dict)

    def details_for(self, ref: RunRef) -> TaskDetails | None:
        """What the run's source can tell on demand (a task's full metadata)."""
        key = (ref.source_kind, ref.source_location)
        if key not in self._details:
            self._details[key] = task_details_for(*key)
        return self._details[key]

    def register_details(self, kind: str, location: str, details: TaskDetails) -> None:
        """A source that needs more than its location to answer (a database engine)."""
        self._details[(kind, location)] = details

    def datastore_for(self, ref: RunRef) -> Datastore | None:
        """The reader of logs, artifacts and cards of a run, from its ds-type/ds-root."""
        return self.datastores.for_run(
            ref.ds_type, ref.ds_root, ref.source_kind, ref.source_location
        )

    def origin_of(self, ref: RunRef, task: Pathspec) -> Pathspec | None:
        """The task a `resume` cloned this one from (its `origin-*` metadata), if any."""
        details = self.details_for(ref)
        if details is None:
            return None
        try:
            entries = details.task_metadata(task)
        except NotFoundError:
            return None
        latest = {m.field_name: m.value for m in entries}
        run, task_id = latest.get("origin-run-id"), latest.get("origin-task-id")
        if not run or not task_id or "None" in (run, task_id):
            return None
        return Pathspec(task.flow, run, task.step, task_id)
