"""Who is looking at the dashboard: a signed session cookie, CSRF tokens for its forms.

The session cookie holds the digest of the API token the user signed in with (never the
token), an expiry and an HMAC over both with a key derived from TESSERA_SECRET_KEY. Each
request looks the digest up like the API looks up a bearer token (the same cache, the same
query), so a revoked token signs its sessions out within `auth_cache_s`.

CSRF: a random nonce in its own cookie; each form carries HMAC(key, nonce), which a page of
another site can neither read nor compute. Both cookies are HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as random
import time
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import Response

from services.api import deps
from services.api.deps import Principal
from shared import secrets

SESSION_COOKIE = "tessera_session"
CSRF_COOKIE = "tessera_csrf"
SESSION_S = 12 * 3600


class WebError(Exception):
    """A page that cannot be shown: rendered as the dashboard's error page."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Missing(WebError):
    status_code = 404


class Refused(WebError):
    status_code = 403


class SignInNeeded(WebError):
    """No valid session: pages redirect to the sign-in form, fragments answer 401."""

    status_code = 401


class Unconfigured(WebError):
    status_code = 503


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    digest: str

    @property
    def project_id(self) -> uuid.UUID:
        return self.principal.project_id

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin


def _key(request: Request) -> bytes:
    state = request.app.state
    key: bytes | None = getattr(state, "web_key", None)
    if key is None:
        try:
            key = secrets.derived_key("tessera-dashboard-v1", state.settings)
        except secrets.SecretError as error:
            raise Unconfigured(f"the dashboard needs a secret key: {error}") from None
        state.web_key = key
    return key


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def session_value(request: Request, digest: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_S)
    body = f"{digest}.{expires}"
    return f"{body}.{_sign(_key(request), body)}"


def session_digest(request: Request, value: str, now: float | None = None) -> str | None:
    """The token digest a cookie value carries, if it is ours, intact and not expired."""
    digest, _, rest = value.partition(".")
    expires, _, signature = rest.partition(".")
    if not (digest and expires.isdigit() and signature):
        return None
    if not hmac.compare_digest(signature, _sign(_key(request), f"{digest}.{expires}")):
        return None
    if int(expires) < (now or time.time()):
        return None
    return digest


async def get_viewer(request: Request) -> Viewer:
    value = request.cookies.get(SESSION_COOKIE)
    digest = session_digest(request, value) if value else None
    principal = await deps.principal_of(request, digest) if digest else None
    if digest is None or principal is None:
        raise SignInNeeded("sign in with an API token")
    return Viewer(principal, digest)


async def get_admin_viewer(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
    if not viewer.is_admin:
        raise Refused("this page needs an admin token")
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
AdminViewerDep = Annotated[Viewer, Depends(get_admin_viewer)]


async def optional_viewer(request: Request) -> Viewer | None:
    try:
        return await get_viewer(request)
    except SignInNeeded:
        return None


def csrf_token(request: Request) -> str:
    """The token this browser's forms carry; a new nonce is set with the response."""
    nonce = getattr(request.state, "csrf_nonce", None) or request.cookies.get(CSRF_COOKIE)
    if not nonce:
        nonce = random.token_urlsafe(24)
        request.state.csrf_nonce = nonce
    return _sign(_key(request), f"csrf|{nonce}")


def renew_csrf(request: Request) -> None:
    """A fresh nonce from this response on (at sign-in: no nonce planted before survives)."""
    request.state.csrf_nonce = random.token_urlsafe(24)


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse a form POST without this browser's token, or sent from another origin."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise Refused("the form was sent from another site")
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or not sent:
        raise Refused("the form has expired; reload the page and send it again")
    if not hmac.compare_digest(sent, _sign(_key(request), f"csrf|{nonce}")):
        raise Refused("the form has expired; reload the page and send it again")


def set_cookies(request: Request, response: Response) -> None:
    """The cookies this request decided on (a new CSRF nonce), with the same flags."""
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce:
        set_cookie(request, response, CSRF_COOKIE, nonce, max_age=SESSION_S)


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
