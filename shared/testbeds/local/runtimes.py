"""Which container runtimes really work on this machine: one is listed only after a trivial
container ran with it (podman is installed in many places where `podman run` fails)."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from shared.config import Settings, get_settings

PROBE_TIMEOUT_S = 60


def _tiny_rootfs(root: Path) -> bool:
    """/bin/true and the libraries it loads, laid out as a root filesystem."""
    true = shutil.which("true")
    if true is None or shutil.which("ldd") is None:
        return False
    try:
        listed = subprocess.run(
            ["ldd", true], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    for path in [true, *re.findall(r"(/\S+)", listed)]:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    shutil.copy(true, root / "true")
    return True


def _works(argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _buildah_runs(rootfs: Path, buildah: list[str], isolation: str) -> bool:
    """buildah can start a container here: from scratch, the tiny rootfs, run /true."""
    try:
        made = subprocess.run(
            [*buildah, "from", "scratch"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    name = made.stdout.strip()
    if made.returncode != 0 or not name:
        return False
    try:
        return _works([*buildah, "copy", name, f"{rootfs}/", "/"]) and _works(
            [*buildah, "run", "--isolation", isolation, name, "--", "/true"]
        )
    finally:
        _works([*buildah, "rm", name])


@functools.cache
def probe() -> list[str]:
    """Runtimes this machine offers: native, and a container runtime only if it really runs
    a container here (podman is installed in many places where `podman run` fails)."""
    settings = get_settings()
    found = ["native"]
    with tempfile.TemporaryDirectory(prefix="tessera-rootfs-") as folder:
        rootfs = Path(folder)
        if not _tiny_rootfs(rootfs):
            return found
        if shutil.which("buildah") and _buildah_runs(
            rootfs, buildah(settings), settings.buildah_isolation
        ):
            found.append("buildah")
        if shutil.which("podman") and _works(
            ["podman", "run", "--rm", "--rootfs", folder, "/true"]
        ):
            found.append("podman")
    return found


def buildah(settings: Settings) -> list[str]:
    return ["buildah", "--storage-driver", settings.buildah_storage_driver]
