"""One commit per request, then its tasks: on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.routers import testbeds
from services.api.submit_pg import PgSubmits
from tests.unit.services.api.conftest import Api

INSPECTION = {"base": "host", "script": "echo hi", "batch_size": 2}


def test_tasks_are_sent_once_their_rows_are_committed(stack: Api) -> None:
    client = stack.client
    inspection = client.post("/api/v1/inspections", headers=stack.auth(), json=INSPECTION)
    assert inspection.status_code == 202, inspection.text
    deployment = client.post(
        "/api/v1/deployments", headers=stack.auth(), json={"command": ["true"], "batch_size": 3}
    )
    assert deployment.status_code == 202, deployment.text
    testbed = client.post(
        "/api/v1/testbeds", headers=stack.auth("admin"), json={"name": "lab", "kind": "local"}
    )
    assert testbed.status_code == 201, testbed.text
    refreshed = client.post(
        f"/api/v1/testbeds/{testbed.json()['id']}/refresh", headers=stack.auth("admin")
    )
    assert refreshed.status_code == 202
    names = [name for name, _, _ in stack.tasks.sent]
    assert names == ["builder.build"] + ["deployer.place"] * 3 + ["monitor.refresh"] * 2
    assert all(visible for _, _, visible in stack.tasks.sent), stack.tasks.sent


def test_cancel_commits_then_answers(stack: Api) -> None:
    client = stack.client
    created = client.post("/api/v1/inspections", headers=stack.auth(), json=INSPECTION).json()
    url = f"/api/v1/inspections/{created['inspection_id']}"
    assert client.delete(url, headers=stack.auth()).json() == {
        "state": "cancelled",
        "cancelled_runs": 2,
    }
    status = client.get(f"{url}/status", headers=stack.auth()).json()
    assert status["state"] == "cancelled" and status["runs"] == {"cancelled": 2}


async def _unreachable(*_args: Any, **_kwargs: Any) -> None:
    raise OperationalError("COMMIT", {}, ConnectionRefusedError("the database went away"))


def test_a_failed_commit_answers_503_and_sends_nothing(
    stack: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = stack.client
    monkeypatch.setattr(AsyncSession, "commit", _unreachable)
    monkeypatch.setattr(PgSubmits, "write", _unreachable)  # the submits' path on PostgreSQL
    for method, path, who, body in [
        ("POST", "/api/v1/inspections", "alpha", INSPECTION),
        ("POST", "/api/v1/deployments", "alpha", {"command": ["true"]}),
        ("POST", "/api/v1/testbeds", "admin", {"name": "lab", "kind": "local"}),
    ]:
        answer = client.request(method, path, headers=stack.auth(who), json=body)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "database_unavailable"
    monkeypatch.undo()
    assert stack.tasks.sent == []
    assert client.get("/api/v1/inspections", headers=stack.auth()).json()["items"] == []
    assert client.get("/api/v1/deployments", headers=stack.auth()).json()["items"] == []
    names = [
        t["name"]
        for t in client.get("/api/v1/testbeds", headers=stack.auth("admin")).json()["items"]
    ]
    assert "lab" not in names


def test_a_request_that_fails_sends_nothing(stack: Api) -> None:
    client = stack.client
    body = {"name": "lab", "kind": "local"}
    assert (
        client.post("/api/v1/testbeds", headers=stack.auth("admin"), json=body).status_code == 201
    )
    again = client.post("/api/v1/testbeds", headers=stack.auth("admin"), json=body)
    assert again.status_code == 409 and "exists" in again.json()["detail"]
    assert [name for name, _, _ in stack.tasks.sent] == ["monitor.refresh"]


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_testbed_delete_is_tried_again_after_a_deadlock(
    stack: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = stack.client
    made = client.post(
        "/api/v1/testbeds", headers=stack.auth("admin"), json={"name": "lab", "kind": "local"}
    ).json()
    real = testbeds._remove
    attempts: list[int] = []

    async def deadlocked_once(session: AsyncSession, testbed_id: Any) -> None:
        attempts.append(1)
        await real(session, testbed_id)
        if len(attempts) == 1:  # PostgreSQL aborted this attempt: its writes are rolled back
            raise DBAPIError("DELETE FROM testbeds", {}, _Deadlock())

    monkeypatch.setattr(testbeds, "_remove", deadlocked_once)
    gone = client.delete(f"/api/v1/testbeds/{made['id']}", headers=stack.auth("admin"))
    assert gone.status_code == 204 and len(attempts) == 2
    assert (
        client.get(f"/api/v1/testbeds/{made['id']}", headers=stack.auth("admin")).status_code == 404
    )
