"""Workflow tasks that are not plain deployments, on the local testbed: an application's
executable (a tiny C program built here) fanned out in `map`, its outputs read by a
deployment in `reduce`; an inspection task (base host, a script) whose environment is built
before its copies run; the 422s naming the task's field."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.integration.test_applications import (
    GENERIC,
    build,
    create_app,
    source_zip,
    upload,
    wait_compiled,
)
from tests.integration.test_workflows import copies, reduce_output, submit

pytestmark = pytest.mark.integration

PARTS = ["sh", "-c", "./bin/hello part$TESSERA_TASK_INDEX > part-$TESSERA_TASK_INDEX.txt"]


def executable_workflow(executable: str, name: str = "exe-map") -> dict[str, Any]:
    return {
        "name": name,
        "testbeds": ["local"],
        "stages": [
            {
                "name": "map",
                "tasks": [
                    {
                        "name": "hello",
                        "count": 3,
                        "executable": {"id": executable, "command": PARTS},
                        "outputs": ["part-*.txt"],
                    }
                ],
            },
            {
                "name": "reduce",
                "depends_on": ["map"],
                "tasks": [
                    {
                        "name": "cat",
                        "command": ["sh", "-c", "cat parts/part-*.txt"],
                        "inputs": [{"from": "map/hello", "path": "parts"}],
                    }
                ],
            },
        ],
    }


def compiled(stack: Stack, client: httpx.Client, name: str, config: dict[str, Any]) -> Any:
    app = create_app(client, name)
    assert upload(client, app, source_zip()).status_code == 200
    assert build(client, app, config).status_code == 202
    (item,) = wait_compiled(stack, client, app, 1)
    return item


def test_executable_map_then_reduce(stack: Stack, client: httpx.Client) -> None:
    item = compiled(stack, client, "wf-hello", GENERIC)
    assert item["state"] == "compiled", item
    workflow_id = submit(client, executable_workflow(item["executable_id"]))
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=180)
    assert final["state"] == "succeeded", final
    assert final["stages"][0]["counts"] == {"succeeded": 3}
    expected = "".join(f"hello from part{i}: 500500\n" for i in range(3))
    assert reduce_output(client, workflow_id) == expected
    # Each copy is a run of a deployment of the executable, as POST /deployments makes.
    maps = [c for c in copies(client, workflow_id) if c["stage"] == "map"]
    run = client.get(f"/runs/{maps[0]['run_id']}").json()
    deployment = client.get(f"/deployments/{run['deployment_id']}/specification").json()
    assert deployment["executable"] == item["executable_id"], deployment
    assert deployment["command"] == PARTS and deployment["batch_size"] == 3


def test_executable_tasks_refused_naming_the_field(stack: Stack, client: httpx.Client) -> None:
    unknown = client.post("/workflows", json=executable_workflow(str(uuid.uuid4()), "exe-none"))
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["fields"][0]["field"] == "stages[0].tasks[0].executable"
    assert "no executable" in unknown.json()["fields"][0]["reason"]

    broken = compiled(
        stack, client, "wf-broken", {**GENERIC, "name": "broken", "build_script": ["make", "no"]}
    )
    assert broken["state"] == "failed", broken
    refused = client.post("/workflows", json=executable_workflow(broken["executable_id"]))
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["field"] == "stages[0].tasks[0].executable"
    assert "not compiled" in refused.json()["fields"][0]["reason"]

    body = executable_workflow(str(uuid.uuid4()), "exe-bad")
    body["stages"][0]["tasks"][0]["executable"]["command"] = []
    empty = client.post("/workflows", json=body)
    assert empty.status_code == 422 and "executable.command" in empty.text, empty.text
    body["stages"][0]["tasks"][0].update(command=["true"])
    body["stages"][0]["tasks"][0]["executable"]["command"] = PARTS
    both = client.post("/workflows", json=body)
    assert both.status_code == 422 and "give one of" in both.text, both.text


WRITE = '#!/bin/sh\necho "$GREETING $TESSERA_TASK_INDEX" > part-$TESSERA_TASK_INDEX.txt\n'
READ = "#!/bin/sh\ncat parts/part-*.txt\n"


def inspection_workflow(name: str, **map_inspection: Any) -> dict[str, Any]:
    inspection = {"base": "host", "script": WRITE, "environment": {"GREETING": "hi"}}
    return {
        "name": name,
        "testbeds": ["local"],
        "max_parallel": 1,
        "stages": [
            {
                "name": "map",
                "tasks": [
                    {
                        "name": "write",
                        "count": 2,
                        "inspection": {**inspection, **map_inspection},
                        "outputs": ["part-*.txt"],
                    }
                ],
            },
            {
                "name": "reduce",
                "depends_on": ["map"],
                "tasks": [
                    {
                        "name": "read",
                        "inspection": {"base": "host", "script": READ},
                        "inputs": [{"from": "map/write", "path": "parts"}],
                    }
                ],
            },
        ],
    }


def test_inspection_tasks_build_then_run(stack: Stack, client: httpx.Client) -> None:
    workflow_id = submit(client, inspection_workflow("insp-map"))
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=180)
    assert final["state"] == "succeeded", final
    assert final["stages"][0]["counts"] == {"succeeded": 2}
    assert reduce_output(client, workflow_id) == "hi 0\nhi 1\n"
    found = copies(client, workflow_id)
    runs = [client.get(f"/runs/{c['run_id']}").json() for c in found]
    inspections = {run["inspection_id"] for run in runs}
    assert None not in inspections and len(inspections) == 2  # one per task
    for inspection_id in inspections:
        inspection = client.get(f"/inspections/{inspection_id}").json()
        assert inspection["state"] == "succeeded", inspection
    # max_parallel 1: the two map copies ran one after the other
    timeline = client.get(f"/workflows/{workflow_id}/timeline").json()["entries"]
    first, second = sorted((e for e in timeline if e["stage"] == "map"), key=lambda e: e["index"])
    assert second["queued_at"] >= first["finished_at"]


def test_a_failed_build_fails_the_task(stack: Stack, client: httpx.Client) -> None:
    body = inspection_workflow("insp-broken", packages=["tessera-no-such-package"])
    workflow_id = submit(client, body)
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=120)
    assert final["state"] == "failed", final
    assert "task map/write failed (build failed" in final["state_reason"], final
    assert [s["state"] for s in final["stages"]] == ["failed", "cancelled"]
    assert final["stages"][0]["counts"] == {"failed": 2}


def test_inspection_tasks_refused_naming_the_field(client: httpx.Client) -> None:
    body = inspection_workflow("insp-bad", batch_size=2)
    refused = client.post("/workflows", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["field"] == "stages[0].tasks[0].inspection", refused.text
    body = inspection_workflow("insp-url", script="https://example.invalid/s.sh")
    refused = client.post("/workflows", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["field"] == "stages[0].tasks[0].inspection.script"
