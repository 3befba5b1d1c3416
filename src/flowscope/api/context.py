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


@dataclass
class IndexStatus:
    """Set by whoever feeds the store; read by /health."""

    ready: threading.Event = field(default_factory=threading.Event)


@dataclass
class AppContext:
    store: Store
    index: IndexStatus = field(default_factory=IndexStatus)
    base_path: str = "/"
    root: str | None = None  # the .metaflow folder being indexed, for /health
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

    def datastore_for(self, ref: RunRef) -> LocalDatastore | None:
        """The reader of logs, artifacts and cards for a run's source, if it has one."""
        if ref.source_kind != "local":
            return None
        found = self._datastores.get(ref.source_location)
        if found is None:
            from flowscope.datastore.local import LocalDatastore

            found = self._datastores[ref.source_location] = LocalDatastore(
                Path(ref.source_location)
            )
        return found
