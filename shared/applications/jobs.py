"""What the deployer puts into the folder of an application's runs.

A configuration's build is a deployment of one run whose specification carries `build_of`
(the executable it builds): its command is node_build.py, its files the source archive and
the build's own description. A deployment of an executable gets the executable's tar.gz and
node_build.py, which unpacks it and then execs the deployment's command.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from shared.applications import node_build
from shared.applications.settle import BUILD_OF
from shared.db.models import Application, Deployment, Executable
from shared.store import ArtifactStore

HELPER = "node_build.py"
SOURCE_FILE = "tessera-source.archive"
SPEC_FILE = "tessera-build.json"
SCRIPT_FILE = "tessera-build.sh"
ARTIFACT_FILE = "tessera-executable.tar.gz"
Files = list[tuple[str, bytes, bool]]


def helper() -> bytes:
    return Path(node_build.__file__).read_bytes()


def build_command() -> list[str]:
    return ["python3", HELPER, "build", SPEC_FILE]


def without_build(specification: dict[str, Any]) -> dict[str, Any]:
    """The deployment's specification as its user wrote it: without Tessera's own build
    marker, and without the image an image executable's deployment was given (it is the
    executable's, read from its row)."""
    drop = {BUILD_OF, "image"} if specification.get("executable") else {BUILD_OF}
    return {k: v for k, v in specification.items() if k not in drop}


# An image executable's files are in the image; they are copied into the run's folder and
# the command runs there, as a tar.gz executable's would. A fixed script: the command's
# words are its arguments, never part of it.
IMAGE_APP = "/opt/tessera/app"
IN_IMAGE = ["/bin/sh", "-c", f'cp -R {IMAGE_APP}/. . && exec "$@"', "tessera-exec"]


@dataclass(frozen=True)
class Parts:
    argv: list[str]
    files: Files
    image: str | None = None  # the run's image when it is the executable's


def build_spec(configuration: dict[str, Any], timeout_s: float) -> tuple[dict[str, Any], Files]:
    """node_build.py's description of the build, and the script file when there is one."""
    script = configuration["build_script"]
    files: Files = []
    spec: dict[str, Any] = {
        "source": SOURCE_FILE,
        "argv": script if isinstance(script, list) else [],
        "script": None,
        "artifacts": configuration["artifacts"],
        "packages": list(configuration.get("packages") or []),
        "timeout": timeout_s,
    }
    if isinstance(script, str):
        spec["script"] = SCRIPT_FILE
        files.append((SCRIPT_FILE, script.encode(), True))
    return spec, files


class MissingArtifact(Exception):
    """The source or executable a run needs is no longer in the store."""


def job_parts(
    session: Session, store: ArtifactStore, specification: dict[str, Any], command: list[str]
) -> Parts:
    """The argv, files and image of a deployment's run: the command as it is, or a build's,
    or an executable unpacked first (or run in its image)."""
    if specification.get(BUILD_OF):
        executable = session.get(Executable, uuid.UUID(str(specification[BUILD_OF])))
        if executable is None:
            raise MissingArtifact("the executable being built was deleted")
        application = session.get(Application, executable.application_id)
        source = (
            store.get(application.source_key)
            if application is not None and application.source_key
            else None
        )
        if source is None:
            raise MissingArtifact("the application's source is gone")
        timeout = float(executable.spec.get("timeout") or 3600)
        spec, files = build_spec(executable.spec, timeout)
        files += [
            (SOURCE_FILE, source, False),
            (SPEC_FILE, json.dumps(spec).encode(), False),
            (HELPER, helper(), False),
        ]
        return Parts(build_command(), files)
    if specification.get("executable"):
        executable = session.get(Executable, uuid.UUID(str(specification["executable"])))
        if executable is not None and executable.package == "image":
            if not executable.image:
                raise MissingArtifact("the executable's image was not made")
            return Parts([*IN_IMAGE, *command], [], executable.image)
        data = (
            store.get(executable.artifact_key)
            if executable is not None and executable.artifact_key
            else None
        )
        if data is None:
            raise MissingArtifact("the executable's artifact is gone")
        argv = ["python3", HELPER, "exec", ARTIFACT_FILE, "--", *command]
        return Parts(argv, [(ARTIFACT_FILE, data, False), (HELPER, helper(), False)])
    return Parts(command, [])


def missing(session: Session, store: ArtifactStore, run: Any) -> str | None:
    """Why a deployment run's application files cannot be had, or None (also for every run
    that is not an application's). Asks the store for sizes only."""
    if run.deployment_id is None:
        return None
    deployment = session.get(Deployment, run.deployment_id)
    if deployment is None:
        return None
    specification = deployment.specification
    key: str | None = None
    if specification.get(BUILD_OF):
        executable = session.get(Executable, uuid.UUID(str(specification[BUILD_OF])))
        if executable is None:
            return "the executable being built was deleted"
        application = session.get(Application, executable.application_id)
        key = application.source_key if application is not None else None
        if key is None or store.size(key) is None:
            return "the application's source is gone"
    elif specification.get("executable"):
        executable = session.get(Executable, uuid.UUID(str(specification["executable"])))
        if executable is not None and executable.package == "image":
            return None if executable.image else "the executable's image was not made"
        key = executable.artifact_key if executable is not None else None
        if key is None or store.size(key) is None:
            return "the executable's artifact is gone"
    return None
