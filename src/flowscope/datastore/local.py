"""A Metaflow datastore in a local `.metaflow` folder.

Every key is resolved, symlinks included, and must stay inside the root; entries that
point outside (a symlinked card, say) are left out of listings. Missing or unsafe keys
raise `NotFoundError`.
"""

from __future__ import annotations

import json
import mmap
import os
from pathlib import Path

from flowscope.datastore import DatastoreError, NotFoundError
from flowscope.datastore.base import Blob, BlobStat
from flowscope.datastore.layout import MetaflowDatastore, check_id, task_key
from flowscope.datastore.mflog import Buffer
from flowscope.datastore.safe_pickle import PayloadTooLarge
from flowscope.pathspec import Pathspec

# Logs above this size are mapped rather than read, so a cached log of a large file
# costs page cache, not process memory.
_MMAP_FROM = 4 << 20


class LocalBlobs:
    """The files under one folder, as a `BlobStore`."""

    log_window: int | None = None  # local logs are mapped, never cut

    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()

    @property
    def root(self) -> Path:
        return self._root

    @property
    def location(self) -> str:
        return str(self._root)

    def inside(self, path: Path) -> Path:
        """`path` with symlinks resolved, provided it stays inside the root."""
        try:
            resolved = path.resolve()
        except (RuntimeError, OSError) as error:  # a symlink loop (RuntimeError before 3.13)
            raise NotFoundError("path is a symlink loop") from error
        if resolved != self._root and not resolved.is_relative_to(self._root):
            raise NotFoundError("path leaves the datastore root")
        return resolved

    def path(self, *parts: str) -> Path:
        return self.inside(self._root.joinpath(*parts))

    def listing(self, *folder: str) -> dict[str, BlobStat]:
        try:
            where = self.path(*folder)
            entries = list(os.scandir(where))
        except (FileNotFoundError, NotADirectoryError, NotFoundError):
            return {}
        found = {}
        for entry in entries:  # directory order: the client's order for local cards
            try:
                if entry.is_symlink():
                    self.inside(Path(entry.path))
                if not entry.is_file():
                    continue
                info = entry.stat()
            except (OSError, NotFoundError):
                continue
            found[entry.name] = BlobStat(info.st_size, f"{info.st_size}:{info.st_mtime_ns}")
        return found

    def read(self, *key: str, start: int = 0, max_bytes: int | None = None) -> Buffer:
        path = self.path(*key)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if start == 0 and max_bytes is None and size >= _MMAP_FROM:
                    # The mapping stays valid after close, and after an atomic replace.
                    return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                handle.seek(start)
                return handle.read(-1 if max_bytes is None else max_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise NotFoundError(f"{key[-1]} not found") from error
        except OSError as error:
            raise DatastoreError(f"cannot read {key[-1]}: {error}") from error

    def read_blob(self, *key: str, max_bytes: int) -> Blob:
        data = self.read(*key, max_bytes=max_bytes + 1)
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"artifact is over the {max_bytes} byte limit")
        meta_name = f"{key[-1]}_meta"
        try:
            meta = json.loads(bytes(self.read(*key[:-1], meta_name)))
        except NotFoundError:
            meta = {}
        except ValueError as error:
            raise DatastoreError("malformed artifact _meta") from error
        if not isinstance(meta, dict):
            raise DatastoreError("malformed artifact _meta")
        return Blob(data, meta)

    def blob_key(self, location: str) -> tuple[str, ...] | None:
        path = Path(location.removeprefix("file://"))
        if not path.is_absolute():
            return None
        try:
            relative = self.inside(path).relative_to(self._root)
        except NotFoundError:
            return None
        return relative.parts


class LocalDatastore(MetaflowDatastore):
    """The Metaflow datastore under one `.metaflow` folder (`root`)."""

    def __init__(self, root: Path) -> None:
        self._files = LocalBlobs(root)
        super().__init__(self._files)

    @property
    def root(self) -> Path:
        return self._files.root

    def _included_blob(self, url: str, key: tuple[str, str, str], max_bytes: int) -> bytes:
        # Metaflow's local data client puts included files beside `.metaflow`, under
        # `<sysroot>/data` (DATATOOLS_LOCALROOT unset), and names them `local://<path>`.
        sysroot = self.root.parent
        if url != f"local://{sysroot.joinpath(*key)}":
            raise NotFoundError("the included file is outside this datastore")
        data = LocalBlobs(sysroot / key[0]).read(*key[1:], max_bytes=max_bytes + 1)
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"the included file is over the {max_bytes} byte limit")
        return bytes(data)

    def task_folder(self, task: Pathspec) -> Path:
        """The folder of one task (its attempts' files and `_meta/`): for readers of
        local metadata, which lives beside the data."""
        path = self._files.path(*task_key(task))
        if not path.is_dir():
            raise NotFoundError(f"{task} not found")
        return path

    def task_path(self, flow: str, run: str, step: str, task: str) -> Path:
        """`task_folder` by its four ids."""
        return self.task_folder(Pathspec.of_task(flow, run, step, task))

    def attempts(self, task: Pathspec) -> list[int]:
        """Attempt numbers that started, from the `<attempt>.attempt.json` markers."""
        found = []
        for name in self._files.listing(*task_key(task)):
            number, _, rest = name.partition(".")
            if rest == "attempt.json" and number.isdigit():
                found.append(int(number))
        return sorted(found)


__all__ = ["LocalBlobs", "LocalDatastore", "check_id"]
