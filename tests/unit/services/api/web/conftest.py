"""The API with its dashboard in-process on SQLite, and a browser-like client signing in."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.cli.server import create_token
from shared.config import Settings
from tests.unit.services.api.conftest import Api, running

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Sign `client` in (a fresh cookie jar) with `token`; the CSRF token its forms carry."""
    client.cookies.clear()
    form = client.get("/signin")
    answer = client.post(
        "/signin", data={"csrf": csrf_of(form.text), "token": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


@pytest.fixture
def web(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with running("sqlite", monkeypatch) as api:
        api.tokens["beta"] = create_token("beta", admin=False)
        yield api
