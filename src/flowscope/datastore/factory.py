"""Which datastore holds a run's logs, artifacts and cards, from what its metadata says.

Every task records `ds-type` and `ds-root`; the index keeps them per run (`RunRef`).
- `local`: for a run indexed from a local folder, that folder (the recorded ds-root may
  be stale: the folder could have been copied or mounted elsewhere); for a run of a
  metadata service, the recorded ds-root.
- `s3`: `S3Datastore` at the recorded ds-root, also for a local `.metaflow` whose runs
  used `--datastore=s3` (metadata local, data in S3).
- `azure`, `gs`: not readable yet; `UnsupportedDatastore` says so on every read.
One datastore object per root is kept, so its caches serve every run under that root.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, NoReturn

from flowscope.datastore import DatastoreUnsupported
from flowscope.datastore.base import ArtifactInfo, CardInfo, Datastore, TaskLog
from flowscope.datastore.included_file import IncludedContent, IncludedFileRef
from flowscope.datastore.s3 import S3Settings
from flowscope.pathspec import Pathspec

_NAMES = {"azure": "Azure Blob Storage", "gs": "Google Cloud Storage"}


class UnsupportedDatastore:
    """A datastore flowscope knows of but cannot read yet: every read says so (501)."""

    def __init__(self, ds_type: str, ds_root: str | None) -> None:
        self.ds_type, self.ds_root = ds_type, ds_root

    @property
    def location(self) -> str:
        return self.ds_root or self.ds_type

    def _refuse(self) -> NoReturn:
        kind = _NAMES.get(self.ds_type, f"datastore type {self.ds_type!r}")
        raise DatastoreUnsupported(
            f"this run's logs, artifacts and cards are in {kind} ({self.location}), "
            "which flowscope cannot read yet"
        )

    def list_artifacts(self, task: Pathspec, attempt: int) -> list[ArtifactInfo]:
        self._refuse()

    def load_artifact(
        self,
        flow: str,
        sha: str,
        *,
        max_bytes: int,
        encoding: str | None = None,
        location: str | None = None,
    ) -> Any:
        self._refuse()

    def read_included_file(
        self, ref: IncludedFileRef, flow: str, *, max_bytes: int
    ) -> IncludedContent:
        self._refuse()

    def artifact_pickle(
        self,
        flow: str,
        sha: str,
        *,
        max_bytes: int,
        encoding: str | None = None,
        location: str | None = None,
    ) -> bytes:
        self._refuse()

    def open_log(self, task: Pathspec, attempt: int, stream: Any) -> TaskLog:
        self._refuse()

    def list_cards(self, task: Pathspec) -> list[CardInfo]:
        self._refuse()

    def card_html(self, task: Pathspec, card_hash: str) -> bytes:
        self._refuse()

    def card_data(self, task: Pathspec, card_hash: str) -> bytes:
        self._refuse()


class Datastores:
    """Datastores by kind and root, made on first use and then shared."""

    def __init__(self, s3: S3Settings | None = None) -> None:
        self._s3 = s3
        self._lock = threading.Lock()
        self._made: dict[tuple[str, str], Datastore] = {}

    def for_run(
        self,
        ds_type: str | None,
        ds_root: str | None,
        source_kind: str,
        source_location: str,
    ) -> Datastore | None:
        """The datastore of one run; None when nothing says where its data is."""
        if ds_type is None and source_kind == "local":
            ds_type = "local"  # older runs without ds-type metadata
        if ds_type == "local":
            root = source_location if source_kind == "local" else ds_root
            return None if not root else self._get("local", root)
        if ds_type is None or not ds_root:
            return None
        return self._get(ds_type, ds_root)

    def _get(self, kind: str, root: str) -> Datastore:
        key = (kind, root)
        with self._lock:
            found = self._made.get(key)
            if found is None:
                found = self._made[key] = self._make(kind, root)
            return found

    def _make(self, kind: str, root: str) -> Datastore:
        if kind == "local":
            from flowscope.datastore.local import LocalDatastore

            return LocalDatastore(Path(root))
        if kind == "s3":
            from flowscope.datastore.s3 import S3Datastore

            return S3Datastore(root, self._s3)
        return UnsupportedDatastore(kind, root)
