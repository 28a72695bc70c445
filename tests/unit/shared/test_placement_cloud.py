"""Placement over cloud offers (ec2 nodes): each run gets its own instance, so nothing is held
there, and offers rank by price, after owned hardware that has the devices free."""

from __future__ import annotations

import uuid
from dataclasses import replace

from shared import hardware, placement, ranking

A10G = hardware.NodeAccelerator("gpu", "nvidia", "A10G", 24 * 2**30, 1)


def _offer(name: str, price: float, gpus: int = 1) -> placement.Candidate:
    info = hardware.NodeInfo(
        name, "aws", "x86_64", "amd", None, frozenset(), 4, 16 * 2**30, (replace(A10G, count=gpus),)
    )
    return placement.Candidate(
        uuid.uuid4(), "aws", "ec2", info, frozenset({"native"}), price_per_hour=price
    )


def _owned(name: str) -> placement.Candidate:
    info = hardware.NodeInfo(
        name, "lab", "x86_64", "amd", None, frozenset(), 8, 32 * 2**30, (replace(A10G, count=2),)
    )
    return placement.Candidate(uuid.uuid4(), "lab", "ssh", info, frozenset({"native"}))


def test_cloud_offers_rank_by_price_and_are_never_busy() -> None:
    wanted = hardware.parse_spec("A10G:1").accelerators
    offers = [
        _offer("g5.12xlarge", 5.6, gpus=4),
        _offer("g5.xlarge", 1.0),
        _offer("g5.2xlarge", 1.2),
    ]
    # a run already on g5.xlarge holds nothing of the next one's instance: no held entry
    held: placement.Held = {}
    ranked = ranking.rank(offers, wanted, held)
    assert [c.node.name for c in ranked] == ["g5.xlarge", "g5.2xlarge", "g5.12xlarge"]
    assert ranking.busy(ranked, wanted, held) is None


def test_owned_hardware_with_room_goes_before_paid_instances() -> None:
    wanted = hardware.parse_spec("A10G:1").accelerators
    owned = _owned("box")
    ranked = ranking.rank([_offer("g5.xlarge", 1.0), owned], wanted, {})
    assert ranked[0] is owned
    full = {("lab", "box"): list(hardware.parse_spec("A10G:2").accelerators)}
    ranked = ranking.rank([owned, _offer("g5.xlarge", 1.0)], wanted, full)
    assert ranked[0].kind == "ec2"  # the lab box is full: the cloud takes it


def test_the_candidate_reads_its_price_from_the_inventory() -> None:
    from shared.db.models import Node

    node = Node(
        testbed_id=uuid.uuid4(),
        name="g5.xlarge",
        state="online",
        inventory={"arch": "x86_64", "ec2": {"price_per_hour": 1.006}},
    )
    assert placement.candidate(node, "aws", "ec2").price_per_hour == 1.006
    assert placement.image_runtimes("ec2") == frozenset()
