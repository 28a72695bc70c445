"""The dashboard's forms: sign in and out, submit an inspection, refresh a testbed.

Every POST checks the CSRF token first (session.check_csrf). A submit goes the API's own
way (InspectionSpec, service.accept, the request's unit of work), so a form refused is
refused for the reason the API gives, shown next to the field it names.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from services.api import deps, service
from services.api.deps import SessionDep, UnitOfWork
from services.api.errors import Unprocessable
from services.api.web import session as web_session
from services.api.web.pages import parse_id
from services.api.web.render import page, secured
from services.api.web.session import AdminViewerDep, Missing, ViewerDep
from shared.db.models import Testbed
from shared.security import hash_token
from shared.specs import InspectionSpec

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=2_000_000)]
# The form's fields, and where in InspectionSpec each one goes.
FORM_FIELDS = ("identifier", "base", "script", "python_packages", "hardware", "batch_size")
SPEC_TO_FORM = {"run": "hardware", "build": "hardware"}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only, never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _redirect(request: Request, to: str) -> Response:
    return secured(request, RedirectResponse(to, status_code=303))


@router.get("/signin")
async def signin_form(request: Request, next: str | None = None) -> Response:
    viewer = await web_session.optional_viewer(request)
    if viewer is not None:
        return _redirect(request, safe_next(next))
    context = {"next": safe_next(next), "error": None}
    return page(request, "signin.html", context)


@router.post("/signin")
async def signin(
    request: Request, csrf: Field = "", token: Field = "", next: Field = "/"
) -> Response:
    web_session.check_csrf(request, csrf)
    token = token.strip()
    principal = await deps.principal_of(request, hash_token(token)) if token else None
    if principal is None:
        error = (
            "That token is unknown or revoked. Check it, or make one with "
            "tessera admin create-token."
            if token
            else "Paste an API token."
        )
        context = {"next": safe_next(next), "error": error}
        return page(request, "signin.html", context, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    value = web_session.session_value(request, hash_token(token))
    web_session.set_cookie(
        request, response, web_session.SESSION_COOKIE, value, max_age=web_session.SESSION_S
    )
    web_session.renew_csrf(request)
    return secured(request, response)


@router.post("/signout")
async def signout(request: Request, csrf: Field = "") -> Response:
    web_session.check_csrf(request, csrf)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(web_session.SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    web_session.renew_csrf(request)
    return secured(request, response)


def spec_body(values: dict[str, str]) -> dict[str, Any]:
    """The form as the InspectionSpec JSON a client would send."""
    body: dict[str, Any] = {"base": values.get("base", "").strip() or "host"}
    # Browsers send a textarea's line ends as CRLF; a script's first line would keep the CR.
    script = values.get("script", "").replace("\r\n", "\n")
    if script.strip():
        body["script"] = script
    if values.get("identifier", "").strip():
        body["identifier"] = values["identifier"].strip()
    packages = [line.strip() for line in values.get("python_packages", "").splitlines()]
    if any(packages):
        body["python_packages"] = [p for p in packages if p]
    hardware = values.get("hardware", "").strip()
    if hardware:
        body["run"] = {"requests": {"hardware": hardware}}
    batch = values.get("batch_size", "").strip()
    if batch:
        body["batch_size"] = int(batch) if batch.isdigit() else batch
    return body


def form_field(path: str) -> str | None:
    """The form field a spec field's error belongs next to; None: above the form."""
    head = path.split(".")[0].split("[")[0]
    if head in FORM_FIELDS:
        return head
    return SPEC_TO_FORM.get(head)


def _path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        text = str(part)
        path += f"[{text}]" if isinstance(part, int) else (f".{text}" if path else text)
    return path or "body"


def spec_errors(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, reason) as the API's 422 names them."""
    found = []
    for each in error.errors():
        reason = str(each.get("msg", "invalid")).removeprefix("Value error, ")
        if each.get("type") == "missing":
            reason = "field required"
        found.append((_path(tuple(each["loc"])), reason))
    return found


@router.post("/inspections/new")
async def submit(
    request: Request,
    viewer: ViewerDep,
    csrf: Field = "",
    identifier: Field = "",
    base: Field = "host",
    script: Field = "",
    python_packages: Field = "",
    hardware: Field = "",
    batch_size: Field = "1",
) -> Response:
    web_session.check_csrf(request, csrf)
    values = {
        "identifier": identifier,
        "base": base,
        "script": script,
        "python_packages": python_packages,
        "hardware": hardware,
        "batch_size": batch_size,
    }
    problems: list[tuple[str, str]]
    try:
        spec = InspectionSpec.model_validate(spec_body(values))
        async with UnitOfWork(request) as work:
            created = await service.accept(
                request.app.state, work, service.create_inspection, viewer.project_id, spec
            )
    except ValidationError as error:
        problems = spec_errors(error)
    except Unprocessable as error:
        problems = [(f.field, f.reason) for f in error.fields] or [("body", error.detail)]
    else:
        return _redirect(request, f"/inspections/{created.id}")
    errors: dict[str, list[str]] = {}
    general = []
    for path, reason in problems:
        where = form_field(path)
        if where is None:
            general.append(f"{path}: {reason}")
        else:
            errors.setdefault(where, []).append(f"{path}: {reason}")
    context = {"values": values, "errors": errors, "general": general}
    return page(request, "new.html", context, status_code=422, viewer=viewer)


@router.post("/testbeds/{testbed_id}/refresh")
async def refresh_testbed(
    testbed_id: str,
    request: Request,
    session: SessionDep,
    _viewer: AdminViewerDep,
    csrf: Field = "",
) -> Response:
    """Re-discover the testbed's nodes now (the API's POST /testbeds/{id}/refresh)."""
    web_session.check_csrf(request, csrf)
    testbed = await session.get(Testbed, parse_id(testbed_id, "testbed"))
    if testbed is None:
        raise Missing(f"no testbed {testbed_id}")
    async with UnitOfWork(request) as work:  # writes nothing: sends the task
        work.send(("monitor.refresh", str(testbed.id)))
    return _redirect(request, f"/testbeds?refreshed={testbed.name}")
