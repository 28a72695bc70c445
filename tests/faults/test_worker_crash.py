"""kill -9 of the deployer while 100 runs are being placed: every run ends, none twice."""

from __future__ import annotations

import time

import psycopg

from tests.faults.conftest import WORKER, FaultStack, api, record, wait_terminal

RUNS = 100
WHERE = "JOIN deployments d ON r.deployment_id = d.id WHERE d.identifier = 'crash'"


def _placed(stack: FaultStack) -> int:
    assert stack.postgres is not None
    with psycopg.connect(stack.postgres.url, autocommit=True) as db:
        row = db.execute(f"SELECT count(*) FROM runs r {WHERE} AND r.placed_at IS NOT NULL")
        found = row.fetchone()
    return int(found[0]) if found else 0


def test_deployer_killed_mid_placement(fault_stack: FaultStack) -> None:
    with api(fault_stack) as http:
        for _ in range(RUNS // 10):
            body = {"command": ["true"], "identifier": "crash", "batch_size": 10}
            assert http.post("/deployments", json=body).status_code == 202
    deadline = time.monotonic() + 60
    while _placed(fault_stack) < 5:
        assert time.monotonic() < deadline, "nothing was placed"
        time.sleep(0.05)
    fault_stack.kill("deployer")
    placed_at_crash = _placed(fault_stack)
    fault_stack.start("deployer", "worker", "deployer", *WORKER)

    states = wait_terminal(fault_stack, RUNS, WHERE, timeout=300)
    runs_dir = fault_stack.home / "runs"
    starts = [
        len((d / "starts").read_text().splitlines())
        for d in runs_dir.iterdir()
        if (d / "starts").exists()
    ]
    duplicates = sum(count - 1 for count in starts if count > 1)
    record("faults_lost", RUNS - states.get("succeeded", 0))
    record("faults_duplicates", duplicates)
    assert placed_at_crash < RUNS, "the crash came after every placement: nothing was tested"
    assert states == {"succeeded": RUNS}
    assert duplicates == 0
