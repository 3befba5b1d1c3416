"""The seam between the API and the storage that holds a run's data.

`Datastore` is what the routes use: keyed by `Pathspec` and attempt, it lists and loads
artifacts, opens logs and serves cards, and never hands out a file path or handle.
Implementations: `local.LocalDatastore` (a `.metaflow` folder) and `s3.S3Datastore`;
`factory.datastore_for_run` picks one per run from its `ds-type`/`ds-root` metadata.
Both are `layout.MetaflowDatastore` (Metaflow's datastore layout) over a `BlobStore`
(the storage: a folder, a bucket), so Azure Blob Storage or GCS would be one more
`BlobStore`, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from flowscope.datastore.included_file import IncludedContent, IncludedFileRef
from flowscope.datastore.mflog import Buffer, MergedLog
from flowscope.pathspec import Pathspec

Stream = Literal["stdout", "stderr"]
STREAMS: tuple[Stream, ...] = ("stdout", "stderr")


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """One artifact of a task attempt.

    `type` is the Python type as Metaflow recorded it, without the `<class '...'>`
    wrapper; `size` is the size of the pickle, before compression. `location` is where
    the metadata says the value is, when it says (metaflow-service's `artifact_v3.location`:
    `:root:<ds_root>` or the blob's full URL); None means "by sha, under the flow".
    """

    name: str
    type: str
    size: int
    sha: str
    encoding: str
    location: str | None = None


@dataclass(frozen=True, slots=True)
class CardInfo:
    """One rendered card, as `metaflow.cards.get_cards` sees it.

    `id` is the id given with `@card(id=...)` and None otherwise, exactly like the
    client's `Card.id`; `hash` is what tells cards apart (the client's `Card.hash`).
    """

    id: str | None
    type: str
    hash: str
    name: str  # the stored file's name, `<type>[-<id>]-<hash>.html`


@dataclass(frozen=True, slots=True)
class TaskLog:
    """One stream of one attempt, merged as the client merges it, decoded lazily.

    `version` changes whenever the content may have changed (an ETag for the API);
    `final` says the attempt ended, so the log will not change any more.
    `omitted_bytes` counts bytes at the start of a log too big to read whole from remote
    storage: only its tail is in `lines` (0 for every log read whole).
    """

    lines: MergedLog
    version: str
    final: bool
    omitted_bytes: int = 0

    def __len__(self) -> int:
        return len(self.lines)


class Datastore(Protocol):
    """Logs, artifacts and cards of the runs under one datastore root."""

    @property
    def location(self) -> str:
        """Where the data is, for messages: a folder, `s3://bucket/prefix`, ..."""
        ...

    def list_artifacts(self, task: Pathspec, attempt: int) -> list[ArtifactInfo]:
        """Every artifact of the attempt (`_`-names included), sorted by name; [] while
        the attempt runs and has stored none. NotFoundError for an unknown attempt."""
        ...

    def load_artifact(
        self,
        flow: str,
        sha: str,
        *,
        max_bytes: int,
        encoding: str | None = None,
        location: str | None = None,
    ) -> Any:
        """An artifact's value, unpickled through the allowlist (`safe_pickle`).

        By `sha` under the flow's content-addressed store, or at `location` when the
        metadata recorded one (it must stay inside this datastore). Raises
        `PayloadTooLarge` past `max_bytes` of pickle and `UnsafePickle` for a pickle
        naming anything outside the allowlist. The unpickling runs in a worker process
        with memory and time limits (`bounded_unpickle`).
        """
        ...

    def read_included_file(
        self, ref: IncludedFileRef, flow: str, *, max_bytes: int
    ) -> IncludedContent:
        """The content of an IncludeFile parameter whose artifact unpickled to `ref`;
        NotFoundError unless it is where Metaflow puts included files in this datastore,
        PayloadTooLarge past `max_bytes`."""
        ...

    def artifact_pickle(
        self,
        flow: str,
        sha: str,
        *,
        max_bytes: int,
        encoding: str | None = None,
        location: str | None = None,
    ) -> bytes:
        """The artifact's pickle, uncompressed and not unpickled (at most `max_bytes`),
        found as `load_artifact` finds it; for `bounded_unpickle.bounded_preview`."""
        ...

    def open_log(self, task: Pathspec, attempt: int, stream: Stream) -> TaskLog:
        """The attempt's stdout or stderr, merged over its log sources (cached)."""
        ...

    def list_cards(self, task: Pathspec) -> list[CardInfo]:
        """The task's own cards in the client's order (the caller follows `resume`)."""
        ...

    def card_html(self, task: Pathspec, card_hash: str) -> bytes:
        """The HTML of the task's card whose `hash` is `card_hash`."""
        ...

    def card_data(self, task: Pathspec, card_hash: str) -> bytes:
        """The newest runtime data of a refreshing card (`…/runtime/*-<hash>.data.json`,
        rewritten by `current.card.refresh()`); NotFoundError when it has none."""
        ...


@dataclass(frozen=True, slots=True)
class BlobStat:
    """Size and a version string that changes when the object is rewritten."""

    size: int
    version: str


@dataclass(frozen=True, slots=True)
class Blob:
    data: Buffer
    meta: dict[str, Any]  # Metaflow's per-object attributes (`cas_raw`, `cas_version`)


class BlobStore(Protocol):
    """The storage under one datastore root, addressed by key parts below the root.

    Every part reaching a BlobStore has been checked by `layout.check_id` (no separators,
    no dot segments); an implementation still makes sure a key cannot leave its root.
    """

    @property
    def location(self) -> str: ...

    # At most this many bytes are read from the end of one log (None: read it whole).
    log_window: int | None

    def listing(self, *folder: str) -> dict[str, BlobStat]:
        """Objects directly inside `folder`, in the order the client would list them;
        {} when there is no such folder."""
        ...

    def read(self, *key: str, start: int = 0, max_bytes: int | None = None) -> Buffer:
        """Bytes of one object from `start` (at most `max_bytes`); NotFoundError when
        it does not exist."""
        ...

    def read_blob(self, *key: str, max_bytes: int) -> Blob:
        """A content-addressed artifact blob and its attributes; PayloadTooLarge when
        it holds more than `max_bytes`."""
        ...

    def blob_key(self, location: str) -> tuple[str, ...] | None:
        """Key parts of a full URL inside this store's root, or None if it is outside."""
        ...
