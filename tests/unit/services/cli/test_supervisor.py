"""The worker's supervisor: restarts a worker that died, gives up on one that cannot start."""

from __future__ import annotations

import pytest

from services.cli import supervisor


class _Exits:
    """Stands in for subprocess.Popen: each child exits with the next code."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.started = 0

    def __call__(self, command: list[str], env: dict[str, str], process_group: int) -> _Exits:
        assert env["TESSERA_WORKER_CHILD"] == "1"
        self.started += 1
        return self

    def wait(self) -> int:
        return self.codes.pop(0)

    def poll(self) -> int | None:
        return None

    def send_signal(self, signum: int) -> None:
        self.signalled = signum


def test_supervisor_restarts_a_worker_that_died(monkeypatch: pytest.MonkeyPatch) -> None:
    children = _Exits([1, -9, 0])
    monkeypatch.setattr(supervisor.subprocess, "Popen", children)
    waits: list[float] = []
    assert supervisor.Supervisor(["worker"]).run(sleep=waits.append) == 0
    assert children.started == 3 and waits == [0.5, 1.0]


def test_supervisor_gives_up_on_a_worker_that_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    children = _Exits([2] * 10)
    monkeypatch.setattr(supervisor.subprocess, "Popen", children)
    assert supervisor.Supervisor(["worker"]).run(sleep=lambda _: None) == 2
    assert children.started == supervisor.Supervisor.MAX_QUICK


def test_supervisor_stops_with_its_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    watcher = supervisor.Supervisor(["worker"])

    class Stopped(_Exits):
        def wait(self) -> int:
            watcher.forward(15, None)  # SIGTERM arrives while the child runs
            return 1

    monkeypatch.setattr(supervisor.subprocess, "Popen", Stopped([]))
    assert watcher.run(sleep=lambda _: pytest.fail("restarted")) == 1
