"""kill -9 of the deployer while 40 runs are being placed on SSH hosts: every run ends, none
twice (each runner writes a line in its run's `starts` on the host)."""

from __future__ import annotations

import time

import psycopg

from tests.faults.conftest import WORKER, FaultStack, api, record, ssh_testbed, wait_terminal

RUNS = 40
WHERE = "JOIN deployments d ON r.deployment_id = d.id WHERE d.identifier = 'ssh-crash'"


def test_deployer_killed_mid_placement_on_ssh_hosts(fault_stack: FaultStack) -> None:
    work_dir = fault_stack.home / "ssh-hosts"
    testbed_id = ssh_testbed(fault_stack, "ssh-crash", work_dir)
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
