"""Retries: each placement of a run is an attempt, listed under the run; a run whose attempt
failed is placed again when its request's retry policy says so, and its result is the last
attempt's."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import Stack

# Fails its first attempt (exit 3), succeeds after: the attempt number is in its environment.
FLAKY = ["sh", "-c", 'echo "attempt $TESSERA_ATTEMPT"; test "$TESSERA_ATTEMPT" -ge 2 || exit 3']


def _only_run(client: httpx.Client, deployment_id: str) -> dict[str, Any]:
    runs: list[dict[str, Any]] = client.get(f"/deployments/{deployment_id}/runs").json()["items"]
    assert len(runs) == 1
    return runs[0]


def test_a_failed_attempt_is_retried_and_the_run_succeeds(
    stack: Stack, client: httpx.Client
) -> None:
    retry = {"attempts": 3, "on": ["failed"], "backoff_s": 1}
    created = client.post("/deployments", json={"command": FLAKY, "retry": retry})
    assert created.status_code == 202, created.text
    deployment_id = created.json()["deployment_id"]
    final = stack.wait(client, f"/deployments/{deployment_id}", timeout=90)
    assert final["state"] == "succeeded", final
    run = _only_run(client, deployment_id)
    assert run["attempt"] == 2 and run["exit_code"] == 0
    attempts = client.get(f"/runs/{run['id']}/attempts").json()["items"]
    assert [a["number"] for a in attempts] == [1, 2]
    assert [a["state"] for a in attempts] == ["failed", "succeeded"]
    assert attempts[0]["exit_code"] == 3 and attempts[0]["state_reason"] == "exit code 3"
    assert all(a["testbed"] == "local" and a["node_name"] for a in attempts)
    chosen = attempts[1]["placement"]["chosen"]
    assert chosen["testbed"] == "local" and attempts[1]["placement"]["fitting_nodes"] >= 1
    # the backoff: the second attempt was placed at least backoff_s after the first ended
    gap = _seconds(attempts[1]["placed_at"]) - _seconds(attempts[0]["finished_at"])
    assert gap >= 1.0, gap
    result = client.get(f"/runs/{run['id']}/result").json()
    assert result["exit_code"] == 0 and result["stdout"] == "attempt 2\n"
    assert result["attempt"] == 2


def test_without_a_policy_a_failed_run_has_one_attempt(stack: Stack, client: httpx.Client) -> None:
    created = client.post("/deployments", json={"command": FLAKY})
    deployment_id = created.json()["deployment_id"]
    final = stack.wait(client, f"/deployments/{deployment_id}", timeout=60)
    assert final["state"] == "failed"
    run = _only_run(client, deployment_id)
    attempts = client.get(f"/runs/{run['id']}/attempts").json()["items"]
    assert [(a["number"], a["state"]) for a in attempts] == [(1, "failed")]


def test_attempts_run_out(stack: Stack, client: httpx.Client) -> None:
    retry = {"attempts": 2, "on": ["failed"]}
    created = client.post("/deployments", json={"command": ["false"], "retry": retry})
    deployment_id = created.json()["deployment_id"]
    final = stack.wait(client, f"/deployments/{deployment_id}", timeout=60)
    assert final["state"] == "failed"
    run = _only_run(client, deployment_id)
    attempts = client.get(f"/runs/{run['id']}/attempts").json()["items"]
    assert [a["state"] for a in attempts] == ["failed", "failed"]


def test_a_bad_policy_is_refused_naming_the_field(client: httpx.Client) -> None:
    for retry, field in (
        ({"attempts": 0}, "attempts"),
        ({"on": ["sometimes"]}, "on"),
        ({"on": ["lost", "lost"]}, "on"),
        ({"backoff_s": -1}, "backoff_s"),
    ):
        answer = client.post("/deployments", json={"command": ["true"], "retry": retry})
        assert answer.status_code == 422, answer.text
        assert field in answer.text and "retry" in answer.text
    answer = client.post("/deployments", json={"command": ["true"], "queue_timeout_s": 0})
    assert answer.status_code == 422 and "queue_timeout_s" in answer.text


def test_another_projects_run_attempts_are_not_found(stack: Stack, client: httpx.Client) -> None:
    created = client.post("/deployments", json={"command": ["true"]})
    deployment_id = created.json()["deployment_id"]
    stack.wait(client, f"/deployments/{deployment_id}")
    run = _only_run(client, deployment_id)
    with stack.client(stack.other_token) as other:
        assert other.get(f"/runs/{run['id']}/attempts").status_code == 404


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()
