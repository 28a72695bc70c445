"""The generated Python client (clients/python) against the live API, and live logs (SSE)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from tessera_client import AuthenticatedClient, models
from tessera_client.api.deployments import create_deployment, get_deployment_run_result
from tessera_client.api.health import readyz
from tessera_client.api.inspections import (
    create_inspection,
    get_inspection,
    get_inspection_build_log,
    get_inspection_status,
    list_inspection_runs,
    list_inspections,
)
from tessera_client.api.nodes import list_nodes
from tessera_client.api.runs import get_run, get_run_log, get_run_result
from tessera_client.api.testbeds import list_testbeds
from tessera_client.models import (
    DeploymentCreated,
    DeploymentSpec,
    ErrorBody,
    Health,
    InspectionCreated,
    InspectionOut,
    InspectionPage,
    InspectionSpec,
    NodePage,
    RunList,
    RunOut,
    RunResult,
    Status,
)

from services.cli.user.api import Event, parse_events
from tests.integration.conftest import Stack

TERMINAL = {"succeeded", "failed", "cancelled"}
# Prints a line with its own clock every 0.3 s: the stream's latency is measured against it.
TICKS = """#!/usr/bin/env python3
import time
for i in range(8):
    print(f"tick {i} {time.time():.3f} é€", flush=True)
    time.sleep(0.3)
"""


@pytest.fixture
def api(stack: Stack) -> Iterator[AuthenticatedClient]:
    with AuthenticatedClient(base_url=stack.url, token=stack.token) as client:
        yield client


def _submit(api: AuthenticatedClient, spec: dict[str, object]) -> uuid.UUID:
    response = create_inspection.sync_detailed(client=api, body=InspectionSpec.from_dict(spec))
    assert response.status_code == 202, response.content
    assert isinstance(response.parsed, InspectionCreated)
    return response.parsed.inspection_id


def _wait(api: AuthenticatedClient, inspection_id: uuid.UUID, timeout: float = 120) -> Status:
    deadline = time.monotonic() + timeout
    while True:
        status = get_inspection_status.sync(item_id=inspection_id, client=api)
        assert isinstance(status, Status)
        if status.state in TERMINAL:
            return status
        assert time.monotonic() < deadline, f"still {status.state}"
        time.sleep(0.3)


def _first_run(api: AuthenticatedClient, inspection_id: uuid.UUID) -> RunOut:
    runs = list_inspection_runs.sync(item_id=inspection_id, client=api)
    assert isinstance(runs, RunList)
    return runs.items[0]


def _stream(
    stack: Stack, path: str, headers: dict[str, str] | None = None
) -> Iterator[tuple[float, Event]]:
    """(arrival time, event) of a followed log, until its end."""
    with (
        stack.client() as http,
        http.stream("GET", path, params={"follow": "true"}, headers=headers or {}) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in parse_events(response.iter_lines()):
            yield time.time(), event


def test_inspection_through_the_generated_client(stack: Stack, api: AuthenticatedClient) -> None:
    assert isinstance(readyz.sync(client=api), Health)
    inspection_id = _submit(
        api,
        {
            "base": "host",
            "identifier": "client-test",
            "script": "#!/bin/sh\necho '{\"answer\": 42}'\n",
        },
    )
    final = _wait(api, inspection_id)
    assert final.state == "succeeded" and final.build is not None
    inspection = get_inspection.sync(item_id=inspection_id, client=api)
    assert isinstance(inspection, InspectionOut) and inspection.identifier == "client-test"
    page = list_inspections.sync(client=api, limit=5)
    assert isinstance(page, InspectionPage) and inspection_id in {i.id for i in page.items}

    run = _first_run(api, inspection_id)
    assert run.inspection_id == inspection_id and run.testbed == "local"
    by_id = get_run.sync(run_id=run.id, client=api)
    assert isinstance(by_id, RunOut) and by_id.state == "succeeded" and by_id.index == 0
    result = get_run_result.sync(run_id=run.id, client=api)
    assert isinstance(result, RunResult)
    assert result.stdout == {"answer": 42} and result.exit_code == 0
    assert result.hwinfo.additional_properties["cpu"]["threads"] >= 1
    assert get_run_log.sync(run_id=run.id, client=api) == '{"answer": 42}\n'
    assert "build succeeded" in str(
        get_inspection_build_log.sync(item_id=inspection_id, client=api)
    )


def test_another_projects_run_is_not_found(stack: Stack, api: AuthenticatedClient) -> None:
    inspection_id = _submit(api, {"base": "host", "script": "#!/bin/sh\ntrue\n"})
    _wait(api, inspection_id)
    run = _first_run(api, inspection_id)
    with AuthenticatedClient(base_url=stack.url, token=stack.other_token) as other:
        for call in (
            get_run.sync_detailed,
            get_run_log.sync_detailed,
            get_run_result.sync_detailed,
        ):
            response = call(run_id=run.id, client=other)
            assert response.status_code == 404, call
            assert isinstance(response.parsed, ErrorBody) and response.parsed.error == "not_found"
    missing = get_run.sync_detailed(run_id=uuid.uuid4(), client=api)
    assert missing.status_code == 404


def test_refusals_parse_as_the_documented_error(stack: Stack, api: AuthenticatedClient) -> None:
    spec = {"base": "host", "script": "nvidia-smi", "run": {"requests": {"hardware": "H100:1"}}}
    response = create_inspection.sync_detailed(client=api, body=InspectionSpec.from_dict(spec))
    assert response.status_code == 422
    assert isinstance(response.parsed, ErrorBody)
    assert "H100" in response.parsed.detail
    assert [f.field for f in response.parsed.fields] == ["run.requests.hardware"]
    with AuthenticatedClient(base_url=stack.url, token="tsr_wrong") as wrong:
        refused = list_inspections.sync_detailed(client=wrong)
        assert refused.status_code == 401 and isinstance(refused.parsed, ErrorBody)
    forbidden = list_testbeds.sync_detailed(client=api)
    assert forbidden.status_code == 403
    with AuthenticatedClient(base_url=stack.url, token=stack.admin_token) as admin:
        testbeds = list_testbeds.sync(client=admin)
        # Through the module: a name starting "Test" would look like a test class to pytest.
        assert isinstance(testbeds, models.TestbedList)
        assert "local" in {testbed.name for testbed in testbeds.items}


def test_nodes_and_deployments_through_the_client(stack: Stack, api: AuthenticatedClient) -> None:
    nodes = list_nodes.sync(client=api)
    assert isinstance(nodes, NodePage) and nodes.items
    local = [node for node in nodes.items if node.testbed == "local"]
    assert local and local[0].cores and local[0].cpu_flags
    assert all(a.free is not None and 0 <= a.free <= a.count for a in local[0].accelerators)
    none = list_nodes.sync(client=api, accelerator="H100")
    assert isinstance(none, NodePage) and none.items == []

    body = DeploymentSpec.from_dict({"command": ["python3", "-c", "print(6 * 7)"]})
    created = create_deployment.sync(client=api, body=body)
    assert isinstance(created, DeploymentCreated)
    deadline = time.monotonic() + 120
    while True:
        result = get_deployment_run_result.sync_detailed(
            item_id=created.deployment_id, index=0, client=api
        )
        if result.status_code == 200:
            break
        assert result.status_code == 409 and time.monotonic() < deadline
        time.sleep(0.3)
    assert isinstance(result.parsed, RunResult) and result.parsed.stdout == 42


def test_run_log_streams_live_and_ends_with_the_run(stack: Stack, api: AuthenticatedClient) -> None:
    inspection_id = _submit(api, {"base": "host", "script": TICKS})
    deadline = time.monotonic() + 60
    while (run := _first_run(api, inspection_id)).state not in ("placed", "running", *TERMINAL):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    text, latencies, ids = "", [], []
    events = list(_stream(stack, f"/runs/{run.id}/log"))
    for arrived, event in events:
        if event.name != "message":
            continue
        text += event.data
        ids.append(int(event.id or 0))
        for line in event.data.splitlines():
            if line.startswith("tick"):
                latencies.append(arrived - float(line.split()[2]))
    end = events[-1][1]
    assert end.name == "end"
    assert json.loads(end.data) == {"state": "succeeded", "state_reason": None, "exit_code": 0}
    plain = get_run_log.sync(run_id=run.id, client=api)
    assert text == plain and text.count("tick") == 8 and "é€" in text
    assert ids == sorted(ids) and ids[-1] == len(plain.encode())
    assert len([event for _, event in events if event.name == "message"]) > 1, "it came live"
    # Lines reach the reader within the monitor's poll (0.5 s here) plus the stream's (0.5 s).
    latencies.sort()
    median, worst = latencies[len(latencies) // 2], latencies[-1]
    print(f"sse_latency_median_s={median:.3f} sse_latency_max_s={worst:.3f}")
    assert median < 1.5 and worst < 3.0

    # A reconnecting reader gets only what comes after the last id it saw.
    middle = ids[len(ids) // 2]
    rest = [e for _, e in _stream(stack, f"/runs/{run.id}/log", {"Last-Event-ID": str(middle)})]
    assert "".join(e.data for e in rest if e.name == "message") == plain.encode()[middle:].decode()
    # The same through the inspection's run index.
    again = list(_stream(stack, f"/inspections/{inspection_id}/runs/0/log"))
    assert "".join(e.data for _, e in again if e.name == "message") == plain


def test_build_log_streams_until_the_build_ends(stack: Stack, api: AuthenticatedClient) -> None:
    # A fresh environment (its hash is new), so the build really runs: the native packages
    # are checked with the package manager while the stream is open.
    spec = {
        "base": "host",
        "packages": ["coreutils", "python3"],
        "environment": {"FRESH": uuid.uuid4().hex},
        "script": "#!/bin/sh\ntrue\n",
    }
    inspection_id = _submit(api, spec)
    events = [event for _, event in _stream(stack, f"/inspections/{inspection_id}/build/log")]
    assert events[-1].name == "end" and json.loads(events[-1].data)["state"] == "succeeded"
    text = "".join(event.data for event in events if event.name == "message")
    assert text.startswith("build ") and text.rstrip().endswith("build succeeded")
    assert text == get_inspection_build_log.sync(item_id=inspection_id, client=api)
    _wait(api, inspection_id)


def test_streams_need_a_token_and_the_project(stack: Stack, api: AuthenticatedClient) -> None:
    inspection_id = _submit(api, {"base": "host", "script": "#!/bin/sh\ntrue\n"})
    run = _first_run(api, inspection_id)
    anonymous = httpx.get(f"{stack.url}/api/v1/runs/{run.id}/log", params={"follow": "true"})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    with stack.client(stack.other_token) as other:
        response = other.get(f"/runs/{run.id}/log", params={"follow": "true"})
        assert response.status_code == 404
        response = other.get(f"/inspections/{inspection_id}/build/log", params={"follow": "true"})
        assert response.status_code == 404
    _wait(api, inspection_id)
