"""The artifact store: logs and results by key. Filesystem now; S3 comes behind the same calls."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class ArtifactStore:
    """Keys look like `runs/<run id>/log`; writes are atomic (readers never see half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"bad artifact key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, source: Path, limit: int | None = None) -> int:
        """Copy a file in (its first `limit` bytes); returns the bytes stored."""
        with source.open("rb") as handle:
            data = handle.read() if limit is None else handle.read(limit)
        self.put(key, data)
        return len(data)

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
