"""/api/v1/applications and /api/v1/executables: ALDE's applications.

Upload an application's source, compile it per target configuration on fitting nodes (each
build a run, placed like every run), list the executables per configuration, fetch them.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api import applications as apps
from services.api import logstream, service
from services.api.deps import PrincipalDep, SessionDep, SettingsDep, UnitOfWork
from services.api.errors import (
    Conflict,
    NotFound,
    Unauthorized,
    Unavailable,
    Unprocessable,
    responses,
)
from services.api.examples import APPLICATION_EXAMPLES, BUILD_EXAMPLES
from services.api.routers.common import TOO_LARGE
from services.api.routers.common import store as store_of
from services.api.schemas import Out
from shared.applications import archive, settle
from shared.applications.schemas import (
    ApplicationCreate,
    BuildRequest,
)
from shared.db.models import Application, Executable, Testbed, utcnow
from shared.store import run_log_key, run_result_key

SOURCE_PATH = re.compile(r"/api/v1/applications/[^/]+/source")
ARCHIVE_TYPES = sorted(archive.MEDIA_TYPES)

router = APIRouter(
    tags=["applications"], responses=responses(Unauthorized, Unprocessable, Unavailable)
)


class ApplicationOut(Out):
    application_id: uuid.UUID
    name: str
    description: str | None
    state: str
    source_digest: str | None
    source_files: int | None
    source_bytes: int | None
    source_at: datetime | None
    created_at: datetime


class ApplicationPage(Out):
    items: list[ApplicationOut]
    next_cursor: str | None


class SourceOut(Out):
    digest: str
    file_count: int
    expanded_bytes: int
    archive_bytes: int
    stale_executables: int


class ExecutableOut(Out):
    executable_id: uuid.UUID
    application_id: uuid.UUID
    configuration: str
    state: str
    state_reason: str | None
    cached: bool
    package: str
    source_digest: str
    build_hash: str
    deployment_id: uuid.UUID | None
    testbed: str | None
    node: str | None
    hwinfo: dict[str, Any] | None
    artifact: dict[str, Any] | None
    image: str | None = Field(None, description="The image reference (`package: image`).")
    created_at: datetime
    finished_at: datetime | None


class ExecutableList(Out):
    items: list[ExecutableOut]


class Deleted(Out):
    application_id: uuid.UUID
    cancelled_builds: int


def _app_out(row: Application) -> ApplicationOut:
    return ApplicationOut(
        application_id=row.id,
        name=row.name,
        description=row.description,
        state=row.state,
        source_digest=row.source_digest,
        source_files=row.source_files,
        source_bytes=row.source_bytes,
        source_at=row.source_at,
        created_at=row.created_at,
    )


async def _exe_out(request: Request, session: AsyncSession, row: Executable) -> ExecutableOut:
    testbed = await session.get(Testbed, row.testbed_id) if row.testbed_id else None
    artifact = None
    if row.artifact_key is not None:
        artifact = {
            "digest": row.artifact_digest,
            "size": row.artifact_size,
            "files": row.artifacts or [],
            "url": str(request.url_for("get_executable_artifact", executable_id=row.id)),
        }
    return ExecutableOut(
        executable_id=row.id,
        application_id=row.application_id,
        configuration=row.configuration,
        state=row.state,
        state_reason=row.state_reason,
        cached=False,  # a build request's answer says True for what it did not rebuild
        package=row.package,
        source_digest=row.source_digest,
        build_hash=row.build_hash,
        deployment_id=row.deployment_id,
        testbed=testbed.name if testbed is not None else None,
        node=row.node_name,
        hwinfo=row.hwinfo,
        artifact=artifact,
        image=row.image,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


async def _owned_app(
    session: AsyncSession, project_id: uuid.UUID, item_id: uuid.UUID
) -> Application:
    row = await session.get(Application, item_id)
    if row is None or row.project_id != project_id:
        raise NotFound(f"no application {item_id}")
    return row


async def _owned_exe(
    session: AsyncSession, project_id: uuid.UUID, item_id: uuid.UUID
) -> Executable:
    row = await session.get(Executable, item_id)
    if row is None or row.project_id != project_id:
        raise NotFound(f"no executable {item_id}")
    return row


@router.post(
    "/applications",
    status_code=201,
    responses=responses(Unprocessable),
    summary="Create an application",
    operation_id="create_application",
)
async def create(
    body: Annotated[ApplicationCreate, Body(openapi_examples=APPLICATION_EXAMPLES)],
    request: Request,
    who: PrincipalDep,
) -> ApplicationOut:
    """A new application, without source yet."""
    async with UnitOfWork(request) as work:
        row = Application(
            id=uuid.uuid4(),
            project_id=who.project_id,
            name=body.name,
            description=body.description,
            state="active",
        )
        work.session.add(row)
        await work.session.flush()
        out = _app_out(row)
    return out


@router.get("/applications", summary="List applications", operation_id="list_applications")
async def list_(
    session: SessionDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ApplicationPage:
    """The project's applications, newest first."""
    rows, next_cursor = await service.page(
        session,
        Application,  # type: ignore[type-var]  # paged like them: project_id, created_at, id
        who.project_id,
        limit=limit,
        cursor=cursor,
        state=None,
    )
    return ApplicationPage(items=[_app_out(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/applications/{application_id}",
    responses=responses(NotFound),
    summary="An application",
    operation_id="get_application",
)
async def get(application_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> ApplicationOut:
    return _app_out(await _owned_app(session, who.project_id, application_id))


@router.delete(
    "/applications/{application_id}",
    responses=responses(NotFound),
    summary="Delete an application (its running builds are cancelled)",
    operation_id="delete_application",
)
async def delete(application_id: uuid.UUID, request: Request, who: PrincipalDep) -> Deleted:
    async with UnitOfWork(request) as work:
        row = await _owned_app(work.session, who.project_id, application_id)
        tasks = await apps.cancel_builds(work.session, row.id)
        work.send(*tasks)
        key = row.source_key
        await work.session.delete(row)
    if key is not None:
        await anyio.to_thread.run_sync(store_of(request).delete, key)
    return Deleted(application_id=application_id, cancelled_builds=len(tasks))


@router.put(
    "/applications/{application_id}/source",
    responses={**responses(NotFound, Unprocessable), **TOO_LARGE},
    summary="Upload the application's source (zip, tar.gz or tar)",
    operation_id="put_application_source",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                name: {"schema": {"type": "string", "format": "binary"}} for name in ARCHIVE_TYPES
            },
        }
    },
)
async def put_source(
    application_id: uuid.UUID, request: Request, who: PrincipalDep, settings: SettingsDep
) -> SourceOut:
    """Streamed to a file, checked for safe extraction (422 naming the entry), then kept;
    the executables of the previous source become stale."""
    async with UnitOfWork(request) as check:  # another project's: 404 before anything else
        await _owned_app(check.session, who.project_id, application_id)
    kind = archive.kind_of(request.headers.get("content-type", ""))
    if kind is None:
        raise Unprocessable.on("content-type", f"give one of {', '.join(ARCHIVE_TYPES)}")
    with apps.temporary_folder(settings) as folder:
        path, digest, size = await apps.receive_source(request, settings, Path(folder))
        if size == 0:
            raise Unprocessable.on("body", "the archive is empty")
        summary = await apps.check_source(path, kind, settings)
        key = apps.source_key(application_id, digest)
        await anyio.to_thread.run_sync(store_of(request).put_file, key, path)
    async with UnitOfWork(request) as work:
        row = await _owned_app(work.session, who.project_id, application_id)
        old = row.source_key
        row.source_digest, row.source_key, row.source_kind = digest, key, kind
        row.source_files, row.source_bytes = summary.file_count, summary.expanded_bytes
        row.source_at = utcnow()
        stale = await work.session.execute(
            select(Executable.id).where(
                Executable.application_id == row.id,
                Executable.source_digest != digest,
                Executable.state != "stale",
            )
        )
        count = len(stale.all())
        await apps.mark_stale(work.session, row.id, digest)
    if old is not None and old != key:
        await anyio.to_thread.run_sync(store_of(request).delete, old)
    return SourceOut(
        digest=digest,
        file_count=summary.file_count,
        expanded_bytes=summary.expanded_bytes,
        archive_bytes=size,
        stale_executables=count,
    )


class BuildStarted(Out):
    items: list[ExecutableOut]


@router.post(
    "/applications/{application_id}/builds",
    status_code=202,
    responses=responses(NotFound, Unprocessable, Conflict),
    summary="Compile the application for each configuration",
    operation_id="create_application_builds",
)
async def builds(
    application_id: uuid.UUID,
    body: Annotated[BuildRequest, Body(openapi_examples=BUILD_EXAMPLES)],
    request: Request,
    who: PrincipalDep,
    settings: SettingsDep,
) -> BuildStarted:
    """One build per configuration, each placed on a node its hardware fits (422 naming the
    configuration no node fits); the same source and configuration again answers the
    existing executable (`cached: true`)."""
    candidates = await request.app.state.candidates.get(request.app.state.sessions)
    async with UnitOfWork(request) as work:
        row = await _owned_app(work.session, who.project_id, application_id)
        if row.source_digest is None:
            raise Conflict("upload the application's source first")
        made: list[tuple[Executable, bool]] = []
        for index, configuration in enumerate(body.configurations):
            found = await apps.cached(work.session, row.id, configuration.digest(row.source_digest))
            if found is not None:  # compiled: nothing to build; compiling: that build
                made.append((found, found.state == "compiled"))
                continue
            started = await apps.start_build(work, candidates, row, configuration, index, settings)
            made.append((started, False))
        await work.session.flush()
        items = []
        for executable, cached in made:
            out = await _exe_out(request, work.session, executable)
            out.cached = cached
            items.append(out)
    return BuildStarted(items=items)


@router.get(
    "/applications/{application_id}/executables",
    responses=responses(NotFound),
    summary="The application's executables, the latest per configuration",
    operation_id="list_application_executables",
)
async def executables(
    application_id: uuid.UUID, request: Request, who: PrincipalDep
) -> ExecutableList:
    async with UnitOfWork(request) as work:
        row = await _owned_app(work.session, who.project_id, application_id)
        found = await work.session.execute(
            select(Executable)
            .where(Executable.application_id == row.id)
            .order_by(Executable.configuration, Executable.created_at.desc())
        )
        latest: dict[str, Executable] = {}
        for executable in found.scalars():
            latest.setdefault(executable.configuration, executable)
        for executable in latest.values():
            await apps.nudge(work, executable)
        items = [await _exe_out(request, work.session, e) for e in latest.values()]
    return ExecutableList(items=items)


@router.get(
    "/executables/{executable_id}",
    responses=responses(NotFound),
    summary="An executable",
    operation_id="get_executable",
)
async def executable(
    executable_id: uuid.UUID, request: Request, who: PrincipalDep
) -> ExecutableOut:
    async with UnitOfWork(request) as work:
        row = await _owned_exe(work.session, who.project_id, executable_id)
        await apps.nudge(work, row)
        out = await _exe_out(request, work.session, row)
    return out


@router.get(
    "/executables/{executable_id}/log",
    response_class=PlainTextResponse,
    responses=logstream.log_responses(),
    summary="The build's log, so far or live",
    operation_id="get_executable_log",
)
async def executable_log(
    executable_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    follow: logstream.FollowDep,
) -> Response:
    row = await _owned_exe(session, who.project_id, executable_id)
    run = await apps.build_run(session, row)
    if run is None:
        return PlainTextResponse("")
    if run.state in ("succeeded", "failed", "cancelled", "lost"):
        # The build's own output (stderr): stdout carries only the packaged artifact.
        data = await anyio.to_thread.run_sync(store_of(request).get, run_result_key(run.id))
        if data is not None and not follow.live:
            text = str(json.loads(data).get("stderr") or "")
            made = await anyio.to_thread.run_sync(
                store_of(request).get, settle.package_log_key(row.id)
            )
            if made:  # the image's making, after the build (package: image)
                text += "\n" + made.decode("utf-8", "replace")
            return PlainTextResponse(text)
    probe = logstream.run_probe(request.app.state.sessions, run.id)
    return await logstream.respond(request, session, run_log_key(run.id), probe, follow, run.id)


@router.get(
    "/executables/{executable_id}/artifact",
    name="get_executable_artifact",
    response_class=StreamingResponse,
    responses={
        **responses(NotFound, Conflict),
        200: {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}},
    },
    summary="The executable's tar.gz",
    operation_id="get_executable_artifact",
)
async def artifact(
    executable_id: uuid.UUID, request: Request, session: SessionDep, who: PrincipalDep
) -> Response:
    row = await _owned_exe(session, who.project_id, executable_id)
    if row.artifact_key is None:
        raise Conflict(f"executable {executable_id} is {row.state}: it has no artifact")
    chunks = store_of(request).chunks(row.artifact_key)
    if chunks is None:
        raise NotFound(f"the artifact of executable {executable_id} is gone")
    return StreamingResponse(
        chunks,
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{row.configuration}.tar.gz"',
            "Content-Length": str(row.artifact_size or 0),
        },
    )
