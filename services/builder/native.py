"""Native builds for base 'host': Python packages in a venv cached by content hash; native
packages checked present on the node (never installed behind the user's back)."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared.environment import python_requirements
from shared.schemas import InspectionSpec

COMPLETE = ".tessera-complete"


class BuildFailed(Exception):
    """The build cannot succeed; the message is the reason users see."""


@dataclass(frozen=True)
class NativeResult:
    venv: Path | None
    cached: bool


def _package_manager() -> tuple[str, Callable[[str], list[str]]] | None:
    if shutil.which("dpkg-query"):
        return "dpkg", lambda name: ["dpkg-query", "-W", "-f=${Status} ${Version}", name]
    if shutil.which("rpm"):
        return "rpm", lambda name: ["rpm", "-q", "--qf", "installed %{VERSION}", name]
    if shutil.which("apk"):
        return "apk", lambda name: ["apk", "info", "-e", name]
    return None


def check_packages(packages: list[str], node: str, log: Callable[[str], None]) -> None:
    """Fail naming the first package the node lacks."""
    if not packages:
        return
    manager = _package_manager()
    if manager is None:
        raise BuildFailed(
            f"node {node} has no package manager (dpkg, rpm, apk) to check native packages with"
        )
    kind, command = manager
    for package in packages:
        name, _, version = package.replace("=", ":", 1).partition(":")
        done = subprocess.run(
            command(name), capture_output=True, text=True, timeout=30, check=False
        )
        found = done.returncode == 0 and (
            kind == "apk" or done.stdout.startswith(("install ok installed", "installed"))
        )
        if found and version and not done.stdout.rstrip().endswith(version):
            found = False
        if not found:
            raise BuildFailed(
                f"native package {package!r} is not installed on node {node} (checked with "
                f"{kind}); base 'host' uses the node as it is: install it there or use an image"
            )
        log(f"native package {package}: present ({kind})\n")


def _stream(command: list[str], log: Callable[[str], None], deadline: float) -> None:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            log(line)
            if time.monotonic() > deadline:
                process.kill()
                raise BuildFailed("the build timed out")
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        raise BuildFailed("the build timed out") from None
    if code != 0:
        raise BuildFailed(
            f"{Path(command[0]).name} {command[1:3]} exited {code}; see the build log"
        )


def build_venv(
    spec: InspectionSpec,
    spec_hash: str,
    venv_dir: Path,
    *,
    timeout_s: float,
    index_url: str | None,
    log: Callable[[str], None],
) -> NativeResult:
    """The venv for this environment, built once per content hash; concurrent asks wait."""
    lines, locked = python_requirements(spec)
    if not lines and not spec.upgrade_pip:
        log("no Python packages: runs use the node's own Python\n")
        return NativeResult(None, cached=False)
    venv_dir.mkdir(parents=True, exist_ok=True)
    target = venv_dir / spec_hash
    with open(venv_dir / f"{spec_hash}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / COMPLETE).exists():
            log(f"venv {spec_hash[:12]} is cached\n")
            return NativeResult(target, cached=True)
        if target.exists():
            shutil.rmtree(target)  # a build that died half way
        deadline = time.monotonic() + timeout_s
        log(f"creating venv {spec_hash[:12]} with {sys.version.split()[0]}\n")
        _stream([sys.executable, "-m", "venv", str(target)], log, deadline)
        install = [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ]
        if index_url:
            install += ["--index-url", index_url]
        if spec.upgrade_pip:
            _stream([*install, "--upgrade", "pip"], log, deadline)
        if lines:
            requirements = target / "requirements.txt"
            requirements.write_text("\n".join(lines) + "\n")
            locked_options = ["--require-hashes", "--no-deps"] if locked else []
            _stream([*install, *locked_options, "-r", str(requirements)], log, deadline)
        (target / COMPLETE).write_text(spec_hash)
    return NativeResult(target, cached=False)
