"""One suite for both artifact stores: the filesystem and S3 (moto's server on loopback)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.s3store import S3Store, parse_url
from shared.store import ArtifactStore, FileStore, StreamingLog, open_store
from tests import moto

MiB = 1024 * 1024


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "file":
        yield ArtifactStore(tmp_path)
        return
    yield S3Store(moto.client("s3"), moto.new_bucket(), "tessera/a", part_size=5 * MiB)


def test_put_get_and_size(store: ArtifactStore) -> None:
    store.put("runs/abc/log", b"hello")
    assert store.get("runs/abc/log") == b"hello"
    assert store.size("runs/abc/log") == 5
    assert store.get("runs/missing/log") is None
    assert store.size("runs/missing/log") is None
    assert store.chunks("runs/missing/log") is None


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "runs/../../x", "", "a//b"])
def test_bad_keys_are_refused(store: ArtifactStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_streaming_log_is_readable_while_written(store: ArtifactStore) -> None:
    sink = StreamingLog(store, "builds/b/log", interval=0)
    sink.write("one\n")
    assert store.get("builds/b/log") == b"one\n"
    sink.write("two\n")
    sink.flush()
    assert store.get("builds/b/log") == b"one\ntwo\n"


class _Reader(io.RawIOBase):
    """A source that never holds the whole object: gives pseudo-random bytes, counted, and
    refuses a read larger than `most` (a store that reads the whole file at once fails)."""

    def __init__(self, total: int, most: int) -> None:
        self.left, self.most, self.biggest = total, most, 0
        self.block = os.urandom(64 * 1024)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self.left)
        assert want <= self.most, f"read of {want} bytes: the store reads too much at once"
        self.biggest = max(self.biggest, want)
        data = (self.block * (want // len(self.block) + 1))[:want]
        buffer[:want] = data
        self.left -= want
        return want


def test_large_objects_stream_in_parts(store: ArtifactStore, tmp_path: Path) -> None:
    source = _Reader(12 * MiB + 123, most=8 * MiB)
    stored = store.put_stream("artifacts/big.tar.gz", io.BufferedReader(source, 64 * 1024))
    assert stored == 12 * MiB + 123
    assert store.size("artifacts/big.tar.gz") == stored
    target = tmp_path / "out" / "big.tar.gz"
    assert store.get_file("artifacts/big.tar.gz", target)
    assert target.stat().st_size == stored
    parts = store.chunks("artifacts/big.tar.gz", MiB)
    assert parts is not None and max(len(p) for p in parts) <= MiB
    assert not store.get_file("artifacts/none", tmp_path / "none")


def test_put_file_streams_and_caps(store: ArtifactStore, tmp_path: Path) -> None:
    path = tmp_path / "src.bin"
    path.write_bytes(b"x" * (6 * MiB))
    assert store.put_file("runs/r/stdout", path, limit=5 * MiB + 1) == 5 * MiB + 1
    assert store.size("runs/r/stdout") == 5 * MiB + 1
    assert store.put_file("runs/r/all", path) == 6 * MiB
    assert store.get("runs/r/all") == path.read_bytes()


def test_list_and_delete(store: ArtifactStore) -> None:
    store.put("ec2/t/a/result.json", b"{}")
    store.put("ec2/t/a/log.0001", b"12")
    store.put("ec2/t/b/log.0001", b"3")
    store.put("other/x", b"x")
    assert store.list("ec2/t/") == {
        "ec2/t/a/result.json": 2,
        "ec2/t/a/log.0001": 2,
        "ec2/t/b/log.0001": 1,
    }
    store.delete("ec2/t/a/log.0001")
    assert "ec2/t/a/log.0001" not in store.list("ec2/t")
    assert store.list("nothing/") == {}


def test_presigned_links(store: ArtifactStore) -> None:
    store.put("runs/r/result.json", b'{"ok": true}')
    link = store.url("runs/r/result.json", 60)
    if isinstance(store, FileStore):
        assert link is None  # the API streams it itself
        return
    assert link is not None
    assert httpx.get(link, timeout=10).content == b'{"ok": true}'
    put = store.url("runs/r/up", 60, method="put")
    assert put is not None
    assert httpx.put(put, content=b"uploaded", timeout=10).status_code == 200
    assert store.get("runs/r/up") == b"uploaded"


def test_open_store_by_url(settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import reset_settings

    assert isinstance(open_store(settings), FileStore)  # type: ignore[arg-type]
    monkeypatch.setenv("TESSERA_ARTIFACT_STORE", "s3://bucket-x/some/prefix")
    monkeypatch.setenv("TESSERA_S3_ENDPOINT_URL", moto.MOTO_URL)
    monkeypatch.setenv("TESSERA_S3_REGION", "eu-west-1")
    reset_settings()
    from shared.config import get_settings

    made = open_store(get_settings())
    assert isinstance(made, S3Store)
    assert (made.bucket, made.prefix) == ("bucket-x", "some/prefix")
    assert parse_url("s3://b") == ("b", "")
    with pytest.raises(ValueError):
        parse_url("s3://b/../x")
    with pytest.raises(ValueError):
        parse_url("http://b/x")
