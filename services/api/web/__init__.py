"""The web dashboard, served by the API process at `/`: server-rendered pages (Jinja2),
htmx (vendored in static/) for the live parts, signed in with an API token.

None of its routes are in the OpenAPI document: they are pages, not API.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from services.api.web import forms, pages, run_pages
from services.api.web.render import Static, page, secured
from services.api.web.session import SignInNeeded, Unconfigured, WebError, optional_viewer


async def _web_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, WebError)
    htmx = request.headers.get("hx-request") == "true"
    if isinstance(error, SignInNeeded):
        # Back to where the browser was going; after a POST (a form whose session ended),
        # to the overview: a form's target is not a page.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        to = f"/signin?next={quote(target if request.method == 'GET' else '/', safe='/')}"
        if htmx:
            return secured(request, Response(status_code=401, headers={"HX-Redirect": to}))
        return secured(request, RedirectResponse(to, status_code=303))
    if isinstance(error, Unconfigured):  # no key: no page with forms can be made
        return secured(request, PlainTextResponse(error.message, status_code=503))
    viewer = await optional_viewer(request)
    context = {"status": error.status_code, "message": error.message}
    return page(request, "error.html", context, status_code=error.status_code, viewer=viewer)


def install(app: FastAPI) -> None:
    """Mount the dashboard on `app`, after the API's routes."""
    for module in (forms, pages, run_pages):
        app.include_router(module.router)
    app.mount("/static", Static(packages=[("services.api.web", "static")]), name="static")
    app.add_exception_handler(WebError, _web_error)
