"""GET and POST /api/v1/offers: the nodes that fit, ranked as placement ranks them, and the
first constraint each other node fails; GET /runs/{id}/placement: what placement stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services import worker
from shared import attempts, hardware, inventory
from shared.config import Settings
from shared.db.models import Deployment, Node, Project, Run, Testbed
from tests.unit.services.api.conftest import Api, running


def _gpus(model: str, count: int, memory: int = 80 * 10**9) -> hardware.NodeAccelerator:
    return hardware.NodeAccelerator("gpu", "nvidia", model, memory, count)


def _node(name: str, *accelerators: hardware.NodeAccelerator) -> hardware.NodeInfo:
    return hardware.NodeInfo(
        name, "lab", "x86_64", "intel", "Xeon", frozenset({"avx2"}), 32, 2**38, accelerators
    )


def _lab(state: str = "online", **nodes: tuple[hardware.NodeInfo, str]) -> uuid.UUID:
    with worker.transaction() as session:
        testbed = Testbed(name="lab", kind="slurm", config={}, state=state)
        testbed.state_reason = None if state == "online" else "unreachable: timed out"
        session.add(testbed)
        session.flush()
        for name, (info, node_state) in nodes.items():
            data = inventory.node_to_json(info, ["native"])
            session.add(Node(testbed_id=testbed.id, name=name, state=node_state, inventory=data))
        return testbed.id


def _offers(api: Api, **query: str) -> dict[str, Any]:
    answer = api.client.get("/api/v1/offers", params=query, headers=api.auth())
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_offers_rank_the_fitting_nodes_and_say_why_the_rest_is_out(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running("sqlite", monkeypatch) as api:
        _lab(
            a100=(_node("a100", _gpus("A100", 4, 40 * 10**9)), "online"),
            h100=(_node("h100", _gpus("H100", 8)), "online"),
            small=(_node("small", _gpus("H100", 1)), "online"),
            down=(_node("down", _gpus("H100", 8)), "drained"),
        )
        found = _offers(api, hardware="H100:2")
        assert [(o["rank"], o["node"], o["can_start_now"]) for o in found["offers"]] == [
            (1, "h100", True)
        ]
        assert found["offers"][0]["accelerators"][0]["free"] == 8
        why = {item["node"]: item["reason"] for item in found["ruled_out"]}
        assert "A100" in why["a100"] and "H100" in why["a100"]
        assert "1" in why["small"] and why["down"] == "node is drained"
        assert set(why) == {"a100", "small", "down", "vm"}  # the local node has no GPU
        assert found["waiting"] is None and found["unmet"] is None
        # by memory: both the 40 GB and the 80 GB cards fit a 40GB.. request; the most free first
        both = _offers(api, hardware="nvidia:40GB..:1", testbed="lab")
        assert [o["node"] for o in both["offers"]] == ["h100", "a100", "small"]


def test_offers_of_nothing_that_fits_say_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running("sqlite", monkeypatch) as api:
        _lab("offline", h100=(_node("h100", _gpus("H100", 8)), "online"))
        found = _offers(api, hardware="H100:1")
        assert found["offers"] == []
        (lab,) = [item for item in found["ruled_out"] if item["testbed"] == "lab"]
        assert lab["reason"] == "testbed lab is offline: unreachable: timed out"
        assert "no node fits" in found["unmet"]


def test_a_bad_request_names_the_field(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with running("sqlite", monkeypatch) as api:
        bad = [({"hardware": "H100:x"}, "hardware"), ({"memory": "4"}, "memory"),
               ({"image": "Bad Image"}, "image"), ({"testbed": "No!"}, "testbed")]  # fmt: skip
        for query, field in bad:
            answer = api.client.get("/api/v1/offers", params=query, headers=api.auth())
            assert answer.status_code == 422, answer.text
            assert field in answer.text
        posted = api.client.post(
            "/api/v1/offers",
            json={"hardware": {"gpu": {"model": "H100", "count": 1}}, "cpu": 2},
            headers=api.auth(),
        )
        assert posted.status_code == 200, posted.text
        assert posted.json()["hardware"]["accelerators"][0]["model"] == ["H100"]


def test_a_runs_placement_is_what_placement_stored(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running("sqlite", monkeypatch) as api:
        testbed_id = _lab(h100=(_node("h100", _gpus("H100", 8)), "online"))
        with worker.transaction() as session:
            project = session.query(Project).filter(Project.name == "alpha").one()
            deployment = Deployment(
                project_id=project.id, specification={"command": ["true"]}, batch_size=1
            )
            session.add(deployment)
            session.flush()
            run = Run(project_id=project.id, deployment_id=deployment.id, index=0)
            session.add(run)
            session.flush()
            run_id = run.id
        answer = api.client.get(f"/api/v1/runs/{run_id}/placement", headers=api.auth())
        assert answer.status_code == 404 and "not been placed" in answer.text
        why = {"chosen": {"testbed": "lab", "node": "h100"}, "fitting_nodes": 1}
        with worker.transaction() as session:
            found = session.get(Run, run_id)
            assert found is not None
            found.attempt, found.state = 1, "placed"
            attempts.begin(session, found, testbed_id, "h100", "42", why)
        answer = api.client.get(f"/api/v1/runs/{run_id}/placement", headers=api.auth())
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "attempt": 1, "testbed": "lab", "node_name": "h100", "placement": why
        }  # fmt: skip
