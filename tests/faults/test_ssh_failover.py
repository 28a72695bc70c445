"""A host's link cut while 20 runs are on it: the host goes offline, its runs are lost after
the lost timeout and placed again on the testbed's other host; when the link is back, the
runners of the superseded attempts are fenced. Every run succeeds exactly once: each runner
start is a line in its attempt's `starts` on the host, and no run has two attempts that
succeeded."""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from typing import Any

import psycopg

from tests.faults.conftest import FaultStack, api, record, ssh_testbed, wait_terminal
from tests.ssh_hosts import link

RUNS = 20
SLEEP_S = 45  # long enough that a superseded runner is still running when it is fenced
FIRST_SLEEPS = f'if [ "$TESSERA_ATTEMPT" = 1 ]; then exec sleep {SLEEP_S}; fi; exec sleep 1'
NAME = "ssh-failover"
WHERE = f"JOIN deployments d ON r.deployment_id = d.id WHERE d.identifier = '{NAME}'"


def _rows(stack: FaultStack, query: str) -> list[Any]:
    assert stack.postgres is not None
    with psycopg.connect(stack.postgres.url, autocommit=True) as db:
        return db.execute(query).fetchall()  # type: ignore[arg-type]


def _until(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.3)


def test_a_lost_host_fails_over_and_is_fenced_when_back(fault_stack: FaultStack) -> None:
    work_dir = fault_stack.home / "ssh-failover"
    testbed_id = ssh_testbed(fault_stack, NAME, work_dir)
    cut: str | None = None
    try:
        with api(fault_stack) as http:
            body = {
                # The first attempts sleep on; the second ones, placed after the cut, end soon.
                "command": ["sh", "-c", FIRST_SLEEPS],
                "identifier": NAME,
                "batch_size": RUNS,
                "testbed": NAME,  # the other host of the same testbed takes them
                "retry": {"attempts": 2, "on": ["lost"]},
            }
            assert http.post("/deployments", json=body).status_code == 202
        on_hosts = _until("every run running", lambda: _all_running(fault_stack), 120)
        cut = cut_host = max(on_hosts, key=lambda row: row[1])[0]
        moved = dict(on_hosts)[cut]
        cut_at = _db_now(fault_stack)
        link("down", cut)
        offline = _until(
            "the cut host offline",
            lambda: _rows(
                fault_stack,
                f"SELECT state, state_reason FROM nodes WHERE name = '{cut}' "
                f"AND testbed_id = '{testbed_id}' AND state = 'offline'",
            ),
            60,
        )
        assert "unreachable" in offline[0][1], offline
        replaced = _until(
            "the lost runs running again elsewhere",
            lambda: _second_attempts_started(fault_stack, moved),
            120,
        )
        failover_s = statistics.median((row[0] - cut_at).total_seconds() for row in replaced)
        link("up", cut)
        cut = None
        _until(
            "the superseded attempts fenced",
            lambda: (
                not _rows(
                    fault_stack,
                    "SELECT 1 FROM run_attempts a JOIN runs r ON a.run_id = r.id "
                    f"{WHERE} AND a.fence_pending",
                )
            ),
            90,
        )
        states = wait_terminal(fault_stack, RUNS, WHERE, timeout=180)
    finally:
        if cut is not None:
            link("up", cut)
        with api(fault_stack, fault_stack.admin_token) as admin:
            admin.delete(f"/testbeds/{testbed_id}")
            # Its finished runs keep it as history, out of every listing.
            assert testbed_id not in {t["id"] for t in admin.get("/testbeds").json()["items"]}
            hosts = {n["testbed"] for n in admin.get("/nodes").json()["items"]}
            assert all(not name.startswith("removed-") for name in hosts), hosts
    attempts = _rows(
        fault_stack,
        "SELECT r.id, a.key, a.number, a.state, a.state_reason, a.node_name "
        f"FROM run_attempts a JOIN runs r ON a.run_id = r.id {WHERE} ORDER BY a.number",
    )
    superseded = [a for a in attempts if a[3] == "superseded"]
    succeeded_twice = _count_over_one(str(a[0]) for a in attempts if a[3] == "succeeded")
    keys = {str(a[1]) for a in attempts}
    starts = {
        path.parent.name: len(path.read_text().splitlines())
        for path in work_dir.glob("*/runs/*/starts")
    }
    started_twice = sum(count - 1 for count in starts.values() if count > 1)
    record("failover_runs", len(superseded))
    record("failover_lost", RUNS - states.get("succeeded", 0))
    record("failover_duplicates", succeeded_twice + started_twice)
    record("failover_s", round(failover_s))
    assert states == {"succeeded": RUNS}, states
    assert moved >= 1 and len(superseded) == moved, (moved, superseded)
    assert all(a[5] != cut_host for a in attempts if a[2] == 2)
    assert set(starts) <= keys and len(starts) == RUNS + moved, (len(starts), moved)
    assert succeeded_twice == 0 and started_twice == 0
    killed = [a for a in superseded if "runner was stopped" in (a[4] or "")]
    assert killed, [a[4] for a in superseded]  # they were still running: fencing stopped them


def _all_running(stack: FaultStack) -> list[tuple[str, int]] | None:
    """(host, runs running there), once every run is running."""
    rows = _rows(
        stack,
        f"SELECT r.node_name, count(*) FROM runs r {WHERE} AND r.state = 'running' "
        "GROUP BY r.node_name",
    )
    found = [(str(node), int(count)) for node, count in rows]
    return found if sum(count for _, count in found) == RUNS else None


def _second_attempts_started(stack: FaultStack, expected: int) -> list[Any] | None:
    rows = _rows(
        stack,
        "SELECT a.started_at FROM run_attempts a JOIN runs r ON a.run_id = r.id "
        f"{WHERE} AND a.number = 2 AND a.started_at IS NOT NULL",
    )
    return rows if len(rows) == expected else None


def _db_now(stack: FaultStack) -> datetime:
    now: datetime = _rows(stack, "SELECT now()")[0][0]
    return now


def _count_over_one(items: Any) -> int:
    seen: dict[str, int] = {}
    for item in items:
        seen[item] = seen.get(item, 0) + 1
    return sum(count - 1 for count in seen.values() if count > 1)
