from __future__ import annotations

from pathlib import Path

import pytest

from shared.store import ArtifactStore, StreamingLog


def test_put_get_and_size(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    store.put("runs/abc/log", b"hello")
    assert store.get("runs/abc/log") == b"hello"
    assert store.size("runs/abc/log") == 5
    assert store.get("runs/missing/log") is None
    assert store.size("runs/missing/log") is None


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "runs/../../x", "", "a//b"])
def test_bad_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        ArtifactStore(tmp_path).put(key, b"x")


def test_streaming_log_is_readable_while_written(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    sink = StreamingLog(store, "builds/b/log", interval=0)
    sink.write("one\n")
    assert store.get("builds/b/log") == b"one\n"
    sink.write("two\n")
    sink.flush()
    assert store.get("builds/b/log") == b"one\ntwo\n"
