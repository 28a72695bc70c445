"""Deployments: a command run without a build, on the local testbed."""

from __future__ import annotations

import httpx

from tests.integration.conftest import Stack


def test_command_deployment_runs(stack: Stack, client: httpx.Client) -> None:
    created = client.post(
        "/deployments",
        json={
            "command": ["python3", "-c", "import json; print(json.dumps({'ok': True}))"],
            "batch_size": 2,
        },
    )
    assert created.status_code == 202, created.text
    deployment_id = created.json()["deployment_id"]
    final = stack.wait(client, f"/deployments/{deployment_id}/status")
    assert final["state"] == "succeeded" and final["runs"] == {"succeeded": 2}
    result = client.get(f"/deployments/{deployment_id}/runs/1/result").json()
    assert result["stdout"] == {"ok": True} and result["exit_code"] == 0
    assert result["hwinfo"]["cpu"]["threads"] >= 1


def test_failing_deployment(stack: Stack, client: httpx.Client) -> None:
    created = client.post("/deployments", json={"command": ["sh", "-c", "echo no >&2; exit 7"]})
    final = stack.wait(client, f"/deployments/{created.json()['deployment_id']}")
    assert final["state"] == "failed"
    result = client.get(f"/deployments/{created.json()['deployment_id']}/runs/0/result").json()
    assert result["exit_code"] == 7 and result["stderr"] == "no\n"


def test_timeout_fails_the_run(stack: Stack, client: httpx.Client) -> None:
    created = client.post("/deployments", json={"command": ["sleep", "60"], "timeout": 1})
    final = stack.wait(client, f"/deployments/{created.json()['deployment_id']}", timeout=60)
    assert final["state"] == "failed" and "timed out" in final["state_reason"]
