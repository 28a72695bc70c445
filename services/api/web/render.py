"""Templates to responses: autoescaped Jinja2, and the headers every dashboard page has."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from services.api.web import session, views
from shared.states import REQUEST_STATES, RUN_STATES

# Scripts only from this origin, no inline script, no eval; styles from files only (the
# GPU bars are SVG attributes). Nothing may frame the dashboard.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _static_version() -> str:
    """A digest of the static files: their URLs change when they do, so they cache long."""
    digest = hashlib.sha256()
    folder = resources.files("services.api.web") / "static"
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if item.is_file():
            digest.update(item.name.encode() + item.read_bytes())
    return digest.hexdigest()[:12]


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("services.api.web", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = views.size
    env.filters["when"] = views.when
    env.globals["static_version"] = _static_version()
    env.globals["run_states"] = RUN_STATES
    env.globals["request_states"] = REQUEST_STATES
    return env


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(context)


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    viewer: session.Viewer | None = None,
) -> Response:
    """A page (or a fragment) with the viewer, a CSRF token for its forms and the headers."""
    values = {"request": request, "viewer": viewer, "csrf": session.csrf_token(request)}
    values.update(context or {})
    response = HTMLResponse(render(template, values), status_code=status_code)
    return secured(request, response)


def secured(request: Request, response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    session.set_cookies(request, response)
    return response


class Static(StaticFiles):
    """The vendored htmx, the dashboard's script and its style sheet: long-cached (their
    URLs carry the version), never sniffed as another type."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=86400, immutable"
        return response
