"""A worker process that dies is started again by its supervisor (`tessera worker`), and a
supervisor killed with -9 leaves no worker behind."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.faults.conftest import WORKER, FaultStack, api, wait_terminal

WHERE = "JOIN deployments d ON r.deployment_id = d.id WHERE d.identifier = 'supervised'"


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_dead_worker_is_restarted(fault_stack: FaultStack) -> None:
    supervisor = fault_stack.processes["monitor"].pid
    (first,) = _children(supervisor)  # the Celery worker itself
    os.kill(first, signal.SIGKILL)  # gone without a clean exit, as an unrecoverable error
    _wait_for(lambda: [c for c in _children(supervisor) if c != first], 30, "no new worker")
    with api(fault_stack) as http:
        body = {"command": ["true"], "identifier": "supervised", "batch_size": 3}
        assert http.post("/deployments", json=body).status_code == 202
    # Only the monitor ends runs: they end only when the restarted monitor serves.
    assert wait_terminal(fault_stack, 3, WHERE, timeout=120) == {"succeeded": 3}


def test_killed_supervisor_takes_its_worker_along(fault_stack: FaultStack) -> None:
    (worker,) = _children(fault_stack.processes["builder"].pid)
    fault_stack.kill("builder")
    _wait_for(lambda: not _alive(worker), 10, "the worker outlived its supervisor")
    fault_stack.start("builder", "worker", "builder", *WORKER)
