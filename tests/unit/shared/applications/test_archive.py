from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from shared.applications import archive
from tests.unit.shared.applications import attacks

LIMITS = archive.Limits(max_entries=50_000, max_bytes=1024**3, max_ratio=200)


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in files.items():
            out.writestr(name, data)
    return path


def test_a_plain_zip_is_summed(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {"Makefile": b"all:\n", "src/main.c": b"int main;\n"})
    summary = archive.check(path, "zip", LIMITS)
    assert (summary.kind, summary.file_count, summary.expanded_bytes) == ("zip", 2, 15)


def test_a_tar_gz_with_inner_links_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as out:
        for name, data in (("src/a.c", b"abc"),):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("src/b.c")
        link.type, link.linkname = tarfile.SYMTYPE, "a.c"
        out.addfile(link)
        hard = tarfile.TarInfo("c.c")
        hard.type, hard.linkname = tarfile.LNKTYPE, "src/a.c"
        out.addfile(hard)
    summary = archive.check(path, "tar", LIMITS)
    assert summary.file_count == 2 and summary.entries == 3


@pytest.mark.parametrize(
    ("make", "kind", "reason"),
    [
        (attacks.zip_slip, "zip", "'..' component"),
        (attacks.absolute, "tar", "absolute path"),
        (attacks.symlink_write, "tar", "leaves the tree"),
        (attacks.symlink_dir_write, "tar", "goes through the symlink"),
        (attacks.hardlink_out, "tar", "hardlink"),
        (attacks.fifo, "tar", "device file or FIFO"),
        (attacks.duplicate, "tar", "duplicate name"),
        (attacks.bomb, "zip", "bytes expanded"),
        (attacks.not_utf8, "tar", "not valid UTF-8"),
    ],
)
def test_attacks_are_refused_naming_the_entry(
    tmp_path: Path, make: Any, kind: str, reason: str
) -> None:
    path, entry = make(tmp_path / f"attack.{kind}")
    with pytest.raises(archive.Refused) as refused:
        archive.check(path, kind, LIMITS)
    assert entry in refused.value.entry
    assert reason in refused.value.reason


def test_a_high_ratio_is_refused(tmp_path: Path) -> None:
    path, entry = attacks.deflate_bomb(tmp_path / "bomb.zip")
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(archive.Refused, match="compression ratio") as refused:
        archive.check(path, "zip", LIMITS)
    assert refused.value.entry == entry


def test_too_many_entries(tmp_path: Path) -> None:
    path, _ = attacks.many(tmp_path / "many.zip", 300)
    with pytest.raises(archive.Refused, match="more than 200 entries") as refused:
        archive.check(path, "zip", archive.Limits(200, 1024**3, 200))
    assert refused.value.entry == "e200"


def test_the_true_size_counts_not_the_declared_one(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {"big": b"x" * 5000})
    with pytest.raises(archive.Refused, match="more than 4096 bytes"):
        archive.check(path, "zip", archive.Limits(10, 4096, 1e9))


def test_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"not an archive")
    with pytest.raises(archive.Refused, match="not a readable zip"):
        archive.check(path, "zip", LIMITS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a/./b", "a/b"), ("a//b/", "a/b"), (".", ".")],
)
def test_safe_name(name: str, expected: str) -> None:
    assert archive.safe_name(name) == expected


@pytest.mark.parametrize("name", ["/x", "C:/x", "\\x", "a/../b", "a\x00b"])
def test_unsafe_names(name: str) -> None:
    with pytest.raises(archive.Refused):
        archive.safe_name(name)


def test_media_types() -> None:
    assert archive.kind_of("application/zip") == "zip"
    assert archive.kind_of("application/gzip; charset=binary") == "tar"
    assert archive.kind_of("text/plain") is None
