"""Session cookies and CSRF tokens: signed, expiring, bound to this browser and this site."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from services.api.web import session
from services.api.web.forms import form_field, safe_next, spec_body
from shared.config import Settings


def _request(settings: Settings, headers: dict[str, str] | None = None, cookie: str = "") -> Any:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookie:
        raw.append((b"cookie", cookie.encode()))
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    scope = {"type": "http", "headers": raw, "app": app, "method": "POST", "path": "/"}
    return Request(scope)


def test_session_value_round_trips_and_refuses_tampering(settings: Settings) -> None:
    request = _request(settings)
    digest = "ab" * 32
    value = session.session_value(request, digest)
    assert session.session_digest(request, value) == digest
    body, _, signature = value.rpartition(".")
    assert session.session_digest(request, f"{'cd' * 32}.{body.split('.')[1]}.{signature}") is None
    assert session.session_digest(request, value[:-1] + ("0" if value[-1] != "0" else "1")) is None
    assert session.session_digest(request, "garbage") is None
    later = time.time() + session.SESSION_S + 1
    assert session.session_digest(request, value, now=later) is None


def test_csrf_token_is_bound_to_the_nonce_cookie(settings: Settings) -> None:
    first = _request(settings)
    token = session.csrf_token(first)
    nonce = first.state.csrf_nonce
    same = _request(settings, cookie=f"{session.CSRF_COOKIE}={nonce}")
    session.check_csrf(same, token)
    other = _request(settings, cookie=f"{session.CSRF_COOKIE}=someone-else")
    with pytest.raises(session.Refused):
        session.check_csrf(other, token)
    with pytest.raises(session.Refused):
        session.check_csrf(same, "")
    foreign = _request(
        settings,
        {"origin": "https://evil.example", "host": "tessera:8000"},
        cookie=f"{session.CSRF_COOKIE}={nonce}",
    )
    with pytest.raises(session.Refused, match="another site"):
        session.check_csrf(foreign, token)
    local = _request(
        settings,
        {"origin": "http://tessera:8000", "host": "tessera:8000"},
        cookie=f"{session.CSRF_COOKIE}={nonce}",
    )
    session.check_csrf(local, token)


def test_next_stays_on_this_site() -> None:
    assert safe_next("/runs/1?x=2") == "/runs/1?x=2"
    for bad in ("https://evil.example/", "//evil.example", "/\\evil.example", "", None, "runs"):
        assert safe_next(bad) == "/"


def test_the_form_becomes_the_api_body() -> None:
    body = spec_body(
        {
            "identifier": " probe-1 ",
            "base": "",
            "script": "#!/bin/sh\r\necho hi\r\n",
            "python_packages": "numpy\n\n requests \n",
            "hardware": "H100:1",
            "batch_size": "3",
        }
    )
    assert body == {
        "base": "host",
        "script": "#!/bin/sh\necho hi\n",
        "identifier": "probe-1",
        "python_packages": ["numpy", "requests"],
        "run": {"requests": {"hardware": "H100:1"}},
        "batch_size": 3,
    }
    assert spec_body({"script": "  "}) == {"base": "host"}
    assert form_field("run.requests.hardware") == "hardware"
    assert form_field("python_packages[0]") == "python_packages"
    assert form_field("files[0].path") is None
