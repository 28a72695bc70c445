"""The dashboard's pages: overview, inspections and deployments, nodes, testbeds.

Every page takes the viewer from the session cookie; the `/live` routes are the fragments
htmx polls, each its page's live part, which stops polling once nothing in it can change.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.api import logstream
from services.api.deps import SessionDep
from services.api.routers.common import store
from services.api.web import queries, views
from services.api.web.render import page, secured
from services.api.web.session import AdminViewerDep, Missing, ViewerDep
from shared.db.models import Deployment, Inspection
from shared.specs import DeploymentSpec, InspectionSpec
from shared.store import build_log_key

router = APIRouter(include_in_schema=False)
KINDS: dict[str, type[Inspection] | type[Deployment]] = {
    "inspections": Inspection,
    "deployments": Deployment,
}
SPECS: dict[str, type[InspectionSpec] | type[DeploymentSpec]] = {
    "inspections": InspectionSpec,
    "deployments": DeploymentSpec,
}
LOG_TAIL_BYTES = 256 * 1024

Text = Annotated[str | None, Query(max_length=200)]


def parse_id(text: str, what: str) -> uuid.UUID:
    """A path's id; one that is not a UUID is as absent as another project's."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Missing(f"no {what} {text}") from None


@router.get("/")
async def overview(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    summary = await queries.overview(session, viewer.project_id)
    return page(request, "overview.html", {"summary": summary}, viewer=viewer)


def _list_context(
    kind: str, listing: queries.RequestPage, state: str | None, text: str | None, cursor: str | None
) -> dict[str, Any]:
    filters = {k: v for k, v in (("state", state), ("q", text)) if v}
    here = {**filters, **({"cursor": cursor} if cursor else {})}
    return {
        "kind": kind,
        "listing": listing,
        "state": state or "",
        "q": text or "",
        "live_url": f"/{kind}/live?{urlencode(here)}",
        "next_url": (
            f"/{kind}?{urlencode({**filters, 'cursor': listing.next_cursor})}"
            if listing.next_cursor
            else None
        ),
        "first_url": f"/{kind}?{urlencode(filters)}" if cursor else None,
    }


async def _listing(
    session: SessionDep,
    viewer: ViewerDep,
    kind: str,
    state: str | None,
    text: str | None,
    cursor: str | None,
) -> dict[str, Any]:
    listing = await queries.requests_page(
        session, KINDS[kind], viewer.project_id, state=state, text=text, cursor=cursor
    )
    return _list_context(kind, listing, state, text, cursor)


def _add_list_routes(kind: str) -> None:
    async def listing(
        request: Request,
        session: SessionDep,
        viewer: ViewerDep,
        state: Text = None,
        q: Text = None,
        cursor: Text = None,
    ) -> Response:
        context = await _listing(session, viewer, kind, state, q, cursor)
        return page(request, "list.html", context, viewer=viewer)

    async def live(
        request: Request,
        session: SessionDep,
        viewer: ViewerDep,
        state: Text = None,
        q: Text = None,
        cursor: Text = None,
    ) -> Response:
        context = await _listing(session, viewer, kind, state, q, cursor)
        return page(request, "_rows.html", context, viewer=viewer)

    async def one(
        item_id: str, request: Request, session: SessionDep, viewer: ViewerDep
    ) -> Response:
        found = await _detail(session, viewer, kind, item_id)
        fields = list(SPECS[kind].model_fields)
        spec = views.as_yaml(views.in_field_order(found.item.specification, fields))
        build_log, cut, offset = "", False, 0
        if found.build is not None:
            data = store(request).get(build_log_key(found.build.id)) or b""
            build_log, cut = views.log_tail(data, LOG_TAIL_BYTES)
            offset = len(data)
        context = {
            "kind": kind,
            "found": found,
            "spec": spec,
            "build_log": build_log,
            "build_log_cut": cut,
            "build_log_offset": offset,
        }
        return page(request, "item.html", context, viewer=viewer)

    async def one_live(
        item_id: str, request: Request, session: SessionDep, viewer: ViewerDep
    ) -> Response:
        found = await _detail(session, viewer, kind, item_id)
        return page(request, "_item_live.html", {"kind": kind, "found": found}, viewer=viewer)

    router.add_api_route(f"/{kind}", listing, methods=["GET"])
    router.add_api_route(f"/{kind}/live", live, methods=["GET"])
    router.add_api_route(f"/{kind}/{{item_id}}", one, methods=["GET"])
    router.add_api_route(f"/{kind}/{{item_id}}/live", one_live, methods=["GET"])


async def _detail(
    session: SessionDep, viewer: ViewerDep, kind: str, item_id: str
) -> queries.Detail:
    what = kind[:-1]
    found = await queries.detail(session, KINDS[kind], viewer.project_id, parse_id(item_id, what))
    if found is None:
        raise Missing(f"no {what} {item_id}")
    return found


@router.get("/inspections/new")
async def new_inspection(request: Request, viewer: ViewerDep) -> Response:
    return page(request, "new.html", {"values": {}, "errors": {}, "general": []}, viewer=viewer)


# After /inspections/new, so that "new" is never taken for an id.
for _kind in KINDS:
    _add_list_routes(_kind)


@router.get("/inspections/{item_id}/build/log/stream")
async def build_log_stream(
    item_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> Response:
    """The build's log as server-sent events (logstream.stream, as the API's follow=true),
    for the dashboard's script, which has the session cookie and no bearer token."""
    found = await _detail(session, viewer, "inspections", item_id)
    assert isinstance(found.item, Inspection)
    follow = logstream.follow_query(
        True, offset_param(request), request.headers.get("last-event-id")
    )
    probe = logstream.build_probe(request.app.state.sessions, found.item.build_id)
    key = build_log_key(found.item.build_id)
    return secured(request, await logstream.respond(request, session, key, probe, follow))


def offset_param(request: Request) -> int | None:
    value = request.query_params.get("offset", "")
    return int(value) if value.isdigit() else None


@router.get("/nodes")
async def nodes(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    gpu: Text = None,
) -> Response:
    every = await queries.nodes(session)
    shown = [row for row in every if not gpu or any(e[0] == gpu for e in row.entries)]
    models = sorted({entry[0] for row in every for entry in row.entries})
    bars = views.gpu_bars([entry for row in shown for entry in row.entries])
    context = {
        "rows": shown,
        "bars": bars,
        "models": models,
        "gpu": gpu or "",
    }
    return page(request, "nodes.html", context, viewer=viewer)


@router.get("/testbeds")
async def testbeds(
    request: Request,
    session: SessionDep,
    viewer: AdminViewerDep,
    refreshed: Text = None,
) -> Response:
    rows = await queries.testbeds(session)
    context = {"rows": rows, "refreshed": refreshed or ""}
    return page(request, "testbeds.html", context, viewer=viewer)
