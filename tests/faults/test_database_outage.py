"""Postgres stopped: the API answers 503 with a clear body, never 500, and recovers alone."""

from __future__ import annotations

import time

import httpx

from tests.faults.conftest import FaultStack, api


def test_api_answers_503_while_postgres_is_down(fault_stack: FaultStack) -> None:
    assert fault_stack.postgres is not None
    with api(fault_stack) as http:
        assert http.get("/inspections").status_code == 200
        fault_stack.postgres.stop()
        try:
            for _ in range(3):
                for response in (
                    http.get("/inspections"),
                    http.post("/deployments", json={"command": ["true"]}),
                    httpx.get(f"{fault_stack.url}/readyz"),
                ):
                    assert response.status_code == 503, response.text
                    body = response.json()
                    assert body.get("error") == "database_unavailable" or (
                        body.get("checks", {}).get("database", "").startswith("error")
                    )
        finally:
            fault_stack.postgres.start()
        deadline = time.monotonic() + 30
        while http.get("/inspections").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover"
            time.sleep(0.5)
        created = http.post("/deployments", json={"command": ["true"]})
        assert created.status_code == 202
        final = fault_stack.wait(
            http, f"/deployments/{created.json()['deployment_id']}", timeout=120
        )
        assert final["state"] == "succeeded", "the workers recovered too"
