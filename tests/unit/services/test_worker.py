"""A worker's calls to testbeds: unreachable means offline, an answer means online again; loops
that run one pass at a time."""

from __future__ import annotations

import pytest

from services import worker
from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models import Testbed, utcnow
from shared.testbeds.base import Unreachable


def test_an_unreachable_testbed_is_marked_offline_then_online(settings: Settings) -> None:
    upgrade(settings.db_url)
    with worker.transaction() as session:
        row = Testbed(name="lab", kind="slurm", config={}, state="online", refreshed_at=utcnow())
        session.add(row)
    with pytest.raises(Unreachable), worker.reaching(row):
        raise Unreachable("unreachable: connection refused")
    with worker.transaction() as session:
        stored = session.get(Testbed, row.id)
        assert stored is not None
        assert (stored.state, stored.state_reason) == ("offline", "unreachable: connection refused")
        row.state = stored.state
    with worker.reaching(row):
        pass  # a call that went through
    assert row.state == "online"
    with worker.transaction() as session:
        stored = session.get(Testbed, row.id)
        assert stored is not None and (stored.state, stored.state_reason) == ("online", None)


def test_other_errors_leave_the_testbed_alone(settings: Settings) -> None:
    upgrade(settings.db_url)
    with worker.transaction() as session:
        row = Testbed(name="lab", kind="slurm", config={}, state="online", refreshed_at=utcnow())
        session.add(row)
    with pytest.raises(ValueError), worker.reaching(row):
        raise ValueError("a bug, not the testbed")
    with worker.transaction() as session:
        stored = session.get(Testbed, row.id)
        assert stored is not None and stored.state == "online"


def test_one_pass_at_a_time_a_second_call_returns_at_once() -> None:
    import threading

    inside, release = threading.Event(), threading.Event()

    @worker.one_at_a_time
    def slow() -> int:
        inside.set()
        release.wait(10)
        return 7

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(slow()))
    first.start()
    assert inside.wait(10)
    assert slow() == 0  # a pass runs: this call does nothing
    release.set()
    first.join(10)
    assert results == [7] and slow() == 7 and slow.__name__ == "slow"
