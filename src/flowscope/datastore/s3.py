"""A Metaflow datastore in S3 (or an S3-compatible server), read with boto3.

Credentials come from boto3's usual chain (environment, profile, instance or container
role). The endpoint is `METAFLOW_S3_ENDPOINT_URL`, else `AWS_ENDPOINT_URL_S3` /
`AWS_ENDPOINT_URL` (boto3 reads those itself), else AWS. boto3 is imported only when an
S3 run is first read, so the plain install does not need it (`pip install 'flowscope[team]'`).

Every request has connect and read timeouts and at most one retry; big objects are read
in ranges, and a log bigger than `log_window` only from its tail. When the endpoint does
not answer, reads fail at once for a few seconds (instead of each waiting out the
timeouts) with `DatastoreUnavailable`, which the API turns into a 503.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from flowscope.datastore import (
    DatastoreError,
    DatastoreUnavailable,
    DatastoreUnsupported,
    NotFoundError,
)
from flowscope.datastore.base import Blob, BlobStat
from flowscope.datastore.layout import MetaflowDatastore, SizedCache, check_id
from flowscope.datastore.safe_pickle import PayloadTooLarge

log = logging.getLogger(__name__)

ENDPOINT_ENV = ("METAFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
# Metaflow stores its per-object attributes (cas_raw, cas_version) as this user metadata.
ATTRIBUTES_KEY = "metaflow-user-attributes"
_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})
_DENIED = frozenset({"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"})


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None = None
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    range_bytes: int = 8 << 20  # one GET reads at most this much
    log_window: int = 32 << 20  # bytes read from the end of a bigger log
    blob_cache_bytes: int = 128 << 20  # artifact blobs are content-addressed: immutable
    down_for_s: float = 5.0  # after a failure to connect, fail fast this long

    @classmethod
    def from_env(cls, environ: Any = os.environ) -> S3Settings:
        endpoint = next((environ[name] for name in ENDPOINT_ENV if environ.get(name)), None)
        return cls(endpoint_url=endpoint)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix without slashes at either end) of `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise DatastoreError(f"not an S3 URL: {url!r}")
    return parsed.netloc, parsed.path.strip("/")


class S3Blobs:
    """Objects under `s3://bucket/prefix`, as a `BlobStore`."""

    def __init__(self, root: str, settings: S3Settings | None = None) -> None:
        self.bucket, self.prefix = parse_s3_url(root)
        check_id("bucket", self.bucket)
        for part in self.prefix.split("/") if self.prefix else ():
            check_id("prefix", part)
        self.settings = settings or S3Settings.from_env()
        self.log_window: int | None = self.settings.log_window
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._down_until = 0.0
        self._blobs = SizedCache(max_entries=4096, max_bytes=self.settings.blob_cache_bytes)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    # -- the client and its errors ----------------------------------------------------

    def _s3(self) -> Any:
        with self._client_lock:
            if self._client is None:
                try:
                    import boto3
                    from botocore.config import Config
                except ImportError as error:
                    raise DatastoreUnsupported(
                        "this run's data is in S3, and reading S3 needs boto3: "
                        "pip install 'flowscope[team]'"
                    ) from error
                config = Config(
                    connect_timeout=self.settings.connect_timeout_s,
                    read_timeout=self.settings.read_timeout_s,
                    retries={"max_attempts": 2, "mode": "standard"},
                    max_pool_connections=16,
                )
                self._client = boto3.session.Session().client(
                    "s3", endpoint_url=self.settings.endpoint_url, config=config
                )
            return self._client

    def _call(self, what: str, operation: str, **params: Any) -> Any:
        if time.monotonic() < self._down_until:
            raise DatastoreUnavailable(f"{self.location} cannot be reached (tried moments ago)")
        client = self._s3()
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return getattr(client, operation)(Bucket=self.bucket, **params)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise NotFoundError(f"{what} not found") from error
            if code == "InvalidRange":
                raise _EmptyRange from error
            if code in _DENIED:
                raise DatastoreUnavailable(
                    f"S3 refused to read {self.location} ({code}): check the credentials "
                    "flowscope runs with"
                ) from error
            raise DatastoreError(f"S3 error reading {what}: {code or error}") from error
        except NoCredentialsError as error:
            raise DatastoreUnavailable(
                f"no AWS credentials to read {self.location} (set AWS_ACCESS_KEY_ID / "
                "AWS_PROFILE, or run with a role)"
            ) from error
        except BotoCoreError as error:
            self._down_until = time.monotonic() + self.settings.down_for_s
            log.warning("S3 unreachable at %s: %s", self.location, error)
            raise DatastoreUnavailable(f"{self.location} cannot be reached: {error}") from error

    def _key(self, *parts: str) -> str:
        for part in parts:
            check_id("key", part)
        return "/".join((self.prefix, *parts)) if self.prefix else "/".join(parts)

    # -- BlobStore --------------------------------------------------------------------

    def listing(self, *folder: str) -> dict[str, BlobStat]:
        prefix = self._key(*folder) + "/"
        found: dict[str, BlobStat] = {}
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Prefix": prefix, "Delimiter": "/", "MaxKeys": 1000}
            if token:
                params["ContinuationToken"] = token
            try:
                page = self._call("/".join(folder), "list_objects_v2", **params)
            except NotFoundError:
                return {}
            for item in page.get("Contents") or ():
                name = item["Key"][len(prefix) :]
                if name:  # S3 lists objects in key order, as the client sees them
                    found[name] = BlobStat(int(item["Size"]), str(item.get("ETag", "")))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found

    def read(self, *key: str, start: int = 0, max_bytes: int | None = None) -> bytes:
        """Read in ranges of `range_bytes`, so no single request carries a huge body."""
        name = self._key(*key)
        chunks: list[bytes] = []
        position, end = start, None if max_bytes is None else start + max_bytes
        while end is None or position < end:
            last = position + self.settings.range_bytes - 1
            if end is not None:
                last = min(last, end - 1)
            try:
                answer = self._call(
                    key[-1], "get_object", Key=name, Range=f"bytes={position}-{last}"
                )
            except _EmptyRange:
                break  # at or past the end (an empty object answers every range so)
            body = answer["Body"]
            try:
                chunk = body.read()
            except Exception as error:  # a read timeout or a reset half way through
                raise DatastoreUnavailable(f"reading {key[-1]} was cut off: {error}") from error
            finally:
                body.close()
            chunks.append(chunk)
            position += len(chunk)
            total = _total_size(answer.get("ContentRange"))
            if not chunk or total is None or position >= total:
                break
        return b"".join(chunks)

    def read_blob(self, *key: str, max_bytes: int) -> Blob:
        name = self._key(*key)
        cached = self._blobs.get(name)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        head = self._call(key[-1], "head_object", Key=name)
        size = int(head.get("ContentLength", 0))
        if size > max_bytes:
            raise PayloadTooLarge(f"artifact is over the {max_bytes} byte limit")
        data = self.read(*key, max_bytes=size) if size else b""
        try:
            meta = json.loads(head.get("Metadata", {}).get(ATTRIBUTES_KEY) or "{}")
        except ValueError as error:
            raise DatastoreError("malformed artifact attributes") from error
        blob = Blob(data, meta if isinstance(meta, dict) else {})
        self._blobs.put(name, blob, len(data) + 256)
        return blob

    def blob_key(self, location: str) -> tuple[str, ...] | None:
        try:
            bucket, path = parse_s3_url(location)
        except DatastoreError:
            return None
        root = f"{self.prefix}/" if self.prefix else ""
        if bucket != self.bucket or not path.startswith(root):
            return None
        parts = tuple(path[len(root) :].split("/"))
        try:
            for part in parts:
                check_id("key", part)
        except NotFoundError:
            return None
        return parts


class _EmptyRange(Exception):
    """S3 answered 416: nothing at or after the requested offset."""


def _total_size(content_range: str | None) -> int | None:
    """The object size from `bytes 0-99/1234`."""
    if not content_range or "/" not in content_range:
        return None
    total = content_range.rsplit("/", 1)[1]
    return int(total) if total.isdigit() else None


class S3Datastore(MetaflowDatastore):
    """The Metaflow datastore under one `s3://bucket/prefix` (a run's `ds-root`)."""

    def __init__(self, root: str, settings: S3Settings | None = None) -> None:
        self.s3 = S3Blobs(root, settings)
        # An ended attempt's files are not rewritten: skip listing them again.
        super().__init__(self.s3, final_is_immutable=True)
