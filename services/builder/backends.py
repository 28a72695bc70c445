"""Build backends behind one interface: buildah (default) and docker (CLI and daemon).

Each backend turns a build context (a folder with a Containerfile) into an image reference
and pushes it. Commands are argv lists built by pure functions, so they are tested as data.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from services.builder.base import Backend, Log, authfile_json
from services.builder.native import BuildFailed
from shared.config import Settings

_ERROR_LINE = re.compile(r"\b(error|Error|ERROR|failed|unknown)\b")
_MISSING_IMAGE = re.compile(
    r"manifest unknown|name unknown|not found|repository .* does not exist|no such host"
    r"|connection refused|unauthorized",
    re.IGNORECASE,
)


def repository_of(reference: str) -> str:
    """registry/name of an image reference, without its tag or digest."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


def explain_failure(tool: str, base: str | None, lines: Sequence[str], code: int) -> str:
    """The reason a user sees: the tool's own error line, and what it means when we know."""
    errors = [line.strip() for line in lines if _ERROR_LINE.search(line)]
    detail = errors[-1] if errors else (lines[-1].strip() if lines else "")
    detail = detail[:500] or f"exited {code}"
    if base is not None and repository_of(base) in detail and _MISSING_IMAGE.search(detail):
        return f"base image {base} does not exist or cannot be pulled: {detail}"
    return f"{tool} failed (exit {code}): {detail}"


def run_streamed(
    command: Sequence[str],
    log: Log,
    deadline: float,
    *,
    tool: str,
    base: str | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run a command, its output going line by line to the build log; fail with its reason."""
    log(f"$ {' '.join(command)}\n")
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        env=env,
        start_new_session=True,
    )
    tail: deque[str] = deque(maxlen=50)

    def copy() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log(line)
            tail.append(line)

    # A thread reads, so a command that goes quiet still meets its deadline.
    reader = threading.Thread(target=copy, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise BuildFailed(f"the build timed out ({tool} was still running)") from None
    reader.join(timeout=10)
    if code != 0:
        raise BuildFailed(explain_failure(tool, base, list(tail), code))


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, 9)
    except ProcessLookupError:
        pass
    process.wait()


@dataclass(frozen=True)
class Buildah:
    """buildah bud: no daemon; storage driver and isolation from settings."""

    name: ClassVar[str] = "buildah"
    storage_driver: str = "vfs"
    isolation: str = "chroot"
    tls_verify: bool = True
    cert_dir: str | None = None
    authfile: str | None = None
    base: str | None = None

    def _global(self) -> list[str]:
        return ["buildah", "--storage-driver", self.storage_driver]

    def _access(self) -> list[str]:
        words = [f"--tls-verify={'true' if self.tls_verify else 'false'}"]
        if self.cert_dir:
            words += ["--cert-dir", self.cert_dir]
        if self.authfile:
            words += ["--authfile", self.authfile]
        return words

    def build_command(self, context: Path, reference: str) -> list[str]:
        # --layers=false: one commit for the whole recipe; vfs copies every layer in full.
        return [
            *self._global(),
            "bud",
            "--isolation",
            self.isolation,
            "--layers=false",
            "--pull=false",  # pull only when missing: tags we build on are not re-read
            *self._access(),
            "--file",
            str(context / "Containerfile"),
            "--tag",
            reference,
            str(context),
        ]

    def push_command(self, reference: str) -> list[str]:
        return [*self._global(), "push", *self._access(), reference, f"docker://{reference}"]

    def build(self, context: Path, reference: str, log: Log, deadline: float) -> None:
        run_streamed(
            self.build_command(context, reference),
            log,
            deadline,
            tool="buildah bud",
            base=self.base,
        )

    def push(self, reference: str, log: Log, deadline: float) -> None:
        run_streamed(self.push_command(reference), log, deadline, tool="buildah push")


@dataclass(frozen=True)
class Docker:
    """The docker CLI against a daemon (DOCKER_HOST); credentials from `docker login`."""

    name: ClassVar[str] = "docker"
    base: str | None = None

    def build_command(self, context: Path, reference: str) -> list[str]:
        return [
            "docker",
            "build",
            "--file",
            str(context / "Containerfile"),
            "--tag",
            reference,
            str(context),
        ]

    def push_command(self, reference: str) -> list[str]:
        return ["docker", "push", reference]

    def build(self, context: Path, reference: str, log: Log, deadline: float) -> None:
        run_streamed(
            self.build_command(context, reference),
            log,
            deadline,
            tool="docker build",
            base=self.base,
        )

    def push(self, reference: str, log: Log, deadline: float) -> None:
        run_streamed(self.push_command(reference), log, deadline, tool="docker push")


def backend_for(settings: Settings, *, base: str | None, workdir: Path) -> Backend:
    """The backend the settings choose; credentials go to a file, never on a command line."""
    if settings.build_backend == "docker":
        return Docker(base=base)
    if settings.build_backend != "buildah":
        raise BuildFailed(f"unknown build backend {settings.build_backend!r}")
    authfile = None
    if settings.registry_username is not None:
        fd, authfile = tempfile.mkstemp(prefix="auth-", suffix=".json", dir=workdir)
        with os.fdopen(fd, "w") as handle:  # mkstemp makes it 0600
            handle.write(
                authfile_json(
                    settings.registry, settings.registry_username, settings.registry_password or ""
                )
            )
    cert_dir = None
    if settings.registry_ca_file is not None:
        # buildah wants a folder of *.crt files, httpx the file itself.
        folder = Path(tempfile.mkdtemp(prefix="certs-", dir=workdir))
        (folder / "ca.crt").write_bytes(settings.registry_ca_file.read_bytes())
        cert_dir = str(folder)
    return Buildah(
        storage_driver=settings.buildah_storage_driver,
        isolation=settings.buildah_isolation,
        tls_verify=settings.registry_tls_verify and not settings.registry_plain_http,
        cert_dir=cert_dir,
        authfile=authfile,
        base=base,
    )
