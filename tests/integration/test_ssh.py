"""The ssh testbed against two hosts of scripts/ssh-hosts.sh: network namespaces, each with
its own sshd on its own address, two fake H100s on the first (its own nvidia-smi).

The testbed is registered through the admin API and removed at the end, so the other
modules' runs never go to these hosts.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import ssh_hosts
from tests.integration.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("TESSERA_SSH_HOSTS_STATE", "/var/lib/tessera-ssh-hosts"))
NAME = "ssh-test"
GPU_SCRIPT = """#!/usr/bin/env python3
import json, os, time
time.sleep(float(os.environ.get("NAP", "0")))
print(json.dumps({"cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}))
"""

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hosts() -> dict[str, Any]:
    return ssh_hosts.hosts()


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.admin_token) as client:
        yield client


@pytest.fixture(scope="module")
def testbed(
    stack: Stack,
    admin: httpx.Client,
    hosts: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    work_dir = str(tmp_path_factory.mktemp("ssh-hosts"))
    created = admin.post(
        "/testbeds",
        json={
            "name": NAME,
            "kind": "ssh",
            "config": ssh_hosts.config(hosts, work_dir),
            "credentials": Path(hosts["client_key"]).read_text(),
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert "credentials" not in body and body["has_credentials"] is True
    deadline = time.monotonic() + 90
    while True:
        found = admin.get(f"/testbeds/{body['id']}").raise_for_status().json()
        if found["state"] == "online" and found["nodes"] == 2:
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.3)
    yield found
    admin.delete(f"/testbeds/{body['id']}")


def test_bad_configs_are_refused_naming_the_field(
    admin: httpx.Client, hosts: dict[str, Any]
) -> None:
    config = ssh_hosts.config(hosts, ".tessera")
    key = Path(hosts["client_key"]).read_text()
    unpinned = json.loads(json.dumps(config))
    del unpinned["hosts"][1]["host_key"]
    cases = [
        (unpinned, key, "config.hosts.1.host_key"),
        ({**config, "hosts": []}, key, "config.hosts"),
        ({"hosts": [config["hosts"][0], config["hosts"][0]]}, key, "config"),
        ({**config, "hosts": [{**config["hosts"][0], "user": "root; rm -rf /"}]}, key,
         "config.hosts.0.user"),
        (config, None, "credentials"),
    ]  # fmt: skip
    for body, credentials, field in cases:
        answer = admin.post(
            "/testbeds",
            json={"name": "bad-ssh", "kind": "ssh", "config": body, "credentials": credentials},
        )
        assert answer.status_code == 422, answer.text
        assert [f["field"] for f in answer.json()["fields"]] == [field], answer.json()


def test_hosts_are_nodes_with_their_gpus_by_index(admin: httpx.Client, testbed: Any) -> None:
    nodes = admin.get("/nodes", params={"testbed": NAME}).raise_for_status().json()["items"]
    by_name = {n["name"]: n for n in nodes}
    assert set(by_name) == {"tessera-h1", "tessera-h2"}
    (gpu,) = by_name["tessera-h1"]["accelerators"]
    assert gpu["count"] == 2 and "H100" in gpu["model"] and gpu["memory_bytes"] > 80 * 10**9
    assert by_name["tessera-h2"]["accelerators"] == []
    assert by_name["tessera-h1"]["cpu_flags"] and by_name["tessera-h2"]["memory_bytes"]


def test_gpus_are_handed_out_by_index_and_runs_wait_for_them(
    stack: Stack, client: httpx.Client, testbed: Any
) -> None:
    response = client.post(
        "/inspections",
        json={
            "base": "host",
            "script": GPU_SCRIPT,
            "batch_size": 6,
            "testbed": NAME,
            "environment": {"NAP": "1.5"},
            "run": {"requests": {"hardware": {"gpu": "H100:1"}, "cpu": 1, "memory": "64MiB"}},
        },
    )
    assert response.status_code == 202, response.text
    inspection_id = response.json()["inspection_id"]
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=180)
    assert final["state"] == "succeeded", final
    spans = []
    for index in range(6):
        result = client.get(f"/inspections/{inspection_id}/runs/{index}/result").json()
        assert result["exit_code"] == 0 and result["node"] == "tessera-h1", result
        assert result["hwinfo"]["hostname"] == "tessera-h1"
        device = result["stdout"]["cuda"]
        assert device in ("0", "1"), result["stdout"]
        start = datetime.fromisoformat(result["start_datetime"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(result["end_datetime"].replace("Z", "+00:00"))
        spans.append((device, start, end))
    # Never two runs on one GPU at once: the runs of a device do not overlap in time.
    for device in ("0", "1"):
        mine = sorted((s, e) for d, s, e in spans if d == device)
        pairs = zip(mine, mine[1:], strict=False)
        assert all(after[0] >= before[1] for before, after in pairs), mine
    assert len({d for d, _, _ in spans}) == 2


def test_a_run_without_gpus_goes_to_either_host_and_can_be_cancelled(
    stack: Stack, client: httpx.Client, testbed: Any
) -> None:
    response = client.post(
        "/inspections",
        json={"base": "host", "script": "sleep 120", "testbed": NAME,
              "run": {"requests": {"cpu": 1}}},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    inspection_id = response.json()["inspection_id"]
    stack.wait(
        client,
        f"/inspections/{inspection_id}/runs",
        done=lambda body: body["items"][0]["state"] == "running",
        timeout=60,
    )
    cancelled = client.delete(f"/inspections/{inspection_id}")
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_runs"] == 1
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=60)
    assert final["state"] == "cancelled", final
    result = client.get(f"/inspections/{inspection_id}/runs/0/result").json()
    assert result["cancelled"] is True and result["node"] in ("tessera-h1", "tessera-h2")


def test_a_lost_host_is_offline_and_the_other_keeps_working(
    stack: Stack, admin: httpx.Client, client: httpx.Client, testbed: Any
) -> None:
    script = str(ROOT / "scripts" / "ssh-hosts.sh")

    def node_states() -> dict[str, tuple[str, str | None]]:
        items = admin.get("/nodes", params={"testbed": NAME}).raise_for_status().json()["items"]
        return {n["name"]: (n["state"], n.get("state_reason")) for n in items}

    subprocess.run([script, "down", "tessera-h2"], check=True, capture_output=True)
    try:
        assert admin.post(f"/testbeds/{testbed['id']}/refresh").status_code == 202
        deadline = time.monotonic() + 120  # a command on the open connection times out first
        while node_states()["tessera-h2"][0] != "offline":
            assert time.monotonic() < deadline, node_states()
            time.sleep(0.5)
        states = node_states()
        assert states["tessera-h1"][0] == "online"
        assert (states["tessera-h2"][1] or "").startswith("unreachable: "), states
        response = client.post(
            "/inspections",
            json={"base": "host", "script": "hostname", "testbed": NAME,
                  "run": {"requests": {"cpu": 1}}},
        )  # fmt: skip
        assert response.status_code == 202, response.text
        final = stack.wait(client, f"/inspections/{response.json()['inspection_id']}", timeout=90)
        assert final["state"] == "succeeded", final
        run = client.get(f"/inspections/{response.json()['inspection_id']}/runs").json()
        assert run["items"][0]["node_name"] == "tessera-h1"
    finally:
        subprocess.run([script, "up", "tessera-h2"], check=True, capture_output=True)
    # Nobody asks for a refresh and no run of it is followed: the recheck loop (every 5 s in
    # the test stack) finds it back.
    back = time.monotonic()
    while node_states()["tessera-h2"][0] != "online":
        assert time.monotonic() < back + 60, node_states()
        time.sleep(0.5)
    print(f"ssh_host_back_s={time.monotonic() - back:.1f}")
