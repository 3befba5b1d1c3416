"""Readers for what Metaflow leaves in its datastore: logs, artifacts and cards.

The errors live here so that every reader (a local folder, S3, later Azure or GCS) raises
the same types and the API maps them to HTTP answers in one place (`api/app.py`).
"""

from __future__ import annotations


class DatastoreError(Exception):
    """Base class for every error raised while reading a Metaflow datastore."""


class NotFoundError(DatastoreError):
    """The object does not exist, or the request named it in an unsafe way.

    Unsafe names (``..``, separators, symlinks that leave the root) are reported as
    missing on purpose: the caller learns nothing about the storage around the root.
    """


class DatastoreUnavailable(DatastoreError):
    """The storage could not be reached in time (network, credentials, a dead endpoint).

    The index still knows the run; only its logs, artifacts and cards cannot be shown
    now. The API answers 503 with this message.
    """


class DatastoreUnsupported(DatastoreError):
    """The run's data lives in a kind of storage flowscope cannot read yet (Azure, GCS).

    The API answers 501 with this message.
    """


__all__ = ["DatastoreError", "DatastoreUnavailable", "DatastoreUnsupported", "NotFoundError"]
