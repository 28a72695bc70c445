"""The API's request metrics and its /metrics endpoint, in-process on the embedded default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.api.app import create_app
from shared.config import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as http:
        yield http


def _count(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("tessera_http_requests_total", labels) or 0.0


def _observed(method: str, route: str) -> float:
    labels = {"method": method, "route": route}
    return REGISTRY.get_sample_value("tessera_http_request_duration_seconds_count", labels) or 0.0


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    route = "/api/v1/inspections/{item_id}"
    before = _count("GET", route, "401"), _observed("GET", route)
    for _ in range(3):
        assert client.get("/api/v1/inspections/0b9e6f1c-0000-4000-8000-000000000001").status_code
    assert _count("GET", route, "401") - before[0] == 3
    assert _observed("GET", route) - before[1] == 3
    nested = "/api/v1/inspections/{item_id}/runs/{index}/result"
    before_nested = _count("GET", nested, "401")
    client.get("/api/v1/inspections/0b9e6f1c-0000-4000-8000-000000000001/runs/3/result")
    assert _count("GET", nested, "401") - before_nested == 1
    # The raw path, with its id, is never a label value.
    scrape = client.get("/metrics").text
    assert "0b9e6f1c" not in scrape


def test_unmatched_paths_share_one_label_and_odd_methods_another(client: TestClient) -> None:
    before = _count("GET", "unmatched", "404"), _count("other", "unmatched", "404")
    assert client.get("/no/such/thing").status_code == 404
    assert client.get("/another/probe").status_code == 404
    assert client.request("BREW", "/coffee").status_code == 404
    assert _count("GET", "unmatched", "404") - before[0] == 2
    assert _count("other", "unmatched", "404") - before[1] == 1


def test_refused_bodies_are_counted(client: TestClient, settings: Settings) -> None:
    route = "/api/v1/inspections"
    before = _count("POST", route, "413") + _count("POST", "unmatched", "413")
    body = b"x" * (settings.max_body_bytes + 1)
    assert client.post(route, content=body).status_code == 413
    after = _count("POST", route, "413") + _count("POST", "unmatched", "413")
    assert after - before == 1


def test_metrics_endpoint_needs_no_token_and_is_not_in_the_schema(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"tessera_http_requests", "tessera_http_request_duration_seconds"} <= names
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
