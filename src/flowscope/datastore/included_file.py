"""`IncludeFile` parameters: what Metaflow stores for them, and their content.

The artifact of an IncludeFile parameter is not the file: it is a pickled
`metaflow.includefile.IncludedFile` holding a small descriptor (metaflow/includefile.py),
e.g. `{"type": "uploader-v2", "sub-type": "uploaded", "url": "local:///…/data/Flow/<sha1>",
"is_text": true, "encoding": "utf-8", "size": 30}`. The content, gzip-compressed, is at
`url`, named by the SHA-1 of the uncompressed bytes, under the datatools root: `<sysroot>/data`
for a local datastore, `<ds_root>/data` on S3. The client's `.data` reads it and gives the
text (or the bytes when `is_text` is false); flowscope does the same within its caps.

The unpickler builds `IncludedFileRef` instead of Metaflow's class (no Metaflow code runs):
it only keeps the descriptor's plain values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flowscope.datastore import NotFoundError

METAFLOW_CLASS = ("metaflow.includefile", "IncludedFile")
_SHA1 = re.compile(r"[0-9a-f]{40}")
# Uploaders whose content Metaflow wrote itself, gzip-compressed (includefile.UPLOADERS).
_UPLOADED = ("uploader-v1", "uploader-v2")


class IncludedFileRef:
    """Stands in for `metaflow.includefile.IncludedFile` when unpickling: the descriptor
    of an included file, plain values only."""

    def __init__(self) -> None:
        self.descriptor: dict[str, Any] = {}

    @classmethod
    def of(cls, descriptor: dict[str, Any]) -> IncludedFileRef:
        """Rebuilt from the plain descriptor a worker process hands back."""
        ref = cls()
        ref.__setstate__({"_descriptor": descriptor})
        return ref

    def __getstate__(self) -> dict[str, Any]:
        # In the shape __setstate__ reads, so a copy pickled by a bounded_unpickle worker
        # comes back whole.
        return {"_descriptor": dict(self.descriptor)}

    def __setstate__(self, state: object) -> None:
        # IncludedFile pickles its __dict__: {"_descriptor": {...}, "_cached_size": None}.
        found = state.get("_descriptor") if isinstance(state, dict) else None
        if isinstance(found, dict):
            self.descriptor = {
                str(k): v
                for k, v in found.items()
                if isinstance(v, str | int | float | bool | type(None))
            }

    @property
    def url(self) -> str | None:
        url = self.descriptor.get("url")
        return url if isinstance(url, str) else None

    @property
    def is_text(self) -> bool:
        return self.descriptor.get("is_text") is not False

    @property
    def encoding(self) -> str:
        encoding = self.descriptor.get("encoding")
        return encoding if isinstance(encoding, str) and encoding else "utf-8"

    @property
    def uploaded(self) -> bool:
        """Metaflow copied the file into its datastore (not a pointer to elsewhere)."""
        kind = self.descriptor.get("type")
        if kind == "uploader-v2":
            return self.descriptor.get("sub-type") == "uploaded"
        return kind in _UPLOADED

    def __repr__(self) -> str:
        return f"IncludedFile({self.url!r})"


@dataclass(frozen=True, slots=True)
class IncludedContent:
    """An included file's bytes (at most the cap asked for) and how to show them."""

    data: bytes
    is_text: bool
    encoding: str

    @property
    def size(self) -> int:
        return len(self.data)

    def text(self) -> str:
        """As the client decodes it (an undecodable byte becomes U+FFFD, not an error)."""
        return self.data.decode(self.encoding, errors="replace")


def content_key(ref: IncludedFileRef, flow: str) -> tuple[str, str, str]:
    """("data", flow, sha1): where under the datatools root the content must be.

    Only files Metaflow uploaded itself are read, and only at the place it puts them: a
    descriptor is data from the run, so it must not steer a read anywhere else.
    """
    url = ref.url
    if not ref.uploaded or url is None:
        raise NotFoundError("the included file is not in the run's datastore")
    parts = url.rstrip("/").rsplit("/", 3)
    if len(parts) != 4 or parts[1:] != ["data", flow, parts[3]] or not _SHA1.fullmatch(parts[3]):
        raise NotFoundError("the included file is not where Metaflow puts included files")
    return "data", flow, parts[3]
