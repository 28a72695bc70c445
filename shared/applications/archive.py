"""Safe-extraction checks for an application's source archive, before anything is kept.

An archive (zip, tar, tar.gz) is read entry by entry from a file on disk, never whole in
memory; every file is decompressed and counted (declared sizes can lie), and the first entry
that would be unsafe to extract is refused with its name and the reason: absolute paths, `..`
components, links that leave the tree, a path through a symlink of the archive, devices and
FIFOs, duplicate names, names that are not UTF-8, too many entries, too many bytes expanded,
a compression ratio over the limit (zip bombs).

Nodes extract the same archive again with `shared/applications/node_build.py`, which repeats
the path checks (stdlib only); what reaches a node has passed these checks.
"""

from __future__ import annotations

import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

READ_CHUNK = 1024 * 1024
# Below this many bytes expanded, an archive's ratio is not judged (tiny files compress well).
RATIO_FLOOR_BYTES = 16 * 1024 * 1024

ZIP = "zip"
TAR = "tar"
MEDIA_TYPES = {
    "application/zip": ZIP,
    "application/x-zip-compressed": ZIP,
    "application/gzip": TAR,
    "application/x-gzip": TAR,
    "application/x-tar": TAR,
    "application/x-gtar": TAR,
}


@dataclass(frozen=True)
class Limits:
    max_entries: int
    max_bytes: int
    max_ratio: float


@dataclass(frozen=True)
class Summary:
    """What a checked archive holds."""

    kind: str  # "zip" or "tar"
    file_count: int
    entries: int
    expanded_bytes: int


class Refused(Exception):
    """The archive is not safe to extract: `entry` (its name as the archive gives it) and why."""

    def __init__(self, entry: str, reason: str) -> None:
        super().__init__(f"{entry}: {reason}")
        self.entry = entry
        self.reason = reason


def kind_of(media_type: str) -> str | None:
    """The archive kind a Content-Type names, or None."""
    return MEDIA_TYPES.get(media_type.split(";")[0].strip().lower())


def safe_name(name: str) -> str:
    """The entry's normalised relative path; Refused when it is absolute or climbs out."""
    if "\x00" in name:
        raise Refused(name, "the name contains NUL")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise Refused(name, "absolute path")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise Refused(name, "'..' component")
    clean = posixpath.normpath("/".join(part for part in parts if part not in ("", ".")))
    if clean in ("", "."):
        return "."
    return clean


def _inside(base_dir: str, target: str) -> bool:
    """Whether link `target`, read from folder `base_dir` of the tree, stays in the tree."""
    if target.startswith("/") or not target:
        return False
    depth = 0
    for part in posixpath.join(base_dir, target).split("/"):
        if part in ("", "."):
            continue
        depth += -1 if part == ".." else 1
        if depth < 0:
            return False
    return True


class _Tree:
    """The names seen so far: duplicates, paths through symlinks, totals."""

    def __init__(self, limits: Limits, compressed: int) -> None:
        self.limits, self.compressed = limits, compressed
        self.names: set[str] = set()
        self.links: set[str] = set()
        self.entries = 0
        self.files = 0
        self.expanded = 0

    def add(self, raw: str, name: str, *, directory: bool = False) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise Refused(raw, f"more than {self.limits.max_entries} entries")
        if name in self.names and not directory:
            raise Refused(raw, "duplicate name")
        parent = posixpath.dirname(name)
        while parent:
            if parent in self.links:
                raise Refused(raw, f"its path goes through the symlink {parent}")
            parent = posixpath.dirname(parent)
        self.names.add(name)

    def count(self, raw: str, size: int) -> None:
        self.expanded += size
        if self.expanded > self.limits.max_bytes:
            raise Refused(raw, f"more than {self.limits.max_bytes} bytes expanded")
        if self.expanded > RATIO_FLOOR_BYTES and self.expanded > self.limits.max_ratio * max(
            self.compressed, 1
        ):
            raise Refused(raw, f"compression ratio over {self.limits.max_ratio:g}")


def _utf8(raw: bytes, shown: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(shown, "the name is not valid UTF-8") from None


def _drain(handle: IO[bytes], tree: _Tree, raw: str) -> int:
    total = 0
    for chunk in iter(lambda: handle.read(READ_CHUNK), b""):
        total += len(chunk)
        tree.count(raw, len(chunk))
    return total


def _zip_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:
        return info.filename
    try:  # zipfile decoded a name without the UTF-8 flag as cp437: the bytes it was
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.orig_filename
    return _utf8(raw, info.orig_filename)


def check_zip(path: Path, limits: Limits) -> Summary:
    tree = _Tree(limits, path.stat().st_size)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise Refused("(archive)", f"not a readable zip: {error}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise Refused(
                infos[limits.max_entries].filename, f"more than {limits.max_entries} entries"
            )
        declared = 0
        for info in infos:  # the central directory's own claims, before reading any data
            declared += info.file_size
            if declared > limits.max_bytes:
                raise Refused(info.filename, f"more than {limits.max_bytes} bytes expanded")
        for info in infos:
            raw = _zip_name(info)
            name = safe_name(raw)
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode) if info.create_system == 3 and mode else 0
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
                raise Refused(raw, "device file or FIFO")
            tree.add(raw, name, directory=info.is_dir())
            if info.is_dir():
                continue
            try:
                with archive.open(info) as handle:
                    if kind == stat.S_IFLNK:
                        target = handle.read(4097).decode("utf-8", "replace")
                        if not _inside(posixpath.dirname(name), target):
                            raise Refused(raw, f"symlink to {target} leaves the tree")
                        tree.links.add(name)
                        continue
                    _drain(handle, tree, raw)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as error:
                raise Refused(raw, f"cannot be read: {error}") from None
            except NotImplementedError as error:
                raise Refused(raw, f"unsupported compression: {error}") from None
            tree.files += 1
    return Summary(ZIP, tree.files, tree.entries, tree.expanded)


def _tar_members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while True:
        member = archive.next()
        if member is None:
            return
        yield member


def check_tar(path: Path, limits: Limits) -> Summary:
    tree = _Tree(limits, path.stat().st_size)
    try:
        archive = tarfile.open(path, "r:*", encoding="utf-8", errors="surrogateescape")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise Refused("(archive)", f"not a readable tar: {error}") from None
    with archive:
        try:
            for member in _tar_members(archive):
                _tar_member(archive, member, tree)
        except (tarfile.TarError, OSError, EOFError, ValueError) as error:
            raise Refused("(archive)", f"cannot be read: {error}") from None
    return Summary(TAR, tree.files, tree.entries, tree.expanded)


def _tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo, tree: _Tree) -> None:
    raw = member.name
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(
            raw.encode("utf-8", "replace").decode(), "the name is not valid UTF-8"
        ) from None
    name = safe_name(raw)
    if member.ischr() or member.isblk() or member.isfifo():
        raise Refused(raw, "device file or FIFO")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise Refused(raw, f"unsupported entry type {member.type!r}")
    tree.add(raw, name, directory=member.isdir())
    if member.issym():
        if not _inside(posixpath.dirname(name), member.linkname):
            raise Refused(raw, f"symlink to {member.linkname} leaves the tree")
        tree.links.add(name)
    elif member.islnk():
        try:
            target = safe_name(member.linkname)
        except Refused:
            raise Refused(raw, f"hardlink to {member.linkname} leaves the tree") from None
        if target not in tree.names or target in tree.links:
            raise Refused(raw, f"hardlink to {member.linkname}, not a file before it in the tree")
        tree.files += 1
    elif member.isreg():
        handle = archive.extractfile(member)
        if handle is not None:
            with handle:
                _drain(handle, tree, raw)
        tree.files += 1


def check(path: Path, kind: str, limits: Limits) -> Summary:
    """Check the archive at `path`; Refused names the first entry that is not safe."""
    return check_zip(path, limits) if kind == ZIP else check_tar(path, limits)
