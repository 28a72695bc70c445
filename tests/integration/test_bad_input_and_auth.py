"""Bad input answers 422 naming the field; tokens and projects keep data apart."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack

SCRIPT = "#!/bin/sh\ntrue\n"


def _fields(response: httpx.Response) -> list[str]:
    return [item["field"] for item in response.json()["fields"]]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"script": SCRIPT}, "base", "required"),
        ({"base": "host", "colour": "blue"}, "colour", "unknown field"),
        ({"base": "host", "batch_size": 0}, "batch_size", "greater than or equal to 1"),
        ({"base": "host", "run": {"requests": {"memory": "-4GiB"}}}, "run.requests.memory", ""),
        ({"base": "host", "run": {"requests": {"memory": "4096"}}}, "run.requests.memory", "unit"),
        (
            {"base": "host", "run": {"requests": {"hardware": {"gpu": "H100:two:x:y"}}}},
            "run.requests.hardware",
            "gpu",
        ),
        ({"base": "host", "script": "#!/bin/sh\n" + "#" * 70_000}, "script", "limit"),
        (
            {"base": "host", "python_packages": ["--index-url=http://evil"]},
            "python_packages[0]",
            "pip options",
        ),
        (
            {"base": "host", "files": [{"path": "../../etc/passwd", "content": "x"}]},
            "files[0].path",
            "inside",
        ),
        ({"base": "host", "environment": {"BAD-NAME": "x"}}, "environment", "name"),
        ({"base": "host", "packages": ["vim; rm -rf /"]}, "packages[0]", "package name"),
        ({"base": "not a/valid//image"}, "base", "image reference"),
    ],
)
def test_bad_inspection_names_the_field(
    client: httpx.Client, body: dict[str, Any], field: str, words: str
) -> None:
    response = client.post("/inspections", json=body)
    assert response.status_code == 422, response.text
    assert field in _fields(response), response.json()
    assert words in response.text


def test_request_no_node_can_satisfy_names_the_constraint(client: httpx.Client) -> None:
    response = client.post(
        "/inspections",
        json={
            "base": "host",
            "script": SCRIPT,
            "run": {"requests": {"hardware": {"gpu": "H100:1"}}},
        },
    )
    assert response.status_code == 422
    assert _fields(response) == ["run.requests.hardware"]
    assert "H100" in response.json()["detail"]


def test_unknown_testbed_is_refused(client: httpx.Client) -> None:
    response = client.post("/deployments", json={"command": ["true"], "testbed": "nowhere"})
    assert response.status_code == 422 and _fields(response) == ["testbed"]


def test_no_token_is_401(stack: Stack) -> None:
    assert httpx.get(f"{stack.url}/api/v1/inspections").status_code == 401
    bad = httpx.get(f"{stack.url}/api/v1/inspections", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"


def test_other_projects_ids_are_404(stack: Stack, client: httpx.Client) -> None:
    inspection_id = client.post("/inspections", json={"base": "host", "script": SCRIPT}).json()[
        "inspection_id"
    ]
    deployment_id = client.post("/deployments", json={"command": ["true"]}).json()["deployment_id"]
    with stack.client(stack.other_token) as other:
        for path in (
            f"/inspections/{inspection_id}",
            f"/inspections/{inspection_id}/status",
            f"/inspections/{inspection_id}/specification",
            f"/inspections/{inspection_id}/build/log",
            f"/inspections/{inspection_id}/runs",
            f"/inspections/{inspection_id}/runs/0/log",
            f"/inspections/{inspection_id}/runs/0/result",
            f"/deployments/{deployment_id}",
            f"/deployments/{deployment_id}/runs/0/log",
        ):
            assert other.get(path).status_code == 404, path
        assert other.delete(f"/inspections/{inspection_id}").status_code == 404
        assert other.delete(f"/deployments/{deployment_id}").status_code == 404
        listed = other.get("/inspections").json()["items"]
        assert inspection_id not in {item["id"] for item in listed}


def test_testbeds_are_admin_only_and_credentials_write_only(
    stack: Stack, client: httpx.Client
) -> None:
    assert client.get("/testbeds").status_code == 403
    with stack.client(stack.admin_token) as admin:
        listed = admin.get("/testbeds").json()["items"]
        assert [t["name"] for t in listed] == ["local"] and listed[0]["nodes"] == 1
        created = admin.post(
            "/testbeds", json={"name": "spare", "kind": "local", "credentials": "s3cret-key"}
        )
        assert created.status_code == 201, created.text
        assert "s3cret-key" not in created.text and created.json()["has_credentials"]
        testbed_id = created.json()["id"]
        assert "s3cret-key" not in admin.get(f"/testbeds/{testbed_id}").text
        assert admin.post(f"/testbeds/{testbed_id}/refresh").status_code == 202
        assert admin.post("/testbeds", json={"name": "spare", "kind": "local"}).status_code == 409
        refused = admin.post("/testbeds", json={"name": "hpc", "kind": "openstack"})
        assert refused.status_code == 422 and _fields(refused) == ["kind"]
        no_config = admin.post("/testbeds", json={"name": "hpc", "kind": "slurm"})
        assert no_config.status_code == 422 and _fields(no_config) == ["config.host"]
        assert admin.delete(f"/testbeds/{testbed_id}").status_code == 204
        assert admin.get(f"/testbeds/{testbed_id}").status_code == 404


def test_nodes_inventory_and_filters(client: httpx.Client) -> None:
    nodes = client.get("/nodes").json()["items"]
    assert len(nodes) == 1 and nodes[0]["testbed"] == "local"
    node = nodes[0]
    assert node["cores"] >= 1 and node["memory_bytes"] > 0 and "native" in node["runtimes"]
    assert client.get("/nodes", params={"accelerator": "H100"}).json()["items"] == []
    assert client.get("/nodes", params={"arch": node["arch"]}).json()["items"]
    assert client.get("/nodes", params={"testbed": "elsewhere"}).json()["items"] == []
    bad = client.get("/nodes", params={"accelerator": "H100:0"})
    assert bad.status_code == 422 and _fields(bad) == ["accelerator"]
