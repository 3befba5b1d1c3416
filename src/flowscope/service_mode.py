"""Wiring flowscope onto a metaflow-service database (`--db URL` holding v3 tables).

The database is a source: its v3 tables are read (never written) into flowscope's index,
which lives beside them (`index_location`), and followed while serving.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from flowscope.datastore.factory import Datastores
from flowscope.datastore.included_file import IncludedFileRef
from flowscope.index_location import choose_index, redacted
from flowscope.ingest.service_follow import ServiceFollower
from flowscope.ingest.service_source import ServiceSource
from flowscope.service.v3_reads import V3Artifact, has_v3_tables
from flowscope.store import Store
from flowscope.store.database import create_engine

ARTIFACT_PREVIEW_BYTES = 1_000_000


@dataclass
class ServiceMode:
    store: Store
    source: ServiceSource
    v3_engine: Engine
    location: str  # the database URL without its password


def is_service_database(db_url: str) -> bool:
    engine = create_engine(db_url)
    try:
        return has_v3_tables(engine)
    except Exception:  # not reachable, or not a database we can inspect: not service mode
        return False
    finally:
        engine.dispose()


def open_service(db_url: str, index_url: str | None = None) -> ServiceMode:
    location = choose_index(db_url, index_url)
    if location.note:
        print(location.note, file=sys.stderr)
    store = Store(location.url)
    v3_engine = create_engine(db_url)
    source = ServiceSource(store, v3_engine, redacted(db_url), load_artifact)
    return ServiceMode(store, source, v3_engine, redacted(db_url))


def follower(
    mode: ServiceMode,
    ready: Any,
    on_synced: Callable[[int, float], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ServiceFollower:
    return ServiceFollower(mode.source, ready, mode.store.engine, on_synced, on_progress)


_DATASTORES = Datastores()


def load_artifact(artifact: V3Artifact) -> Any:
    """An artifact's value from where its row says it is: `:root:<ds_root>` (by sha under
    that root) or the blob's full URL (`<ds_root>/<flow>/data/<sha[:2]>/<sha>`). Local
    datastores are opened only when the root is a `.metaflow` folder."""
    from flowscope.datastore import NotFoundError

    location = artifact.location
    if location.startswith(":root:"):
        root = location.removeprefix(":root:")
    else:
        root, found, _ = location.partition(f"/{artifact.flow_id}/data/")
        if not found:
            raise NotFoundError(f"cannot tell the datastore root of {location!r}")
    if artifact.ds_type == "local" and Path(root).name != ".metaflow":
        raise NotFoundError(f"not a Metaflow datastore folder: {root}")
    datastore = _DATASTORES.for_run(artifact.ds_type, root, "service", "")
    if datastore is None:
        raise NotFoundError(f"no datastore for artifacts at {location}")
    value = datastore.load_artifact(
        artifact.flow_id,
        artifact.sha or "",
        max_bytes=ARTIFACT_PREVIEW_BYTES,
        location=location,
    )
    if isinstance(value, IncludedFileRef):
        # An IncludeFile parameter: its value is the file's content, as the client's.
        content = datastore.read_included_file(
            value, artifact.flow_id, max_bytes=ARTIFACT_PREVIEW_BYTES
        )
        return content.text() if content.is_text else content.data
    return value
