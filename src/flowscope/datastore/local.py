"""Read logs, artifacts and cards of runs from a local `.metaflow` datastore folder.

Every id that reaches a path is checked twice: its spelling (no separators, no `.`/`..`,
no NUL) and, after symlinks are resolved, that the path is still inside the root. Anything
missing or unsafe raises `NotFoundError`, so the API answers 404 either way.

Where the client would answer, the answers here are the client's: the artifact names of
`Task(pathspec, attempt=N).artifacts`, the text of `Task(...).stdout`, the cards of
`metaflow.cards.get_cards` (same ids, types and order).
"""

from __future__ import annotations

import json
import mmap
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowscope.datastore import DatastoreError, NotFoundError
from flowscope.datastore.mflog import LogLine, MergedLog, log_file_names
from flowscope.datastore.safe_pickle import (
    DEFAULT_MAX_BYTES,
    PayloadTooLarge,
    read_gzip_capped,
    safe_loads,
)

_MAX_ID_LENGTH = 255
_MAX_ATTEMPT = 1000
_SHA = re.compile(r"[0-9a-f]{40,128}")
_TYPE_REPR = re.compile(r"<class '(.+)'>")
# Logs above this size are mapped rather than read, so a cached MergedLog of a large log
# costs page cache, not process memory.
_MMAP_FROM = 4 << 20
_PICKLE_ENCODINGS = frozenset({"pickle-v2", "pickle-v4", "gzip+pickle-v2", "gzip+pickle-v4"})
_STREAMS = ("stdout", "stderr")
_CARDS_FOLDER = "mf.cards"
# A resumed run clones tasks, which can themselves be clones: bound the chase.
_MAX_ORIGIN_HOPS = 20


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """One artifact of a task attempt, from the attempt's `data.json` index.

    `type` is the Python type as Metaflow recorded it, without the `<class '...'>`
    wrapper; `size` is the size of the pickle, before compression.
    """

    name: str
    type: str
    size: int
    sha: str
    encoding: str


@dataclass(frozen=True, slots=True)
class CardInfo:
    """One rendered card, as `metaflow.cards.get_cards` sees it.

    `id` is the id given with `@card(id=...)` and None otherwise, exactly like the
    client's `Card.id`; `hash` is what tells cards apart (the client's `Card.hash`).
    `path` is the HTML file, possibly in the origin run of a resumed task.
    """

    id: str | None
    type: str
    hash: str
    path: Path


def _check_id(kind: str, value: object) -> str:
    if (
        not isinstance(value, str)
        or not value
        or value in (".", "..")
        or len(value) > _MAX_ID_LENGTH
        or any(bad in value for bad in ("/", "\\", "\x00"))
    ):
        raise NotFoundError(f"invalid {kind} id {value!r}")
    return value


def _check_attempt(attempt: object) -> int:
    if isinstance(attempt, bool) or not isinstance(attempt, int):
        raise NotFoundError(f"invalid attempt {attempt!r}")
    if not 0 <= attempt < _MAX_ATTEMPT:
        raise NotFoundError(f"invalid attempt {attempt!r}")
    return attempt


def _clean_type(recorded: str) -> str:
    match = _TYPE_REPR.fullmatch(recorded)
    return match.group(1) if match else recorded


def _read_json(path: Path) -> Any:
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except FileNotFoundError as error:
        raise NotFoundError(f"{path.name} not found") from error
    except (OSError, ValueError) as error:
        raise DatastoreError(f"cannot read {path.name}: {error}") from error


def _read_buffer(path: Path) -> bytes | mmap.mmap:
    """The bytes of a log file, mapped when large; b"" when it does not exist."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size >= _MMAP_FROM:
                # The mapping stays valid after close, and after an atomic replace.
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            return handle.read()
    except FileNotFoundError:
        return b""


def _parse_card_name(file_name: str) -> tuple[str, str | None, str] | None:
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


class LocalDatastore:
    """The Metaflow datastore under one `.metaflow` folder (`root`)."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()

    @property
    def root(self) -> Path:
        return self._root

    # -- paths -----------------------------------------------------------------------

    def _inside(self, path: Path) -> Path:
        """`path` with symlinks resolved, provided it stays inside the root."""
        resolved = path.resolve()
        if resolved != self._root and not resolved.is_relative_to(self._root):
            raise NotFoundError("path leaves the datastore root")
        return resolved

    def _existing_dir(self, *parts: str) -> Path:
        path = self._inside(self._root.joinpath(*parts))
        if not path.is_dir():
            raise NotFoundError(f"{'/'.join(parts)} not found")
        return path

    def _file(self, folder: Path, name: str) -> Path:
        """A file in an already checked folder, re-checked since it could be a symlink."""
        return self._inside(folder / name)

    def task_path(self, flow: str, run: str, step: str, task: str) -> Path:
        """The folder of one task (holding its attempts' files and `_meta/`)."""
        ids = (
            _check_id("flow", flow),
            _check_id("run", run),
            _check_id("step", step),
            _check_id("task", task),
        )
        return self._existing_dir(*ids)

    def attempts(self, flow: str, run: str, step: str, task: str) -> list[int]:
        """Attempt numbers that started, from the `<attempt>.attempt.json` markers."""
        found = []
        for entry in os.listdir(self.task_path(flow, run, step, task)):
            number, _, rest = entry.partition(".")
            if rest == "attempt.json" and number.isdigit():
                found.append(int(number))
        return sorted(found)

    def _attempt_started(self, task_dir: Path, attempt: int) -> bool:
        return any(
            self._file(task_dir, f"{attempt}.{suffix}").exists()
            for suffix in ("attempt.json", "data.json", "DONE.lock")
        )

    def _attempt_finished(self, task_dir: Path, attempt: int) -> bool:
        return any(
            self._file(task_dir, f"{attempt}.{suffix}").exists()
            for suffix in ("DONE.lock", "runtime", "task_end")
        )

    # -- artifacts -------------------------------------------------------------------

    def _artifact_index(self, task_dir: Path, attempt: int) -> dict[str, Any] | None:
        """The attempt's `data.json`, or None while the attempt has not persisted yet."""
        path = self._file(task_dir, f"{attempt}.data.json")
        if not path.exists():
            if self._attempt_started(task_dir, attempt):
                return None
            raise NotFoundError(f"attempt {attempt} not found")
        index = _read_json(path)
        if not isinstance(index, dict):
            raise DatastoreError("malformed data.json")
        return index

    def list_artifacts(
        self,
        flow: str,
        run: str,
        step: str,
        task: str,
        attempt: int,
        *,
        include_private: bool = True,
    ) -> list[ArtifactInfo]:
        """Artifacts of one attempt, sorted by name.

        With `include_private=False` the names are exactly those of the client's
        `Task(pathspec, attempt=N).artifacts`, which leaves out every name starting with
        `_` (`_task_ok`, `_graph_info`, ...). An attempt that started but has not stored
        its artifacts yet has none.
        """
        attempt = _check_attempt(attempt)
        index = self._artifact_index(self.task_path(flow, run, step, task), attempt)
        if index is None:
            return []
        objects = index.get("objects") or {}
        info = index.get("info") or {}
        if not isinstance(objects, dict) or not isinstance(info, dict):
            raise DatastoreError("malformed data.json")
        found = []
        for name, sha in objects.items():
            if name.startswith("_") and not include_private:
                continue
            details = info.get(name) or {}
            found.append(
                ArtifactInfo(
                    name=name,
                    type=_clean_type(str(details.get("type", "object"))),
                    size=int(details.get("size", 0)),
                    sha=str(sha),
                    # Metaflow assumes this for artifacts written before it recorded one.
                    encoding=str(details.get("encoding", "gzip+pickle-v2")),
                )
            )
        return sorted(found, key=lambda artifact: artifact.name)

    def artifact_info(
        self, flow: str, run: str, step: str, task: str, attempt: int, name: str
    ) -> ArtifactInfo:
        """One artifact of one attempt, private ones included."""
        for artifact in self.list_artifacts(flow, run, step, task, attempt):
            if artifact.name == name:
                return artifact
        raise NotFoundError(f"artifact {name!r} not found")

    def load_artifact_value(
        self,
        flow: str,
        sha: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        encoding: str | None = None,
    ) -> Any:
        """Unpickle an artifact from the flow's content-addressed store, safely.

        Blobs live in `<flow>/data/<sha[:2]>/<sha>`, gzip-compressed unless their
        `<sha>_meta` says `cas_raw`. Raises `PayloadTooLarge` past `max_bytes` of pickle
        and `UnsafePickle` if the pickle names anything outside the allowlist.
        """
        if encoding is not None and encoding not in _PICKLE_ENCODINGS:
            raise DatastoreError(f"artifact encoding {encoding!r} is not a pickle")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise NotFoundError(f"invalid artifact sha {sha!r}")
        folder = self._existing_dir(_check_id("flow", flow), "data", sha[:2])
        path = self._file(folder, sha)
        if not path.is_file():
            raise NotFoundError(f"artifact blob {sha} not found")
        meta_path = self._file(folder, f"{sha}_meta")
        meta = _read_json(meta_path) if meta_path.exists() else {}
        if not isinstance(meta, dict):
            raise DatastoreError("malformed artifact _meta")
        with open(path, "rb") as handle:
            if meta.get("cas_raw"):
                data = handle.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise PayloadTooLarge(f"artifact is over the {max_bytes} byte limit")
            elif meta.get("cas_version", 1) == 1:
                data = read_gzip_capped(handle, max_bytes)
            else:
                raise DatastoreError(f"unknown artifact packing {meta.get('cas_version')!r}")
        return safe_loads(data, max_bytes=max_bytes)

    # -- logs ------------------------------------------------------------------------

    def log_paths(
        self, flow: str, run: str, step: str, task: str, attempt: int, stream: str
    ) -> list[Path]:
        """The files (existing or not yet) that hold one stream of one attempt.

        The local runtime writes them only when the attempt ends; they are meant for
        `mflog.read_new_lines` when a source writes them while the task runs.
        """
        return self._log_files(self.task_path(flow, run, step, task), attempt, stream)

    def _log_files(self, task_dir: Path, attempt: int, stream: str) -> list[Path]:
        if stream not in _STREAMS:
            raise NotFoundError(f"unknown log stream {stream!r}")
        attempt = _check_attempt(attempt)
        return [self._file(task_dir, name) for name in log_file_names(attempt, stream)]

    def open_log(
        self, flow: str, run: str, step: str, task: str, attempt: int, stream: str
    ) -> MergedLog:
        """The merged log of one attempt's stream, for paging without decoding it all.

        While the attempt runs, a line still being written is left out; once it is
        finished the answer is exactly the client's.
        """
        task_dir = self.task_path(flow, run, step, task)
        blobs = [_read_buffer(path) for path in self._log_files(task_dir, attempt, stream)]
        if not any(len(blob) for blob in blobs) and not self._attempt_started(task_dir, attempt):
            raise NotFoundError(f"attempt {attempt} not found")
        return MergedLog(blobs, final=self._attempt_finished(task_dir, attempt))

    def read_log(
        self, flow: str, run: str, step: str, task: str, attempt: int, stream: str
    ) -> list[LogLine]:
        """Every line of one attempt's stream, as the client's `Task.loglines`."""
        return self.open_log(flow, run, step, task, attempt, stream).lines()

    def log_text(self, flow: str, run: str, step: str, task: str, attempt: int, stream: str) -> str:
        """Exactly `Task(pathspec, attempt=attempt).stdout` (or `.stderr`)."""
        return self.open_log(flow, run, step, task, attempt, stream).text()

    # -- cards -----------------------------------------------------------------------

    def _latest_metadata(self, task_dir: Path, field: str) -> str | None:
        """The value of the newest `sysmeta_<field>_<ts>.json` of a task, if any."""
        meta_dir = self._file(task_dir, "_meta")
        prefix = f"sysmeta_{field}_"
        try:
            names = [name for name in os.listdir(meta_dir) if name.startswith(prefix)]
        except FileNotFoundError:
            return None
        stamped = [name for name in names if name[len(prefix) : -len(".json")].isdigit()]
        if not stamped:
            return None
        newest = max(stamped, key=lambda name: int(name[len(prefix) : -len(".json")]))
        record = _read_json(self._file(meta_dir, newest))
        value = record.get("value") if isinstance(record, dict) else None
        return None if value in (None, "None", "") else str(value)

    def _origin_task(self, flow: str, run: str, step: str, task: str) -> tuple[str, str] | None:
        """(run, task) this task was cloned from by `resume`, or None if it ran itself."""
        task_dir = self.task_path(flow, run, step, task)
        origin_run = self._latest_metadata(task_dir, "origin-run-id")
        origin_task = self._latest_metadata(task_dir, "origin-task-id")
        if origin_run is None or origin_task is None:
            return None
        return origin_run, origin_task

    def _card_files(self, flow: str, run: str, step: str, task: str) -> list[tuple[str, Path]]:
        """(listed name, resolved path) of the entries of the task's cards folder."""
        cards = self._root / _CARDS_FOLDER / flow / "runs" / run
        # Older Metaflow versions stored cards without the steps level; the client looks
        # there only when the newer folder is empty.
        for folder in (
            cards / "steps" / step / "tasks" / task / "cards",
            cards / "tasks" / task / "cards",
        ):
            try:
                checked = self._inside(folder)
                entries = [entry for entry in os.listdir(checked) if entry != "_meta"]
            except (FileNotFoundError, NotADirectoryError, NotFoundError):
                continue
            if entries:
                # The client keeps the directory's order, and users refer to cards by index.
                return [
                    (entry, path) for entry in entries if (path := self._safe_file(checked, entry))
                ]
        return []

    def _safe_file(self, folder: Path, name: str) -> Path | None:
        try:
            return self._file(folder, name)
        except NotFoundError:
            return None

    def list_cards(
        self, flow: str, run: str, step: str, task: str, *, follow_resumed: bool = True
    ) -> list[CardInfo]:
        """The task's cards, as `get_cards(task, follow_resumed=...)` lists them.

        A task cloned by `resume` has no cards of its own; like the client, the cards of
        the task it was cloned from are listed instead.
        """
        self.task_path(flow, run, step, task)
        if follow_resumed:
            seen = {(run, task)}
            for _ in range(_MAX_ORIGIN_HOPS):
                origin = self._origin_task(flow, run, step, task)
                if origin is None or origin in seen:
                    break
                try:
                    self.task_path(flow, origin[0], step, origin[1])
                except NotFoundError:
                    break
                run, task = origin
                seen.add(origin)
        found = []
        for name, path in self._card_files(flow, run, step, task):
            parsed = _parse_card_name(name)
            if parsed is None or not path.is_file():
                continue
            card_type, card_id, card_hash = parsed
            found.append(CardInfo(id=card_id, type=card_type, hash=card_hash, path=path))
        return found

    def card_html(self, flow: str, run: str, step: str, task: str, card_hash: str) -> bytes:
        """The HTML of the card whose `hash` is `card_hash` (see `CardInfo`)."""
        for card in self.list_cards(flow, run, step, task):
            if card.hash == card_hash:
                try:
                    return card.path.read_bytes()
                except FileNotFoundError as error:
                    raise NotFoundError("card not found") from error
        raise NotFoundError(f"card {card_hash!r} not found")
