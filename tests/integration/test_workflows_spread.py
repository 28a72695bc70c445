"""The map/reduce skeleton over three testbeds at once: local, the SLURM cluster of
scripts/slurm.sh (real slurm-wlm through its sshd) and an SSH host of scripts/ssh-hosts.sh.
Late binding spreads the map copies; the parts reach reduce wherever it runs. Then the same
with the SSH host's link cut mid-map: its copies are lost, placed again elsewhere, and every
map copy still succeeds exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import ssh_hosts
from tests.integration.conftest import Stack
from tests.integration.test_slurm import NAME as SLURM
from tests.integration.test_slurm import admin, sshd, testbed
from tests.integration.test_workflows import SQUARES, copies, reduce_output, skeleton, submit

pytestmark = pytest.mark.integration
__all__ = ["admin", "sshd", "testbed"]  # the fixtures this module uses
SSH = "wf-ssh"


@pytest.fixture(scope="module")
def ssh_host(
    stack: Stack, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A testbed of one SSH host (tessera-h1): cutting its link takes the testbed away."""
    found = ssh_hosts.hosts()
    config = ssh_hosts.config(found, str(tmp_path_factory.mktemp("wf-ssh")))
    config["hosts"] = config["hosts"][:1]
    created = admin.post(
        "/testbeds",
        json={
            "name": SSH,
            "kind": "ssh",
            "config": config,
            "credentials": Path(found["client_key"]).read_text(),
        },
    )
    assert created.status_code == 201, created.text
    testbed_id = created.json()["id"]
    deadline = time.monotonic() + 90
    while admin.get(f"/testbeds/{testbed_id}").json()["state"] != "online":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    yield str(config["hosts"][0]["name"])
    ssh_hosts.link("up", str(config["hosts"][0]["name"]))
    admin.delete(f"/testbeds/{testbed_id}")


def _map_attempts(client: httpx.Client, workflow_id: str) -> list[dict[str, Any]]:
    entries = client.get(f"/workflows/{workflow_id}/timeline").json()["entries"]
    return [e for e in entries if e["stage"] == "map"]


def test_the_skeleton_spreads_over_testbeds(
    stack: Stack, client: httpx.Client, testbed: Any, ssh_host: str
) -> None:
    workflow_id = submit(client, skeleton(["local", SLURM, SSH], nap=4))
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=300)
    assert final["state"] == "succeeded", final
    used = {c["testbed"] for c in copies(client, workflow_id) if c["stage"] == "map"}
    assert len(used) >= 2, used
    assert used <= {"local", SLURM, SSH}
    assert reduce_output(client, workflow_id) == {"n": 12, "sum": SQUARES}


def test_a_testbed_lost_mid_map_is_survived(
    stack: Stack, client: httpx.Client, testbed: Any, ssh_host: str
) -> None:
    body = skeleton(["local", SLURM, SSH], nap=10)  # the SSH host's copies run when it is cut
    body["name"] = "lost-testbed"
    workflow_id = submit(client, body)
    deadline = time.monotonic() + 120
    while True:  # until copies run on the SSH host
        on_host = [
            c
            for c in copies(client, workflow_id)
            if c["testbed"] == SSH and c["state"] == "running"
        ]
        if on_host:
            break
        assert time.monotonic() < deadline, copies(client, workflow_id)
        time.sleep(0.3)
    ssh_hosts.link("down", ssh_host)
    try:
        final = stack.wait(client, f"/workflows/{workflow_id}", timeout=300)
    finally:
        ssh_hosts.link("up", ssh_host)
    assert final["state"] == "succeeded", final
    attempts = _map_attempts(client, workflow_id)
    for index in range(12):
        mine = [a for a in attempts if a["index"] == index]
        assert [a["state"] for a in mine].count("succeeded") == 1, mine
    lost = {a["index"] for a in attempts if a["testbed"] == SSH and a["state"] != "succeeded"}
    assert lost, attempts
    for index in lost:  # placed again, and succeeded off the lost host
        [won] = [a for a in attempts if a["index"] == index and a["state"] == "succeeded"]
        assert won["testbed"] != SSH and won["attempt"] > 1
    assert reduce_output(client, workflow_id) == {"n": 12, "sum": SQUARES}
