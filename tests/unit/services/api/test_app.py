"""The API in-process on the embedded default (SQLite database and broker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.cli.server import _migrate, _register_local, create_token
from shared.config import Settings


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    _migrate(settings)
    _register_local(settings)
    tokens = {
        "alpha": create_token("alpha", admin=False),
        "beta": create_token("beta", admin=False),
        "admin": create_token("admin", admin=True),
    }
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_and_readiness(api: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = api
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_submit_then_read_back(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    headers = _auth(tokens["alpha"])
    created = client.post(
        "/api/v1/inspections",
        headers=headers,
        json={"base": "host", "script": "echo hi", "batch_size": 2},
    )
    assert created.status_code == 202, created.text
    inspection_id = created.json()["inspection_id"]
    got = client.get(f"/api/v1/inspections/{inspection_id}", headers=headers).json()
    assert got["state"] == "pending" and got["batch_size"] == 2
    assert got["created_at"].endswith("Z"), "datetimes are UTC on SQLite too"
    assert got["build"]["runtime"] == "native" and len(got["build"]["spec_hash"]) == 64
    status = client.get(f"/api/v1/inspections/{inspection_id}/status", headers=headers).json()
    assert status["runs"] == {"pending": 2}
    result = client.get(f"/api/v1/inspections/{inspection_id}/runs/0/result", headers=headers)
    assert result.status_code == 409 and "pending" in result.json()["detail"]
    assert (
        client.get(f"/api/v1/inspections/{inspection_id}/runs/5/log", headers=headers).status_code
        == 404
    )
    cancelled = client.delete(f"/api/v1/inspections/{inspection_id}", headers=headers).json()
    assert cancelled == {"state": "cancelled", "cancelled_runs": 2}


def test_isolation_and_roles(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    created = client.post(
        "/api/v1/deployments", headers=_auth(tokens["alpha"]), json={"command": ["true"]}
    )
    deployment_id = created.json()["deployment_id"]
    assert (
        client.get(
            f"/api/v1/deployments/{deployment_id}", headers=_auth(tokens["beta"])
        ).status_code
        == 404
    )
    assert client.get("/api/v1/testbeds", headers=_auth(tokens["alpha"])).status_code == 403
    assert client.get("/api/v1/testbeds", headers=_auth(tokens["admin"])).status_code == 200
    assert client.get("/api/v1/inspections").status_code == 401


def test_body_limit(api: tuple[TestClient, dict[str, str]], settings: Settings) -> None:
    client, tokens = api
    body = b'{"base": "host", "script": "' + b"x" * settings.max_body_bytes + b'"}'
    response = client.post(
        "/api/v1/inspections",
        headers={**_auth(tokens["alpha"]), "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_bad_cursor_is_422(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    response = client.get(
        "/api/v1/inspections", params={"cursor": "!!"}, headers=_auth(tokens["alpha"])
    )
    assert response.status_code == 422 and response.json()["fields"][0]["field"] == "cursor"


def test_rate_limit_answers_429_with_retry_after(settings: Settings) -> None:
    from services.api.deps import RateLimiter

    limiter = RateLimiter(rate=5)
    assert all(limiter.wait_for("t") == 0 for _ in range(10)), "a burst of twice the rate"
    wait = limiter.wait_for("t")
    assert 0 < wait <= 0.2
    assert limiter.wait_for("other") == 0, "each token has its own bucket"
    assert RateLimiter(rate=0).wait_for("t") == 0, "0 turns it off"


def test_rate_limited_request(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_per_s": 1.0})
    _migrate(limited)
    token = create_token("alpha", admin=False)
    with TestClient(create_app(limited)) as client:
        codes = [client.get("/api/v1/inspections", headers=_auth(token)) for _ in range(4)]
    assert [r.status_code for r in codes[:2]] == [200, 200]
    assert codes[3].status_code == 429 and codes[3].headers["Retry-After"] == "1"
    assert codes[3].json()["error"] == "too_many_requests"


def test_cors_is_off_unless_configured(settings: Settings) -> None:
    _migrate(settings)
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(settings)) as client:
        response = client.options("/api/v1/inspections", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    allowed = settings.model_copy(update={"cors_origins": ["https://ui.example"]})
    with TestClient(create_app(allowed)) as client:
        response = client.options("/api/v1/inspections", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://ui.example"
