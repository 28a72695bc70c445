"""Inspections from request to result on the local testbed, against the real stack."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx

from tests.integration.conftest import Stack

JSON_SCRIPT = """#!/usr/bin/env python3
import json, os, sys
print(json.dumps({"answer": 42, "run": os.environ["TESSERA_RUN_INDEX"],
                  "hwinfo_exists": os.path.exists(os.environ["TESSERA_HWINFO"])}))
"""


def host_cpu_model() -> str:
    text = Path("/proc/cpuinfo").read_text()
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    assert found, "no model name in /proc/cpuinfo"
    return found.group(1).strip()


def test_json_script_runs_with_hwinfo_and_batch(stack: Stack, client: httpx.Client) -> None:
    response = client.post(
        "/inspections",
        json={"base": "host", "script": JSON_SCRIPT, "batch_size": 3, "identifier": "json-batch"},
    )
    assert response.status_code == 202, response.text
    inspection_id = response.json()["inspection_id"]

    final = stack.wait(client, f"/inspections/{inspection_id}/status")
    assert final["state"] == "succeeded", final
    assert final["runs"] == {"succeeded": 3}
    assert final["build"]["state"] == "succeeded"

    runs = client.get(f"/inspections/{inspection_id}/runs").json()["items"]
    assert [run["index"] for run in runs] == [0, 1, 2]
    for run in runs:
        result = client.get(f"/inspections/{inspection_id}/runs/{run['index']}/result").json()
        assert result["exit_code"] == 0
        assert result["stdout"] == {"answer": 42, "run": str(run["index"]), "hwinfo_exists": True}
        assert result["hwinfo"]["cpu"]["model_name"] == host_cpu_model()
        assert result["usage"]["ru_utime"] >= 0 and result["usage"]["ru_maxrss"] > 0
        assert result["script_sha256"] == hashlib.sha256(JSON_SCRIPT.encode()).hexdigest()
        assert result["os_release"]["id"]
        assert result["hostname"]
        assert result["start_datetime"] <= result["end_datetime"]
        log = client.get(f"/inspections/{inspection_id}/runs/{run['index']}/log").text
        assert json.loads(log)["answer"] == 42

    spec = client.get(f"/inspections/{inspection_id}/specification").json()
    assert spec["identifier"] == "json-batch" and spec["batch_size"] == 3
    assert "environment" in client.get(f"/inspections/{inspection_id}/build/log").text


def test_failing_script_reports_exit_code_and_stderr(stack: Stack, client: httpx.Client) -> None:
    script = "#!/bin/sh\necho 'about to fail' >&2\nexit 3\n"
    inspection_id = client.post("/inspections", json={"base": "host", "script": script}).json()[
        "inspection_id"
    ]
    final = stack.wait(client, f"/inspections/{inspection_id}")
    assert final["state"] == "failed"
    assert "exit code 3" in final["state_reason"]
    result = client.get(f"/inspections/{inspection_id}/runs/0/result").json()
    assert result["exit_code"] == 3
    assert result["stderr"] == "about to fail\n"
    run = client.get(f"/inspections/{inspection_id}/runs").json()["items"][0]
    assert run["state"] == "failed" and run["exit_code"] == 3


def test_build_only_inspection(stack: Stack, client: httpx.Client) -> None:
    created = client.post("/inspections", json={"base": "host", "packages": ["coreutils"]})
    assert created.status_code == 202 and created.json()["build_only"] is True
    final = stack.wait(client, f"/inspections/{created.json()['inspection_id']}")
    assert final["state"] == "succeeded" and final["build_only"] is True


def test_missing_native_package_fails_the_build_naming_it(
    stack: Stack, client: httpx.Client
) -> None:
    created = client.post(
        "/inspections",
        json={
            "base": "host",
            "packages": ["tessera-no-such-package"],
            "script": "#!/bin/sh\ntrue\n",
        },
    )
    final = stack.wait(client, f"/inspections/{created.json()['inspection_id']}")
    assert final["state"] == "failed"
    assert "tessera-no-such-package" in final["state_reason"]
    assert final["build"]["state"] == "failed"


def test_files_and_environment_reach_the_script(stack: Stack, client: httpx.Client) -> None:
    script = '#!/bin/sh\nprintf \'%s %s\' "$GREETING" "$(cat data/input.txt)"\n'
    created = client.post(
        "/inspections",
        json={
            "base": "host",
            "script": script,
            "environment": {"GREETING": "hello; $(rm -rf /)"},
            "files": [{"path": "data/input.txt", "content": "world"}],
        },
    )
    final = stack.wait(client, f"/inspections/{created.json()['inspection_id']}")
    assert final["state"] == "succeeded", final
    result = client.get(f"/inspections/{created.json()['inspection_id']}/runs/0/result").json()
    assert result["stdout"] == "hello; $(rm -rf /) world"


def test_cancel_stops_a_running_inspection(stack: Stack, client: httpx.Client) -> None:
    created = client.post("/inspections", json={"base": "host", "script": "#!/bin/sh\nsleep 300\n"})
    inspection_id = created.json()["inspection_id"]
    stack.wait(
        client,
        f"/inspections/{inspection_id}/runs",
        done=lambda body: body["items"][0]["state"] == "running",
    )
    cancelled = client.delete(f"/inspections/{inspection_id}")
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_runs"] == 1
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=60)
    assert final["state"] == "cancelled"


def test_listing_pages_newest_first(stack: Stack) -> None:
    token = __import__("services.cli.server", fromlist=["create_token"]).create_token(
        "paging", admin=False
    )
    with stack.client(token) as http:
        ids = [
            http.post("/inspections", json={"base": "host"}).json()["inspection_id"]
            for _ in range(5)
        ]
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = http.get("/inspections", params=params).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))


def test_python_packages_build_a_venv_once(stack: Stack, client: httpx.Client) -> None:
    spec = {
        "base": "host",
        "python_packages": ["six==1.16.0"],
        "script": "#!/usr/bin/env python3\nimport json, six, sys\n"
        "print(json.dumps({'six': six.__version__, 'venv': sys.prefix != sys.base_prefix}))\n",
    }
    first = client.post("/inspections", json=spec).json()["inspection_id"]
    done = stack.wait(client, f"/inspections/{first}/status", timeout=300)
    assert done["state"] == "succeeded", client.get(f"/inspections/{first}/build/log").text
    assert done["build"]["cached"] is False
    assert "six" in client.get(f"/inspections/{first}/build/log").text
    result = client.get(f"/inspections/{first}/runs/0/result").json()
    assert result["stdout"] == {"six": "1.16.0", "venv": True}

    second = client.post("/inspections", json=spec).json()["inspection_id"]
    again = stack.wait(client, f"/inspections/{second}/status", timeout=120)
    assert again["state"] == "succeeded" and again["build"]["cached"] is True
    assert again["build"]["spec_hash"] == done["build"]["spec_hash"]
