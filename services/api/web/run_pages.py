"""One run's page: its state and attempts, its log (live), its result and hwinfo."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from services.api import logstream
from services.api.deps import SessionDep
from services.api.routers.common import store
from services.api.web import queries, views
from services.api.web.pages import LOG_TAIL_BYTES, offset_param, parse_id
from services.api.web.render import page, secured
from services.api.web.session import Missing, ViewerDep
from shared.store import ArtifactStore, run_log_key, run_result_key

router = APIRouter(include_in_schema=False)


async def _run(session: SessionDep, viewer: ViewerDep, run_id: str) -> queries.RunDetail:
    found = await queries.run_detail(session, viewer.project_id, parse_id(run_id, "run"))
    if found is None:
        raise Missing(f"no run {run_id}")
    return found


def _result(artifacts: ArtifactStore, found: queries.RunDetail) -> dict[str, Any] | None:
    if found.live:
        return None
    data = artifacts.get(run_result_key(found.run.id))
    if data is None:
        return None
    document: dict[str, Any] = json.loads(data)
    return document


def live_context(artifacts: ArtifactStore, found: queries.RunDetail) -> dict[str, Any]:
    """What the run page's live part shows: state, attempts, and once it ended its result."""
    result = _result(artifacts, found)
    hwinfo = (result or {}).get("hwinfo") or found.run.hwinfo
    return {
        "found": found,
        "result": result,
        "stdout": views.stdout_text((result or {}).get("stdout")),
        "usage": views.usage_rows((result or {}).get("usage")),
        "result_rows": views.result_rows(result or {}),
        "hwinfo": views.hwinfo_view(hwinfo) if hwinfo else None,
        "placements": [views.pretty_json(a.placement) for a in found.attempts],
    }


@router.get("/runs/{run_id}")
async def run_page(
    run_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> Response:
    found = await _run(session, viewer, run_id)
    await logstream.watch(session, found.run.id)
    data = store(request).get(run_log_key(found.run.id)) or b""
    log, cut = views.log_tail(data, LOG_TAIL_BYTES)
    context = live_context(store(request), found)
    context.update(log=log, log_cut=cut, log_size=len(data), oob=False)
    return page(request, "run.html", context, viewer=viewer)


@router.get("/runs/{run_id}/live")
async def run_live(
    run_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> Response:
    found = await _run(session, viewer, run_id)
    await logstream.watch(session, found.run.id)
    context = {**live_context(store(request), found), "oob": True}
    return page(request, "_run_live.html", context, viewer=viewer)


@router.get("/runs/{run_id}/log/stream")
async def run_log_stream(
    run_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> Response:
    """The run's log as server-sent events: the API's stream (logstream.stream, as
    `/api/v1/runs/{id}/log?follow=true`), authenticated by the session cookie."""
    found = await _run(session, viewer, run_id)
    follow = logstream.follow_query(
        True, offset_param(request), request.headers.get("last-event-id")
    )
    probe = logstream.run_probe(request.app.state.sessions, found.run.id)
    key = run_log_key(found.run.id)
    response = await logstream.respond(request, session, key, probe, follow, found.run.id)
    return secured(request, response)


def _download(request: Request, body: bytes, name: str, media_type: str) -> Response:
    response = Response(body, media_type=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return secured(request, response)


@router.get("/runs/{run_id}/log.txt")
async def run_log_file(
    run_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> Response:
    found = await _run(session, viewer, run_id)
    data = store(request).get(run_log_key(found.run.id)) or b""
    return _download(request, data, f"run-{found.run.id}.log", PlainTextResponse.media_type)


@router.get("/runs/{run_id}/hwinfo.json")
async def run_hwinfo_file(
    run_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> Response:
    """The hwinfo as the probe wrote it (the result's, else the run's), raw JSON."""
    found = await _run(session, viewer, run_id)
    result = _result(store(request), found)
    hwinfo = (result or {}).get("hwinfo") or found.run.hwinfo
    if not hwinfo:
        raise Missing(f"run {found.run.id} has no hwinfo yet")
    body = json.dumps(hwinfo, indent=2, sort_keys=True).encode()
    return _download(request, body, f"hwinfo-{found.run.id}.json", "application/json")


@router.get("/runs/{run_id}/result.json")
async def run_result_file(
    run_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> Response:
    found = await _run(session, viewer, run_id)
    if found.live:
        raise Missing(f"run {found.run.id} is {found.run.state}; its result is ready when it ends")
    data = store(request).get(run_result_key(found.run.id))
    if data is None:
        raise Missing(f"run {found.run.id} ended {found.run.state} without a result")
    return _download(request, data, f"result-{found.run.id}.json", "application/json")
