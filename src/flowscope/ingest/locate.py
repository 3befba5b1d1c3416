"""Finding the Metaflow local datastore the way Metaflow itself does."""

from __future__ import annotations

import os
from pathlib import Path

DATASTORE_DIR = ".metaflow"


def find_datastore(root: str | Path | None = None, cwd: Path | None = None) -> Path | None:
    """The `.metaflow` folder to index, or None when there is none.

    `root` may name the sysroot (the folder holding `.metaflow`) or the `.metaflow`
    folder itself. Without it: `METAFLOW_DATASTORE_SYSROOT_LOCAL`, else the nearest
    `.metaflow` at or above the working directory.
    """
    if root is not None:
        path = Path(root).expanduser().resolve()
        if path.name == DATASTORE_DIR:
            return path
        return path / DATASTORE_DIR
    sysroot = os.environ.get("METAFLOW_DATASTORE_SYSROOT_LOCAL")
    if sysroot:
        return Path(sysroot).expanduser().resolve() / DATASTORE_DIR
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / DATASTORE_DIR
        if candidate.is_dir():
            return candidate
    return None
