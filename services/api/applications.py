"""Applications in the API: the source upload, builds as deployments, executables' states.

A configuration's build is a deployment of one run (placed, watched and collected like any
run) whose specification carries `build_of`; when that run has ended, the builder gives the
executable its outcome (shared/applications/settle.py): the tar.gz the build printed goes
into the artifact store by content hash, the node and hwinfo of the run are kept, and an
image is made when the configuration packages one.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path
from typing import Any

import anyio
from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api import service
from services.api.deps import UnitOfWork
from services.api.errors import Conflict, FieldError, Unprocessable
from services.api.submit import deployment_rows, insert_rows
from shared import hardware
from shared.applications import archive, settle
from shared.applications.jobs import build_command
from shared.applications.schemas import BuildConfiguration
from shared.applications.settle import BUILD_OF
from shared.config import Settings
from shared.db.models import Application, Deployment, Executable, Node, Run, utcnow
from shared.schemas import Requests
from shared.specs import DeploymentSpec
from shared.states import RUN_TERMINAL
from shared.store import ArtifactStore

UPLOAD_CHUNK = 1024 * 1024


def source_key(application_id: uuid.UUID, digest: str) -> str:
    return f"applications/{application_id}/source/{digest}"


def refuse(entry: str, reason: str) -> Unprocessable:
    return Unprocessable(
        f"archive entry {entry!r}: {reason}", [FieldError(field=f"body.{entry}", reason=reason)]
    )


async def receive_source(
    request: Request, settings: Settings, folder: Path
) -> tuple[Path, str, int]:
    """The body streamed into a file under `folder` (never whole in memory): path, sha256,
    size."""
    path = folder / "source.archive"
    digest = hashlib.sha256()
    size = 0
    async with await anyio.open_file(path, "wb") as out:
        async for chunk in request.stream():
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                await out.write(chunk)
    return path, digest.hexdigest(), size


async def check_source(path: Path, kind: str, settings: Settings) -> archive.Summary:
    limits = archive.Limits(
        settings.max_source_entries, settings.max_source_bytes, settings.max_source_ratio
    )
    try:
        return await anyio.to_thread.run_sync(archive.check, path, kind, limits)
    except archive.Refused as refused:
        raise refuse(refused.entry, refused.reason) from None


def temporary_folder(settings: Settings) -> tempfile.TemporaryDirectory[str]:
    """Uploads land beside the store's files (one filesystem: no copy across devices)."""
    base = settings.home / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(dir=base, prefix="upload-")


async def mark_stale(session: AsyncSession, application_id: uuid.UUID, digest: str) -> None:
    await session.execute(
        update(Executable)
        .where(Executable.application_id == application_id, Executable.source_digest != digest)
        .values(state="stale", state_reason="the source was replaced", updated_at=utcnow())
    )


async def build_run(session: AsyncSession, executable: Executable) -> Run | None:
    if executable.deployment_id is None:
        return None
    return (
        await session.execute(select(Run).where(Run.deployment_id == executable.deployment_id))
    ).scalar_one_or_none()


async def nudge(work: UnitOfWork, executable: Executable) -> None:
    """Ask the builder to settle an executable whose build run has ended (the monitor asks
    too when it collects the run; this covers a build cancelled before it was placed)."""
    if executable.state not in settle.UNSETTLED or executable.state_reason == settle.PACKAGING:
        return
    run = await build_run(work.session, executable)
    if run is not None and run.state in RUN_TERMINAL:
        work.send(("builder.executable", str(executable.id)))


async def cached(
    session: AsyncSession, application_id: uuid.UUID, build_hash: str
) -> Executable | None:
    """The application's executable of the same (source, configuration), compiled or being
    compiled."""
    rows = await session.execute(
        select(Executable)
        .where(
            Executable.application_id == application_id,
            Executable.build_hash == build_hash,
            Executable.state.in_(("compiled", *settle.UNSETTLED)),
        )
        .order_by(Executable.created_at.desc())
        .limit(1)
    )
    return rows.scalar_one_or_none()


def build_deployment(
    configuration: BuildConfiguration, executable_id: uuid.UUID, settings: Settings
) -> dict[str, Any]:
    """The specification of the deployment that builds the configuration."""
    timeout = configuration.timeout or int(settings.app_build_timeout_s)
    spec = DeploymentSpec(
        identifier=f"build-{configuration.name}",
        image=None if configuration.base == "host" else configuration.base,
        command=build_command(),
        environment=configuration.environment,
        requests=Requests(hardware=configuration.hardware),
        timeout=timeout + 120,  # the unpacking and the collection, beyond the build's own
        testbed=configuration.testbed,
    )
    return {**spec.model_dump(mode="json", exclude_none=True), BUILD_OF: str(executable_id)}


async def start_build(
    work: UnitOfWork,
    candidates: list[Any],
    application: Application,
    configuration: BuildConfiguration,
    index: int,
    settings: Settings,
) -> Executable:
    """Check the configuration against the inventory (422 naming it), then write the
    executable and its build's deployment; the run is placed after the commit."""
    spec = hardware.parse_spec(configuration.hardware or {})
    service._check_feasible(
        candidates,
        spec,
        testbed=configuration.testbed,
        image=None if configuration.base == "host" else configuration.base,
        spec_field=f"configurations.{index}.hardware",
    )
    assert application.source_digest is not None
    executable = Executable(
        id=uuid.uuid4(),
        project_id=application.project_id,
        application_id=application.id,
        configuration=configuration.name,
        spec=configuration.model_dump(mode="json"),
        build_hash=configuration.digest(application.source_digest),
        source_digest=application.source_digest,
        state="not_compiled",
        package=configuration.package,
    )
    deployment_id, run_id = uuid.uuid4(), uuid.uuid4()
    rows = deployment_rows(
        deployment_id=deployment_id,
        project_id=application.project_id,
        identifier=f"build-{configuration.name}",
        specification=build_deployment(configuration, executable.id, settings),
        testbed_id=None,
        run_ids=[run_id],
        at=utcnow(),
    )
    await insert_rows(work.session, rows)  # now: the executable refers to the deployment
    executable.deployment_id = deployment_id
    work.session.add(executable)
    work.send(("deployer.place", str(run_id)))
    return executable


async def executable_hardware(
    session: AsyncSession, executable: Executable, given: dict[str, Any] | None
) -> dict[str, Any]:
    """Where a deployment of the executable may run: compatible with its build node."""
    from shared.applications.schemas import compiled_on, narrowed

    arch = None
    if executable.testbed_id is not None and executable.node_name is not None:
        arch = (
            await session.execute(
                select(Node.arch).where(
                    Node.testbed_id == executable.testbed_id,
                    Node.name == executable.node_name,
                )
            )
        ).scalar_one_or_none()
    return narrowed(compiled_on(executable.spec, arch), given)


async def deployable(
    session: AsyncSession, store: ArtifactStore, project_id: uuid.UUID, spec: DeploymentSpec
) -> DeploymentSpec:
    """A deployment of an executable, its hardware narrowed to fit the build node."""
    if spec.executable is None:
        return spec
    executable = await session.get(Executable, spec.executable)
    if executable is None or executable.project_id != project_id:
        raise Unprocessable.on("executable", f"no executable {spec.executable}")
    if executable.state != "compiled":
        raise Conflict(f"executable {executable.id} is {executable.state}, not compiled")
    requests = spec.run_requests()
    wanted = await executable_hardware(session, executable, requests.hardware or None)  # type: ignore[arg-type]
    new_requests = requests.model_copy(update={"hardware": wanted or None})
    # An image executable runs in its image (checked against the nodes' runtimes at submit).
    return spec.model_copy(update={"requests": new_requests, "image": executable.image})


async def cancel_builds(session: AsyncSession, application_id: uuid.UUID) -> list[Any]:
    """Cancel the builds still running of the application; the tasks to send."""
    rows = await session.execute(
        select(Deployment)
        .join(Executable, Executable.deployment_id == Deployment.id)
        .where(Executable.application_id == application_id, Executable.state.in_(settle.UNSETTLED))
    )
    tasks: list[Any] = []
    for deployment in rows.scalars():
        _count, sent = await service.cancel(session, deployment)
        tasks += sent
    return tasks
