"""A refresh's discovery written in its own unit of work (services/monitor/inventory.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services import worker
from services.monitor import inventory
from shared import hardware
from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models import Node, Testbed, utcnow
from shared.testbeds.base import Discovery, NodeReport


@pytest.fixture
def testbed_id(settings: Settings) -> Iterator[uuid.UUID]:
    upgrade(settings.db_url)
    with worker.transaction() as session:
        row = Testbed(name="lab", kind="slurm", config={"host": "h"}, state="offline")
        session.add(row)
        session.flush()
        session.add(Node(testbed_id=row.id, name="gone-1", hwinfo={}, inventory={}))
        key = row.id
    yield key


def _report(name: str, state: str = "online", **changes: object) -> NodeReport:
    info = hardware.NodeInfo(name, "lab", "x86_64", "intel", "Xeon", frozenset(), 8, 2**34, ())
    values: dict[str, object] = {
        "name": name,
        "state": state,
        "state_reason": None if state == "online" else "SLURM: DOWN",
        "info": info,
        "inventory": {"cores": 8},
    }
    return NodeReport(**(values | changes))  # type: ignore[arg-type]


def _nodes(testbed_id: uuid.UUID) -> dict[str, Node]:
    with worker.transaction() as session:
        rows = session.execute(select(Node).where(Node.testbed_id == testbed_id)).scalars()
        return {n.name: n for n in rows}


def test_nodes_are_written_missing_ones_go_offline_and_the_testbed_is_online(
    testbed_id: uuid.UUID,
) -> None:
    found = Discovery(
        (_report("n1", hwinfo={"hostname": "n1"}), _report("n2", "offline")),
        missing="no longer reported by SLURM",
        pins={"host_key": "ssh-ed25519 AAAA", "host": "elsewhere"},
    )
    with worker.transaction() as session:
        assert inventory.store(session, testbed_id, found)
    nodes = _nodes(testbed_id)
    assert {n: (r.state, r.state_reason) for n, r in nodes.items()} == {
        "n1": ("online", None),
        "n2": ("offline", "SLURM: DOWN"),
        "gone-1": ("offline", "no longer reported by SLURM"),
    }
    assert nodes["n1"].hwinfo == {"hostname": "n1"} and nodes["n2"].hwinfo == {}
    assert (nodes["n1"].cores, nodes["n1"].cpu_model, nodes["n1"].inventory) == (
        8,
        "Xeon",
        {"cores": 8},
    )
    with worker.transaction() as session:
        row = session.get(Testbed, testbed_id)
        assert row is not None and (row.state, row.refreshed_at is not None) == ("online", True)
        # a pin is written only where the config holds none: the host stays as configured
        assert row.config == {"host": "h", "host_key": "ssh-ed25519 AAAA"}


def test_a_report_without_a_probe_keeps_the_stored_one(testbed_id: uuid.UUID) -> None:
    with worker.transaction() as session:
        inventory.store(session, testbed_id, Discovery((_report("n1", hwinfo={"a": 1}),)))
    with worker.transaction() as session:
        inventory.store(session, testbed_id, Discovery((_report("n1"),)))
    assert _nodes(testbed_id)["n1"].hwinfo == {"a": 1}
    assert _nodes(testbed_id)["gone-1"].state == "online"  # missing=None: left as it was


def test_an_unreachable_testbed_is_offline_and_its_nodes_are_left(
    testbed_id: uuid.UUID,
) -> None:
    with worker.transaction() as session:
        inventory.store(session, testbed_id, Discovery(offline="unreachable: timed out"))
        row = session.get(Testbed, testbed_id)
        assert row is not None and (row.state, row.state_reason) == (
            "offline",
            "unreachable: timed out",
        )
    assert set(_nodes(testbed_id)) == {"gone-1"}


def test_a_host_that_did_not_answer_is_offline_until_it_answers(testbed_id: uuid.UUID) -> None:
    asked = utcnow()
    inventory.mark_hosts(testbed_id, {"gone-1": "ssh to h:22 failed: TimeoutError"}, [], asked)
    node = _nodes(testbed_id)["gone-1"]
    assert (node.state, node.state_reason) == (
        "offline",
        "unreachable: ssh to h:22 failed: TimeoutError",
    )
    assert node.unreachable_since == asked
    inventory.mark_hosts(testbed_id, {}, ["gone-1"], utcnow())
    node = _nodes(testbed_id)["gone-1"]
    assert (node.state, node.state_reason, node.unreachable_since) == ("online", None, None)


def test_a_refresh_after_the_call_began_knows_better(testbed_id: uuid.UUID) -> None:
    asked = utcnow()  # the cycle's call to a host that is down began...
    with worker.transaction() as session:  # ...the host came back and a refresh found it...
        inventory.store(session, testbed_id, Discovery((_report("gone-1"),)))
    # ...and then the call timed out: the host stays online
    inventory.mark_hosts(testbed_id, {"gone-1": "ssh to h:22 failed: timed out"}, [], asked)
    assert (_nodes(testbed_id)["gone-1"].state, _nodes(testbed_id)["gone-1"].state_reason) == (
        "online",
        None,
    )
    inventory.mark_hosts(testbed_id, {"gone-1": "timed out"}, [], utcnow())  # a later call
    assert _nodes(testbed_id)["gone-1"].state == "offline"


def test_a_testbed_deleted_meanwhile_is_skipped(settings: Settings) -> None:
    upgrade(settings.db_url)
    with worker.transaction() as session:
        assert not inventory.store(session, uuid.uuid4(), Discovery((_report("n1"),)))


def test_the_local_testbed_is_registered_and_probed(settings: Settings) -> None:
    upgrade(settings.db_url)
    key = inventory.register_local()
    assert inventory.register_local() == key  # again: the same testbed
    (node,) = _nodes(key).values()
    assert node.state == "online" and node.hwinfo and "native" in node.inventory["runtimes"]


def test_what_a_monitor_cycle_read_of_the_nodes_is_written(testbed_id: uuid.UUID) -> None:
    """The devices other work holds, per accelerator entry, into the rows whose counts changed;
    nodes of other testbeds, unknown names and entries that no longer line up are left."""
    gpus = {"accelerators": [{"kind": "gpu", "vendor": "nvidia", "model": "H100", "count": 2}]}
    with worker.transaction() as session:
        session.add(Node(testbed_id=testbed_id, name="vm", hwinfo={}, inventory=gpus))
    assert inventory.store_held_by_others(testbed_id, {"vm": (1,), "gone-1": (1,), "x": (1,)}) == 1
    (entry,) = _nodes(testbed_id)["vm"].inventory["accelerators"]
    assert entry["held_by_others"] == 1 and entry["count"] == 2
    assert _nodes(testbed_id)["gone-1"].inventory == {}  # no accelerators: nothing lines up
    assert inventory.store_held_by_others(testbed_id, {"vm": (1,)}) == 0  # unchanged
    assert inventory.store_held_by_others(uuid.uuid4(), {"vm": (0,)}) == 0
    assert inventory.store_held_by_others(testbed_id, {}) == 0
