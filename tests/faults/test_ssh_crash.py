"""kill -9 of the deployer while 40 runs are being placed on SSH hosts: every run ends, none
twice (each runner writes a line in its run's `starts` on the host)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psycopg

from tests.faults.conftest import WORKER, FaultStack, api, record, wait_terminal

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("TESSERA_SSH_HOSTS_STATE", "/var/lib/tessera-ssh-hosts"))
RUNS = 40
WHERE = "JOIN deployments d ON r.deployment_id = d.id WHERE d.identifier = 'ssh-crash'"


def _testbed(stack: FaultStack, work_dir: Path) -> str:
    subprocess.run([str(ROOT / "scripts" / "ssh-hosts.sh")], check=True, capture_output=True)
    hosts = json.loads((STATE / "hosts.json").read_text())
    keep = ("name", "host", "port", "user", "host_key")
    with api(stack, stack.admin_token) as admin:
        created = admin.post(
            "/testbeds",
            json={
                "name": "ssh-crash",
                "kind": "ssh",
                "config": {"hosts": [{k: h[k] for k in keep} for h in hosts["hosts"]],
                           "work_dir": str(work_dir)},
                "credentials": Path(hosts["client_key"]).read_text(),
            },
        )  # fmt: skip
        assert created.status_code == 201, created.text
        testbed_id = str(created.json()["id"])
        deadline = time.monotonic() + 90
        while True:
            body = admin.get(f"/testbeds/{testbed_id}").json()
            if body["state"] == "online" and body["nodes"] == 2:
                return testbed_id
            assert time.monotonic() < deadline, body
            time.sleep(0.3)


def test_deployer_killed_mid_placement_on_ssh_hosts(fault_stack: FaultStack) -> None:
    work_dir = fault_stack.home / "ssh-hosts"
    testbed_id = _testbed(fault_stack, work_dir)
    try:
        with api(fault_stack) as http:
            for _ in range(RUNS // 10):
                body = {"command": ["true"], "identifier": "ssh-crash", "batch_size": 10,
                        "testbed": "ssh-crash"}  # fmt: skip
                assert http.post("/deployments", json=body).status_code == 202
        deadline = time.monotonic() + 60
        while _placed_here(fault_stack) < 3:
            assert time.monotonic() < deadline, "nothing was placed"
            time.sleep(0.05)
        fault_stack.kill("deployer")
        placed_at_crash = _placed_here(fault_stack)
        fault_stack.start("deployer", "worker", "deployer", *WORKER)
        states = wait_terminal(fault_stack, RUNS, WHERE, timeout=300)
    finally:
        with api(fault_stack, fault_stack.admin_token) as admin:
            admin.delete(f"/testbeds/{testbed_id}")
    starts = [len(path.read_text().splitlines()) for path in work_dir.glob("*/runs/*/starts")]
    duplicates = sum(count - 1 for count in starts if count > 1)
    record("faults_ssh_lost", RUNS - states.get("succeeded", 0))
    record("faults_ssh_duplicates", duplicates)
    assert placed_at_crash < RUNS, "the crash came after every placement: nothing was tested"
    assert states == {"succeeded": RUNS}, states
    assert len(starts) == RUNS and duplicates == 0


def _placed_here(stack: FaultStack) -> int:
    assert stack.postgres is not None
    with psycopg.connect(stack.postgres.url, autocommit=True) as db:
        row = db.execute(f"SELECT count(*) FROM runs r {WHERE} AND r.placed_at IS NOT NULL")
        found = row.fetchone()
    return int(found[0]) if found else 0
