"""Archives that attack extraction, built for the tests (unit and integration)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

TEN_GIB = 10 * 1024**3


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def zip_slip(path: Path) -> tuple[Path, str]:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.c", "int main(){return 0;}\n")
        archive.writestr("../../etc/x", "pwned\n")
    return path, "../../etc/x"


def absolute(path: Path) -> tuple[Path, str]:
    return _tar(path, [_file("src/a.c", b"x"), _file("/etc/tessera-x", b"pwned")]), "/etc/tessera-x"


def symlink_write(path: Path) -> tuple[Path, str]:
    """A symlink to /etc/passwd, then a file written through it."""
    members = [_link("passwd", "/etc/passwd", tarfile.SYMTYPE), _file("passwd", b"root::0:0\n")]
    return _tar(path, members), "passwd"


def symlink_dir_write(path: Path) -> tuple[Path, str]:
    """A symlink inside the tree, then a file under it (the parent check)."""
    members = [_link("d", ".", tarfile.SYMTYPE), _file("d/x", b"x")]
    return _tar(path, members), "d/x"


def hardlink_out(path: Path) -> tuple[Path, str]:
    return _tar(path, [_link("shadow", "/etc/shadow", tarfile.LNKTYPE)]), "shadow"


def fifo(path: Path) -> tuple[Path, str]:
    info = tarfile.TarInfo("pipe")
    info.type = tarfile.FIFOTYPE
    return _tar(path, [(info, None)]), "pipe"


def duplicate(path: Path) -> tuple[Path, str]:
    return _tar(path, [_file("a", b"1"), _file("a", b"2")]), "a"


def bomb(path: Path) -> tuple[Path, str]:
    """A zip of about 1 KiB whose directory says it expands to 10 GiB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros", b"\0" * 1024)
        archive.filelist[0].file_size = TEN_GIB  # written into the central directory
    return path, "zeros"


def deflate_bomb(path: Path, size: int = 64 * 1024 * 1024) -> tuple[Path, str]:
    """Zeros compressed about 1000:1, declared honestly."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("zeros", "w", force_zip64=True) as out:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(size // len(chunk)):
                out.write(chunk)
    return path, "zeros"


def many(path: Path, count: int = 100_000) -> tuple[Path, str]:
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(count):
            archive.writestr(f"e{index}", b"")
    return path, "e"


def not_utf8(path: Path) -> tuple[Path, str]:
    """A tar entry named with Latin-1 bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT, encoding="latin-1") as t:
        info, data = _file("caf\xe9.c", b"x")
        t.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return path, "caf"


ATTACKS = {
    "zip_slip": (zip_slip, "zip"),
    "absolute": (absolute, "tar"),
    "symlink_write": (symlink_write, "tar"),
    "hardlink_out": (hardlink_out, "tar"),
    "bomb": (bomb, "zip"),
    "many": (many, "zip"),
}
