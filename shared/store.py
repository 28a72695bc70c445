"""The artifact store: logs, results, uploaded sources and packaged artifacts, by key.

One interface (`ArtifactStore`) with two implementations: the filesystem (`file://`, the
embedded default: `FileStore`) and S3 through boto3 (`s3://bucket/prefix`: `shared.s3store`).
`open_store(settings)` makes the configured one. Everything streams: a file goes in and comes
out in chunks, never whole in memory (S3 in multipart uploads above a threshold); `url` hands
out a presigned link where the store has one (S3), None where the API must stream it itself.
`ArtifactStore(root)` still makes a filesystem store, as every caller before S3 did.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from shared.config import Settings

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
CHUNK = 1024 * 1024


def check_key(key: str) -> str:
    """`key` when it is a store key (`runs/<id>/log`: no empty, dot-dot or odd parts)."""
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"bad artifact key {key!r}")
    return key


class _Capped:
    """A reader that gives at most `limit` bytes of `source` (all of it when None)."""

    def __init__(self, source: BinaryIO, limit: int | None) -> None:
        self.source, self.left = source, limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if self.left is not None:
            size = self.left if size < 0 else min(size, self.left)
        data = self.source.read(size if size >= 0 else -1)
        self.count += len(data)
        if self.left is not None:
            self.left -= len(data)
        return data


class ArtifactStore(ABC):
    """Keys look like `runs/<run id>/log`; writes are atomic (readers never see half an
    object). The interface every store implements; `ArtifactStore(root)` is a `FileStore`."""

    def __new__(cls, *args: Any, **kwargs: Any) -> ArtifactStore:
        if cls is ArtifactStore:
            return super().__new__(FileStore)
        return super().__new__(cls)

    # ---- writes ----------------------------------------------------------------------------

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def put_stream(self, key: str, source: BinaryIO, limit: int | None = None) -> int:
        """Store what `source` reads (its first `limit` bytes), in chunks; the bytes stored."""
        ...

    def put_file(self, key: str, source: Path, limit: int | None = None) -> int:
        """Copy a file in (its first `limit` bytes), streamed; returns the bytes stored."""
        with source.open("rb") as handle:
            return self.put_stream(key, handle, limit)

    @abstractmethod
    def delete(self, key: str) -> None: ...

    # ---- reads -----------------------------------------------------------------------------

    @abstractmethod
    def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    def size(self, key: str) -> int | None: ...

    @abstractmethod
    def chunks(self, key: str, chunk: int = CHUNK) -> Iterator[bytes] | None:
        """The object in chunks of at most `chunk` bytes, or None when there is none."""
        ...

    def get_file(self, key: str, target: Path) -> bool:
        """Stream the object into `target` (written whole or not at all); False if none."""
        parts = self.chunks(key)
        if parts is None:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for part in parts:
                    handle.write(part)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    @abstractmethod
    def list(self, prefix: str) -> dict[str, int]:
        """Every key under `prefix` (a folder: `runs/<id>/`) with its size, in one listing."""
        ...

    def url(self, key: str, expires_s: int = 3600, method: str = "get") -> str | None:
        """A presigned link to GET (or PUT) the object, where the store has them; else None."""
        return None


class FileStore(ArtifactStore):
    """The filesystem: each key a file under `root`, written through a temporary file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        self._write(key, lambda handle: handle.write(data))

    def put_stream(self, key: str, source: BinaryIO, limit: int | None = None) -> int:
        reader = _Capped(source, limit)

        def copy(handle: BinaryIO) -> None:
            shutil.copyfileobj(reader, handle, CHUNK)

        self._write(key, copy)
        return reader.count

    def _write(self, key: str, write: Any) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def chunks(self, key: str, chunk: int = CHUNK) -> Iterator[bytes] | None:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            return None

        def read() -> Iterator[bytes]:
            with handle:
                yield from iter(lambda: handle.read(chunk), b"")

        return read()

    def list(self, prefix: str) -> dict[str, int]:
        folder = self.root / check_key(prefix.rstrip("/")) if prefix.strip("/") else self.root
        found: dict[str, int] = {}
        if not folder.is_dir():
            return found
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                found[path.relative_to(self.root).as_posix()] = path.stat().st_size
        return found


def open_store(settings: Settings) -> ArtifactStore:
    """The store TESSERA_ARTIFACT_STORE names: `file://PATH` (default: HOME/artifacts) or
    `s3://BUCKET/PREFIX`."""
    where = settings.artifact_store or f"file://{settings.home / 'artifacts'}"
    if where.startswith("s3://"):
        from shared.s3store import S3Store

        return S3Store.from_settings(settings)
    return FileStore(settings.artifact_root)


def run_log_key(run_id: object) -> str:
    return f"runs/{run_id}/log"


def run_result_key(run_id: object) -> str:
    return f"runs/{run_id}/result.json"


def build_log_key(build_id: object) -> str:
    return f"builds/{build_id}/log"


class StreamingLog:
    """A log written while work runs: readers see it grow, at most every `interval` seconds."""

    def __init__(self, store: ArtifactStore, key: str, interval: float = 1.0) -> None:
        self._store, self._key, self._interval = store, key, interval
        self._data = bytearray()
        self._flushed_at = 0.0

    def write(self, text: str) -> None:
        self._data += text.encode(errors="replace")
        now = time.monotonic()
        if now - self._flushed_at >= self._interval:
            self.flush()

    def flush(self) -> None:
        self._store.put(self._key, bytes(self._data))
        self._flushed_at = time.monotonic()
