"""The blob store of uploaded files: bytes kept under their SHA-256, checked on the way out.

Two kinds, chosen by ``BLOB_STORE_URL``: a directory (the default, ``var/blobs``; a plain path
or ``file:///abs/path``) and an S3-compatible bucket (``s3://bucket/optional/prefix``, with
``BLOB_STORE_S3_ENDPOINT`` for MinIO or another non-AWS server; credentials and region the way
boto3 reads them, e.g. ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``).

Nothing is held whole in memory: ``put`` hashes and writes chunk by chunk to a temporary file
(in the store's directory, or the system's temporary directory for S3) and only then moves it
under its hash; ``open_verified`` hashes the whole blob before handing back a file positioned
at its start, so a blob whose bytes no longer match its name is refused, never served.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from nameko.extensions import DependencyProvider

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


class BlobCorrupt(Exception):
    """A blob's bytes do not match the SHA-256 it is stored under (or it is gone)."""

    def __init__(self, sha256: str, reason: str) -> None:
        super().__init__(f"blob {sha256}: {reason}")
        self.sha256 = sha256
        self.reason = reason


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


class BlobStore(Protocol):
    def put(self, chunks: Iterable[bytes]) -> StoredBlob: ...

    def open_verified(self, sha256: str, size: int) -> IO[bytes]: ...


def _spool(chunks: Iterable[bytes], directory: str | None) -> tuple[Any, StoredBlob]:
    """Write the chunks to a named temporary file, hashing as they come."""
    digest = hashlib.sha256()
    size = 0
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix="upload-", delete=False)  # noqa: SIM115
    try:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
        handle.flush()
    except BaseException:
        handle.close()
        os.unlink(handle.name)
        raise
    return handle, StoredBlob(digest.hexdigest(), size)


def _verify(handle: IO[bytes], sha256: str, size: int) -> IO[bytes]:
    """Hash the whole file; hand it back at its start if it is what its name says."""
    digest = hashlib.sha256()
    seen = 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        seen += len(chunk)
    if seen != size or digest.hexdigest() != sha256:
        handle.close()
        raise BlobCorrupt(sha256, f"holds {seen} bytes hashing to {digest.hexdigest()}")
    handle.seek(0)
    return handle


class DirectoryBlobStore:
    """Blobs as files ``<root>/<first two hex digits>/<sha256>``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, chunks: Iterable[bytes]) -> StoredBlob:
        handle, blob = _spool(chunks, str(self.tmp))
        handle.close()
        target = self.path(blob.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(handle.name, target)  # same bytes under the same name: replacing is harmless
        return blob

    def open_verified(self, sha256: str, size: int) -> IO[bytes]:
        try:
            handle = self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobCorrupt(sha256, "is missing") from None
        return _verify(handle, sha256, size)


class S3BlobStore:
    """Blobs as objects ``<prefix><sha256>`` in a bucket of an S3-compatible store."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256}"

    def put(self, chunks: Iterable[bytes]) -> StoredBlob:
        handle, blob = _spool(chunks, None)
        try:
            handle.seek(0)
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(blob.sha256),
                Body=handle,
                ContentLength=blob.size,
                ContentType="application/octet-stream",
            )
        finally:
            handle.close()
            os.unlink(handle.name)
        return blob

    def open_verified(self, sha256: str, size: int) -> IO[bytes]:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobCorrupt(sha256, "is missing") from None
            raise
        body = answer["Body"]
        # a local copy to hash before serving (the object could change between two reads)
        handle = tempfile.TemporaryFile(prefix="download-")  # noqa: SIM115
        try:
            while chunk := body.read(CHUNK):
                handle.write(chunk)
        except BaseException:
            handle.close()
            raise
        finally:
            body.close()
        handle.seek(0)
        return _verify(handle, sha256, size)


def open_store(url: str, *, s3_endpoint: str | None = None) -> BlobStore:
    """The store ``url`` names: ``s3://bucket/prefix``, ``file:///path`` or a plain path."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        import boto3

        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        client = boto3.client("s3", endpoint_url=s3_endpoint or None)
        return S3BlobStore(client, parts.netloc, prefix)
    if parts.scheme == "file":
        return DirectoryBlobStore(parts.path)
    if parts.scheme:
        raise ValueError(f"BLOB_STORE_URL: unknown scheme {parts.scheme!r} (s3, file or a path)")
    return DirectoryBlobStore(url)


class BlobStoreProvider(DependencyProvider):
    """The gateway's blob store as a nameko dependency, opened once at setup from
    ``BLOB_STORE_URL`` and ``BLOB_STORE_S3_ENDPOINT``."""

    store: BlobStore | None = None

    def setup(self) -> None:
        config = self.container.config
        self.store = open_store(
            str(config.get("BLOB_STORE_URL") or "var/blobs"),
            s3_endpoint=config.get("BLOB_STORE_S3_ENDPOINT") or None,
        )

    def get_dependency(self, worker_ctx: Any) -> BlobStore:
        assert self.store is not None
        return self.store
