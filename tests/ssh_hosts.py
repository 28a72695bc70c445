"""The SSH test hosts of scripts/ssh-hosts.sh (network namespaces, each with its own sshd),
as the tests register them: set up idempotently, then a testbed of both through the admin API."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ssh-hosts.sh"
STATE = Path(os.environ.get("TESSERA_SSH_HOSTS_STATE", "/var/lib/tessera-ssh-hosts"))


def hosts() -> dict[str, Any]:
    """Set the hosts up (a no-op when they are) and read what the script wrote of them."""
    subprocess.run([str(SCRIPT)], check=True, capture_output=True)
    state: dict[str, Any] = json.loads((STATE / "hosts.json").read_text())
    return state


def config(found: dict[str, Any], work_dir: str) -> dict[str, Any]:
    keep = ("name", "host", "port", "user", "host_key")
    return {"hosts": [{k: h[k] for k in keep} for h in found["hosts"]], "work_dir": work_dir}


def link(state: str, host: str) -> None:
    """`up` or `down`: the host's link, as a cable pulled and put back."""
    subprocess.run([str(SCRIPT), state, host], check=True, capture_output=True)


def register(admin: httpx.Client, name: str, work_dir: str, timeout: float = 90) -> dict[str, Any]:
    """A testbed of both hosts, once it is online with both; its body."""
    found = hosts()
    created = admin.post(
        "/testbeds",
        json={
            "name": name,
            "kind": "ssh",
            "config": config(found, work_dir),
            "credentials": Path(found["client_key"]).read_text(),
        },
    )
    assert created.status_code == 201, created.text
    testbed_id = created.json()["id"]
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = admin.get(f"/testbeds/{testbed_id}").raise_for_status().json()
        if body["state"] == "online" and body["nodes"] == 2:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.3)
