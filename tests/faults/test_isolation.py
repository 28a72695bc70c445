"""Every endpoint that takes an id hides other projects' rows (404); admin endpoints refuse
project tokens (403); no response body or log line carries a stored secret."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.faults.conftest import FaultStack, api

SECRET = "-----BEGIN OPENSSH PRIVATE KEY-----tessera-isolation-canary-5f1e"


def _operations(stack: FaultStack) -> list[tuple[str, str]]:
    schema = httpx.get(f"{stack.url}/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "delete", "put", "patch")
    ]


def _ids(stack: FaultStack) -> dict[str, str]:
    """One of each resource, owned by project alpha."""
    with api(stack) as http:
        inspection = http.post("/inspections", json={"base": "host", "script": "true"}).json()
        deployment = http.post("/deployments", json={"command": ["true"]}).json()
        final = stack.wait(http, f"/deployments/{deployment['deployment_id']}")
        assert final["state"] == "succeeded"
        runs = http.get(f"/deployments/{deployment['deployment_id']}/runs").json()["items"]
    return {
        "inspection": inspection["inspection_id"],
        "deployment": deployment["deployment_id"],
        "run": runs[0]["id"],
    }


def _fill(path: str, ids: dict[str, str], testbed: str) -> str:
    resource = (
        "inspection"
        if path.startswith("/api/v1/inspections")
        else ("deployment" if path.startswith("/api/v1/deployments") else "run")
    )
    values = {
        "item_id": ids.get(resource, ids["run"]),
        "run_id": ids["run"],
        "index": "0",
        "testbed_id": testbed,
        "inspection_id": ids["inspection"],
        "deployment_id": ids["deployment"],
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), ids["run"]), path)


ADMIN_ONLY = ("/api/v1/testbeds", "/api/v1/nodes")


def _call(http: httpx.Client, method: str, url: str) -> httpx.Response:
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    return http.request(method, url, json=body, params={"follow": "false"})


def test_other_projects_and_roles(fault_stack: FaultStack) -> None:
    ids = _ids(fault_stack)
    with api(fault_stack, fault_stack.admin_token) as admin:
        created = admin.post(
            "/testbeds", json={"name": "isolation", "kind": "local", "credentials": SECRET}
        )
        assert created.status_code == 201, created.text
        testbed = created.json()["id"]
    with httpx.Client(
        base_url=fault_stack.url,
        timeout=30,
        headers={"Authorization": f"Bearer {fault_stack.other_token}"},
    ) as other:
        checked = 0
        wrong = []
        for method, path in _operations(fault_stack):
            if "{" not in path:
                continue
            url = _fill(path, ids, testbed)
            response = _call(other, method, url)
            expected = 403 if path.startswith(ADMIN_ONLY) else 404
            if response.status_code == 422 and response.json().get("error") == "validation_error":
                # The body is checked before the id is looked up: the same answer for an id
                # that exists and one that does not, so it tells nothing of the other project.
                unknown = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", str(uuid.uuid4()), url)
                if _call(other, method, unknown).json() == response.json():
                    continue
            if response.status_code != expected:
                wrong.append((method, path, response.status_code, response.text[:200]))
            checked += 1
        assert not wrong, wrong
        assert checked >= 15, "every endpoint with an id was tried"
    with api(fault_stack) as project:
        for method, path in _operations(fault_stack):
            if path.startswith("/api/v1/testbeds"):
                response = _call(project, method, _fill(path, ids, testbed).removeprefix("/api/v1"))
                assert response.status_code == 403, (method, path)


def test_secrets_never_leave(fault_stack: FaultStack) -> None:
    with api(fault_stack, fault_stack.admin_token) as admin:
        created = admin.post(
            "/testbeds", json={"name": "secretive", "kind": "local", "credentials": SECRET}
        )
        assert created.status_code == 201
        bodies = [
            created.text,
            admin.get("/testbeds").text,
            admin.get(f"/testbeds/{created.json()['id']}").text,
            admin.post(f"/testbeds/{created.json()['id']}/refresh").text,
        ]
        assert admin.delete(f"/testbeds/{created.json()['id']}").status_code == 204
    assert all(SECRET not in body for body in bodies)
    for log in fault_stack.home.glob("*.log"):
        assert SECRET not in log.read_text(errors="replace"), log.name
