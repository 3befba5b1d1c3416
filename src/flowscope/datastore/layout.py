"""Metaflow's datastore layout, over any `BlobStore` (a local folder, an S3 prefix, ...).

Under a datastore root Metaflow writes, per task attempt,
`<Flow>/<run>/<step>/<task>/<attempt>.{attempt.json,data.json,DONE.lock,runtime,...}`
and `<attempt>.<source>_<stream>.log`; artifact values content-addressed in
`<Flow>/data/<sha[:2]>/<sha>`; cards in `mf.cards/<Flow>/runs/<run>/steps/<step>/tasks/<task>/cards/`.

Every id that reaches a key is checked here first (no separators, no `.`/`..`, no `%`
escapes, no NUL); the stores check again that a key stays inside their root. Anything
missing or unsafe raises `NotFoundError`, so the API answers 404 either way.

Where the client would answer, the answers are the client's: the artifact names of
`Task(pathspec, attempt=N).artifacts`, the text of `Task(...).stdout`, the cards of
`metaflow.cards.get_cards` (same ids, types and order).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flowscope.datastore import DatastoreError, NotFoundError
from flowscope.datastore.base import ArtifactInfo, BlobStat, BlobStore, CardInfo, Stream, TaskLog
from flowscope.datastore.bounded_unpickle import bounded_loads
from flowscope.datastore.included_file import IncludedContent, IncludedFileRef, content_key
from flowscope.datastore.mflog import Buffer, MergedLog, log_file_names
from flowscope.datastore.safe_pickle import PayloadTooLarge, read_gzip_capped
from flowscope.pathspec import Pathspec

_MAX_ID_LENGTH = 255
_MAX_ATTEMPT = 1000
_SHA = re.compile(r"[0-9a-f]{40,128}")
_TYPE_REPR = re.compile(r"<class '(.+)'>")
_PICKLE_ENCODINGS = frozenset({"pickle-v2", "pickle-v4", "gzip+pickle-v2", "gzip+pickle-v4"})
_STREAMS = ("stdout", "stderr")
CARDS_FOLDER = "mf.cards"
# A refreshing card's data is its components as JSON; past this it is not a card update.
CARD_DATA_MAX_BYTES = 16 << 20
ROOT_LOCATION = ":root:"  # an artifact location meaning "by sha, under this root"
_STARTED = ("attempt.json", "data.json", "DONE.lock")
_FINISHED = ("DONE.lock", "runtime", "task_end")
# gzip adds a little to data it cannot compress: allow for it when capping what is read.
_GZIP_SLACK = 1 << 16

T = TypeVar("T")


def check_id(kind: str, value: object) -> str:
    if (
        not isinstance(value, str)
        or not value
        or value in (".", "..")
        or len(value) > _MAX_ID_LENGTH
        or any(bad in value for bad in ("/", "\\", "\x00", "%"))
        or not value.isprintable()
    ):
        raise NotFoundError(f"invalid {kind} id {value!r}")
    return value


def check_attempt(attempt: object) -> int:
    if isinstance(attempt, bool) or not isinstance(attempt, int):
        raise NotFoundError(f"invalid attempt {attempt!r}")
    if not 0 <= attempt < _MAX_ATTEMPT:
        raise NotFoundError(f"invalid attempt {attempt!r}")
    return attempt


def task_key(task: Pathspec) -> tuple[str, str, str, str]:
    """The four checked ids of a task pathspec."""
    try:
        flow, run, step, task_id = task.require_task()
    except ValueError as error:
        raise NotFoundError(str(error)) from error
    return (
        check_id("flow", flow),
        check_id("run", run),
        check_id("step", step),
        check_id("task", task_id),
    )


def _clean_type(recorded: str) -> str:
    match = _TYPE_REPR.fullmatch(recorded)
    return match.group(1) if match else recorded


def parse_card_name(file_name: str) -> tuple[str, str | None, str] | None:
    """(type, id, hash) of a card file name `TYPE-HASH.html` or `TYPE-ID-HASH.html`.

    The client raises on any other name (even on a temp file left by an interrupted
    write); skipping it shows the cards that are there.
    """
    parts = file_name.split("-")
    if len(parts) == 2:
        card_type, card_hash = parts
        card_id = None
    elif len(parts) == 3:
        card_type, card_id, card_hash = parts
    else:
        return None
    return card_type, card_id, card_hash.split(".html")[0]


class SizedCache:
    """A small LRU bounded by entry count and by the bytes its values hold."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self.max_entries, self.max_bytes = max_entries, max_bytes

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._items and (
                len(self._items) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def get_or_make(self, key: Hashable, make: Callable[[], tuple[T, int]]) -> T:
        found = self.get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        value, size = make()
        self.put(key, value, size)
        return value


def _decode_json(data: Buffer, what: str) -> Any:
    try:
        return json.loads(bytes(data))
    except ValueError as error:
        raise DatastoreError(f"cannot read {what}: {error}") from error


class MetaflowDatastore:
    """A `Datastore` (see `base.py`): Metaflow's layout under the root of `blobs`.

    With `final_is_immutable` (remote stores), the files of an attempt that has ended are
    taken not to change, so repeat views cost no request at all.
    """

    def __init__(self, blobs: BlobStore, *, final_is_immutable: bool = False) -> None:
        self.blobs = blobs
        self._final_is_immutable = final_is_immutable
        self._listings = SizedCache(max_entries=4096, max_bytes=64 << 20)
        self._indexes = SizedCache(max_entries=1024, max_bytes=64 << 20)
        self._logs = SizedCache(max_entries=32, max_bytes=512 << 20)
        self._card_html = SizedCache(max_entries=16, max_bytes=64 << 20)

    @property
    def location(self) -> str:
        return self.blobs.location

    # -- attempts --------------------------------------------------------------------

    def _attempt_files(self, key: tuple[str, ...], attempt: int) -> dict[str, BlobStat]:
        """The attempt's files (`<attempt>.*`) in the task folder, name -> stat."""
        cache_key = (key, attempt)
        cached = self._listings.get(cache_key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        prefix = f"{attempt}."
        files = {
            name: stat for name, stat in self.blobs.listing(*key).items() if name.startswith(prefix)
        }
        if self._final_is_immutable and any(f"{prefix}{s}" in files for s in _FINISHED):
            self._listings.put(cache_key, files, 64 * (len(files) + 1))
        return files

    @staticmethod
    def _has(files: dict[str, BlobStat], attempt: int, suffixes: tuple[str, ...]) -> bool:
        return any(f"{attempt}.{suffix}" in files for suffix in suffixes)

    # -- artifacts -------------------------------------------------------------------

    def list_artifacts(self, task: Pathspec, attempt: int) -> list[ArtifactInfo]:
        key = task_key(task)
        attempt = check_attempt(attempt)
        files = self._attempt_files(key, attempt)
        name = f"{attempt}.data.json"
        stat = files.get(name)
        if stat is None:
            if self._has(files, attempt, _STARTED):
                return []  # started, not persisted yet
            raise NotFoundError(f"attempt {attempt} not found")
        return self._indexes.get_or_make(
            (key, name, stat.version), lambda: self._read_index(key, name, stat.size)
        )

    def _read_index(
        self, key: tuple[str, ...], name: str, size: int
    ) -> tuple[list[ArtifactInfo], int]:
        index = _decode_json(self.blobs.read(*key, name), "data.json")
        objects = index.get("objects") if isinstance(index, dict) else None
        info = index.get("info") if isinstance(index, dict) else None
        if not isinstance(objects, dict) or not isinstance(info or {}, dict):
            raise DatastoreError("malformed data.json")
        found = []
        for artifact, sha in objects.items():
            details = (info or {}).get(artifact) or {}
            found.append(
                ArtifactInfo(
                    name=artifact,
                    type=_clean_type(str(details.get("type", "object"))),
                    size=int(details.get("size", 0)),
                    sha=str(sha),
                    # Metaflow assumes this for artifacts written before it recorded one.
                    encoding=str(details.get("encoding", "gzip+pickle-v2")),
                )
            )
        return sorted(found, key=lambda a: a.name), size * 2

    def load_artifact(
        self,
        flow: str,
        sha: str,
        *,
        max_bytes: int,
        encoding: str | None = None,
        location: str | None = None,
    ) -> Any:
        data = self.artifact_pickle(
            flow, sha, max_bytes=max_bytes, encoding=encoding, location=location
        )
        return bounded_loads(data, max_bytes=max_bytes)

    def artifact_pickle(
        self,
        flow: str,
        sha: str,
        *,
        max_bytes: int,
        encoding: str | None = None,
        location: str | None = None,
    ) -> bytes:
        if encoding is not None and encoding not in _PICKLE_ENCODINGS:
            raise DatastoreError(f"artifact encoding {encoding!r} is not a pickle")
        flow = check_id("flow", flow)
        if location and not location.startswith(ROOT_LOCATION):
            key = self.blobs.blob_key(location)
            if key is None or len(key) != 4 or key[:2] != (flow, "data"):
                raise NotFoundError("artifact location is outside this datastore")
            sha = key[3]
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise NotFoundError(f"invalid artifact sha {sha!r}")
        blob = self.blobs.read_blob(
            flow, "data", sha[:2], sha, max_bytes=max_bytes + max_bytes // 100 + _GZIP_SLACK
        )
        if blob.meta.get("cas_raw"):
            data = bytes(blob.data)
            if len(data) > max_bytes:
                raise PayloadTooLarge(f"artifact is over the {max_bytes} byte limit")
        elif blob.meta.get("cas_version", 1) == 1:
            data = read_gzip_capped(io.BytesIO(blob.data), max_bytes)
        else:
            raise DatastoreError(f"unknown artifact packing {blob.meta.get('cas_version')!r}")
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"pickle is {len(data)} bytes, over the {max_bytes} byte limit")
        return data

    def read_included_file(
        self, ref: IncludedFileRef, flow: str, *, max_bytes: int
    ) -> IncludedContent:
        """The content of an IncludeFile parameter (see included_file.py), as the client's
        `.data` reads it; PayloadTooLarge past `max_bytes` uncompressed."""
        flow = check_id("flow", flow)
        key = content_key(ref, flow)
        packed = self._included_blob(ref.url or "", key, max_bytes + max_bytes // 100 + _GZIP_SLACK)
        return IncludedContent(
            read_gzip_capped(io.BytesIO(packed), max_bytes), ref.is_text, ref.encoding
        )

    def _included_blob(self, url: str, key: tuple[str, str, str], max_bytes: int) -> bytes:
        """The stored (compressed) included file at `url`, which must be `key` under the
        datatools root: `<root>/data/<flow>/<sha1>` for a remote store."""
        if self.blobs.blob_key(url) != key:
            raise NotFoundError("the included file is outside this datastore")
        data = bytes(self.blobs.read(*key, max_bytes=max_bytes + 1))
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"the included file is over the {max_bytes} byte limit")
        return data

    # -- logs ------------------------------------------------------------------------

    def open_log(self, task: Pathspec, attempt: int, stream: Stream) -> TaskLog:
        """While the attempt runs, a line still being written is left out; once it is
        finished the answer is exactly the client's."""
        key = task_key(task)
        if stream not in _STREAMS:
            raise NotFoundError(f"unknown log stream {stream!r}")
        attempt = check_attempt(attempt)
        files = self._attempt_files(key, attempt)
        names = log_file_names(attempt, stream)
        stats = [files.get(name) for name in names]
        final = self._has(files, attempt, _FINISHED)
        version = ";".join(f"{s.size}:{s.version}" if s else "-" for s in stats) + f";{final:d}"
        cache_key = (key, attempt, stream, version)
        found = self._logs.get(cache_key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        blobs: list[Buffer] = []
        omitted = 0
        for name, stat in zip(names, stats, strict=True):
            if stat is None or stat.size == 0:
                continue
            data, skipped = self._read_log_file(key, name, stat.size)
            blobs.append(data)
            omitted += skipped
        if not any(len(blob) for blob in blobs) and not self._has(files, attempt, _STARTED):
            raise NotFoundError(f"attempt {attempt} not found")
        opened = TaskLog(MergedLog(blobs, final=final), version, final, omitted)
        self._logs.put(cache_key, opened, sum(len(blob) for blob in blobs) + 64)
        return opened

    def _read_log_file(self, key: tuple[str, ...], name: str, size: int) -> tuple[Buffer, int]:
        """A log's bytes, or only its tail (from a line start) past the store's window."""
        window = self.blobs.log_window
        if window is None or size <= window:
            try:
                return self.blobs.read(*key, name), 0
            except NotFoundError:
                return b"", 0  # replaced or removed since the listing
        start = size - window
        data = self.blobs.read(*key, name, start=start, max_bytes=window)
        cut = data.find(b"\n") + 1
        return bytes(data[cut:]), start + cut

    # -- cards -----------------------------------------------------------------------

    def _cards(self, task: Pathspec) -> tuple[tuple[str, ...], dict[str, BlobStat]]:
        flow, run, step, task_id = task_key(task)
        base = (CARDS_FOLDER, flow, "runs", run)
        # Older Metaflow versions stored cards without the steps level; the client looks
        # there only when the newer folder is empty.
        for folder in (
            (*base, "steps", step, "tasks", task_id, "cards"),
            (*base, "tasks", task_id, "cards"),
        ):
            entries = self.blobs.listing(*folder)
            if entries:
                return folder, entries
        return (), {}

    def list_cards(self, task: Pathspec) -> list[CardInfo]:
        _, entries = self._cards(task)
        found = []
        # The client keeps the storage's order, and users refer to cards by index.
        for name in entries:
            parsed = parse_card_name(name)
            if parsed is not None:
                card_type, card_id, card_hash = parsed
                found.append(CardInfo(id=card_id, type=card_type, hash=card_hash, name=name))
        return found

    def card_html(self, task: Pathspec, card_hash: str) -> bytes:
        folder, entries = self._cards(task)
        for name, stat in entries.items():
            parsed = parse_card_name(name)
            if parsed is not None and parsed[2] == card_hash:
                cache_key = (folder, name, stat.version)
                html = self._card_html.get(cache_key)
                if html is None:
                    html = bytes(self.blobs.read(*folder, name))
                    self._card_html.put(cache_key, html, len(html))
                return html  # type: ignore[no-any-return]
        raise NotFoundError(f"card {card_hash!r} not found")

    def card_data(self, task: Pathspec, card_hash: str) -> bytes:
        folder, _ = self._cards(task)
        if not folder:
            raise NotFoundError(f"card {card_hash!r} not found")
        # The data sits beside the cards: `…/tasks/<id>/runtime/<type>[-<id>]-<hash>.data.json`.
        runtime = (*folder[:-1], "runtime")
        for name in self.blobs.listing(*runtime):
            if name.endswith(f"-{card_hash}.data.json"):
                # Never cached: the task rewrites it while it runs.
                return bytes(self.blobs.read(*runtime, name, max_bytes=CARD_DATA_MAX_BYTES))
        raise NotFoundError(f"card {card_hash!r} has no runtime data")
