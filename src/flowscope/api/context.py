"""What the API needs from the rest of the program, handed over at start-up."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from flowscope.ingest.sources import TaskDetails, task_details_for
from flowscope.store import RunRef, Store

if TYPE_CHECKING:
    from flowscope.datastore.local import LocalDatastore
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
    # flowscope as metaflow-service, mounted at /metadata (flowscope.api.metadata).
    metadata_app: ASGIApp | None = None
    _datastores: dict[str, LocalDatastore] = field(default_factory=dict)
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

    def datastore_for(self, ref: RunRef) -> LocalDatastore | None:
        """The reader of logs, artifacts and cards for a run's source, if it has one."""
        if ref.source_kind == "local":
            root = ref.source_location
        elif ref.ds_type == "local" and ref.ds_root:
            root = ref.ds_root  # a service run whose data is in a local datastore
        else:
            return None
        found = self._datastores.get(root)
        if found is None:
            from flowscope.datastore.local import LocalDatastore

            found = self._datastores[root] = LocalDatastore(Path(root))
        return found
