"""Native builds for base 'host': Python packages in a venv cached by content hash; native
packages checked present on the node (never installed behind the user's back)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared.environment import LockInstall, lock_install, python_requirements
from shared.python_env import parse_pipfile
from shared.specs import InspectionSpec

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


def _stream(
    command: list[str],
    log: Callable[[str], None],
    deadline: float,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        cwd=cwd,
        env=env,
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


def _install_lock(
    venv: Path, lock: LockInstall, log: Callable[[str], None], deadline: float
) -> None:
    """`micropipenv install --deploy` or `pipenv install --deploy --system` in a folder holding
    the Pipfile and its lock, installing into the venv: both check the lock's hash against the
    Pipfile and install every package from the index the lock names for it (the lock's
    sources, not the admin's pip_index_url)."""
    folder = venv / "pipenv-project"
    folder.mkdir(exist_ok=True)
    (folder / "Pipfile").write_text(lock.pipfile)
    (folder / "Pipfile.lock").write_text(lock.lock)
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', os.defpath)}",
        "VIRTUAL_ENV": str(venv),
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "MICROPIPENV_PIP_BIN": str(venv / "bin" / "pip"),
        "PIPENV_VERBOSITY": "-1",
        "PIPENV_YES": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    if os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE"):
        env["PIP_CERT"] = os.environ.get("PIP_CERT") or os.environ["SSL_CERT_FILE"]
    tool = str(venv / "bin" / lock.manager)
    command = [tool, "install", "--deploy"] + (["--system"] if lock.manager == "pipenv" else [])
    log(f"installing Pipfile.lock with {lock.manager}\n")
    _stream(command, log, deadline, cwd=folder, env=env)


def required_python(spec: InspectionSpec) -> str | None:
    """The Python version a Pipfile asks for (`[requires] python_version`), if it asks."""
    if spec.python is None or spec.python.requirements is None:
        return None
    wanted = parse_pipfile(spec.python.requirements).get("requires", {}).get("python_version")
    return str(wanted) if wanted else None


def interpreter(version: str | None) -> str:
    """A Python of `version` (major.minor) on this node: Tessera's own when it is that one,
    else pythonX.Y on PATH that runs, else one of pyenv's versions; BuildFailed when none."""
    if version is None or version == "{}.{}".format(*sys.version_info[:2]):
        return sys.executable
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob(f"{version}.*/bin/python{version}"))]
    for candidate in candidates:
        if (
            candidate
            and subprocess.run(
                [candidate, "-c", "import venv"], capture_output=True, timeout=30, check=False
            ).returncode
            == 0
        ):
            return candidate
    raise BuildFailed(
        f"the Pipfile requires Python {version}; this node has no python{version} (looked on "
        f"PATH and in {pyenv})"
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
    pipfile = lock_install(spec)
    lines, locked = (spec.python_tools(), False) if pipfile else python_requirements(spec)
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
        python = interpreter(required_python(spec)) if pipfile else sys.executable
        log(f"creating venv {spec_hash[:12]} with {python}\n")
        _stream([python, "-m", "venv", str(target)], log, deadline)
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
        if pipfile is not None:
            _install_lock(target, pipfile, log, deadline)
        (target / COMPLETE).write_text(spec_hash)
    return NativeResult(target, cached=False)
