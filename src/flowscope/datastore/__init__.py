"""Readers for what Metaflow leaves in its datastore: logs, artifacts and cards.

The errors live here so that every reader (local disk today, S3 later) raises the same
types and the API can map them to HTTP answers in one place.
"""

from __future__ import annotations


class DatastoreError(Exception):
    """Base class for every error raised while reading a Metaflow datastore."""


class NotFoundError(DatastoreError):
    """The object does not exist, or the request named it in an unsafe way.

    Unsafe names (``..``, separators, symlinks that leave the root) are reported as
    missing on purpose: the caller learns nothing about the file system around the root.
    """


__all__ = ["DatastoreError", "NotFoundError"]
