"""GET /api/v1/nodes: free accelerators count what other work holds too."""

from __future__ import annotations

import pytest

from services import worker
from services.api.routers import nodes
from shared import hardware, inventory
from shared.config import Settings
from shared.db.models import Node, Testbed
from tests.unit.services.api.conftest import running

H100 = hardware.NodeAccelerator("gpu", "nvidia", "H100", 80 * 10**9, 2)
INFO = hardware.NodeInfo("vm", "shared", "x86_64", None, None, frozenset(), 2, 2**33, (H100,))


def test_free_counts_leave_out_what_others_hold() -> None:
    one = list(hardware.parse_spec("H100:1").accelerators)
    data = inventory.node_to_json(INFO, ["native"], (1,))
    assert nodes.free_counts(data, [], True) == [1]
    assert nodes.free_counts(data, one, True) == [0]
    assert nodes.free_counts(data, [], False) == [0]
    assert nodes.free_counts(inventory.node_to_json(INFO, ["native"]), one, True) == [1]


def test_a_job_outside_tessera_shows_as_one_less_free(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running("sqlite", monkeypatch) as api:
        with worker.transaction() as session:
            testbed = Testbed(name="shared", kind="slurm", config={}, state="online")
            session.add(testbed)
            session.flush()
            data = inventory.node_to_json(INFO, ["native"], (1,))
            session.add(Node(testbed_id=testbed.id, name="vm", state="online", inventory=data))
        body = api.client.get("/api/v1/nodes", params={"testbed": "shared"}, headers=api.auth())
        assert body.status_code == 200, body.text
        (node,) = body.json()["items"]
        assert [(a["count"], a["free"]) for a in node["accelerators"]] == [(2, 1)]
        assert "held_by_others" not in node["accelerators"][0]  # the API's shape is unchanged
