"""Two monitor replicas share the testbeds by lease: while one holds a testbed's lease no
other polls it, and a monitor killed with -9 leaves its testbeds to the other at once."""

from __future__ import annotations

import math
import time
import uuid

import psycopg

from services.monitor.lease import key, lease
from tests.faults.conftest import WORKER, FaultStack, api, record, wait_terminal

POLL_S = 0.5  # the fault stack's TESSERA_POLL_INTERVAL_S


def _count(stack: FaultStack, where: str) -> int:
    assert stack.postgres is not None
    with psycopg.connect(stack.postgres.url, autocommit=True) as db:
        found = db.execute(f"SELECT count(*) FROM runs r {where}").fetchone()
    return int(found[0]) if found else 0


def _leased(stack: FaultStack, testbed: uuid.UUID) -> bool:
    """Whether a monitor holds the testbed's lease now (Postgres shows a bigint advisory
    lock as its two 32-bit halves)."""
    assert stack.postgres is not None
    number = key(testbed) & (2**64 - 1)
    with psycopg.connect(stack.postgres.url, autocommit=True) as db:
        found = db.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = %s AND objsubid = 1",
            (number >> 32, number & 0xFFFFFFFF),
        ).fetchone()
    return bool(found and found[0])


def _local_testbed(stack: FaultStack) -> uuid.UUID:
    assert stack.postgres is not None
    with psycopg.connect(stack.postgres.url, autocommit=True) as db:
        found = db.execute(
            "SELECT id FROM testbeds WHERE kind = 'local' AND name = 'local'"
        ).fetchone()
    assert found is not None
    return uuid.UUID(str(found[0]))


def _submit(stack: FaultStack, identifier: str, runs: int) -> str:
    with api(stack) as http:
        body = {
            "command": ["sleep", "0.3"],
            "identifier": identifier,
            "batch_size": runs,
            "testbed": "local",  # the testbed whose lease the test takes
        }
        response = http.post("/deployments", json=body)
        assert response.status_code == 202, response.text
    return f"JOIN deployments d ON r.deployment_id = d.id WHERE d.identifier = '{identifier}'"


def test_monitors_share_testbeds_by_lease(fault_stack: FaultStack) -> None:
    fault_stack.start("monitor2", "worker", "monitor", *WORKER)
    try:
        where = _submit(fault_stack, "replicas-held", 20)
        deadline = time.monotonic() + 60
        while _count(fault_stack, where + " AND r.placed_at IS NOT NULL") < 5:
            assert time.monotonic() < deadline, "nothing was placed"
            time.sleep(0.1)
        testbed = _local_testbed(fault_stack)
        ended = where + " AND r.state IN ('succeeded', 'failed', 'lost')"
        while True:  # a monitor polling it now holds it; take it between two polls
            with lease(testbed) as mine:
                if mine:
                    before = _count(fault_stack, ended)
                    time.sleep(8 * POLL_S)  # the runs end on the node meanwhile
                    during = _count(fault_stack, ended)
                    break
            assert time.monotonic() < deadline, "the lease was never free"
        assert during == before, "a monitor polled a testbed whose lease another held"
        assert wait_terminal(fault_stack, 20, where, timeout=120) == {"succeeded": 20}

        # The other monitor is killed -9, here while the test holds the lease so that the
        # runs have ended on the node by then; from its release, the one left polls.
        where = _submit(fault_stack, "replicas-killed", 20)
        deadline = time.monotonic() + 60
        while _count(fault_stack, where + " AND r.placed_at IS NOT NULL") < 5:
            assert time.monotonic() < deadline, "nothing was placed"
            time.sleep(0.05)
        ended = where + " AND r.state IN ('succeeded', 'failed', 'lost')"
        while True:
            with lease(testbed) as mine:
                if mine:
                    fault_stack.kill("monitor")
                    time.sleep(8 * POLL_S)
                    at_release = _count(fault_stack, ended)
                    released_at = time.monotonic()
                    break
            assert time.monotonic() < deadline, "the lease was never free"
        while not _leased(fault_stack, testbed):  # the monitor left has taken it
            assert time.monotonic() - released_at < 60, "no monitor took the testbed over"
            time.sleep(0.01)
        cycles = (time.monotonic() - released_at) / POLL_S
        while _count(fault_stack, ended) == at_release:  # and it follows the runs
            assert time.monotonic() - released_at < 60, "the runs were not followed"
            time.sleep(0.05)
        states = wait_terminal(fault_stack, 20, where, timeout=120)
        record("faults_monitor_takeover_cycles", math.ceil(cycles))
        assert states == {"succeeded": 20}
        assert cycles <= 2
    finally:
        if fault_stack.processes["monitor"].poll() is not None:
            fault_stack.start("monitor", "worker", "monitor", *WORKER)
        fault_stack.kill("monitor2")
