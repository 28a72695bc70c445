"""Placement order among the nodes that fit: free accelerators first, GPU nodes kept for GPUs."""

from __future__ import annotations

import uuid

from shared import hardware, inventory

TESTBED = uuid.uuid4()


def _node(name: str, gpus: int = 0, model: str = "H100 80GB HBM3") -> inventory.Candidate:
    accelerators = (
        (hardware.NodeAccelerator("gpu", "nvidia", model, 80 * 2**30, gpus),) if gpus else ()
    )
    info = hardware.NodeInfo(
        name=name,
        testbed="cluster",
        arch="x86_64",
        cpu_vendor="intel",
        cpu_model="Xeon",
        cpu_flags=frozenset({"avx2"}),
        cores=32,
        memory_bytes=2**38,
        accelerators=accelerators,
    )
    return inventory.Candidate(TESTBED, "cluster", "slurm", info, frozenset({"native"}))


def _names(ranked: list[inventory.Candidate]) -> list[str]:
    return [c.node.name for c in ranked]


def test_gpu_runs_go_where_gpus_are_free_most_first() -> None:
    wanted = hardware.parse_spec("H100:2").accelerators
    nodes = [_node("a", 4), _node("b", 8), _node("c", 4)]
    held = {("cluster", "b"): list(hardware.parse_spec("H100:7").accelerators)}
    # a and c have 4 free, b only 1 (short of 2): b last; a before c (inventory order)
    assert _names(inventory.rank(nodes, wanted, held)) == ["a", "c", "b"]
    held_a = {("cluster", "a"): list(hardware.parse_spec("H100:1").accelerators)}
    assert _names(inventory.rank(nodes, wanted, held_a)) == ["b", "c", "a"]


def test_runs_without_accelerators_keep_off_gpu_nodes() -> None:
    nodes = [_node("gpu-1", 8), _node("cpu-1"), _node("gpu-2", 2)]
    assert _names(inventory.rank(nodes, (), {})) == ["cpu-1", "gpu-2", "gpu-1"]


def test_only_devices_of_the_requested_model_count_as_free() -> None:
    wanted = hardware.parse_spec("A100:1").accelerators
    nodes = [_node("busy", 1, "A100-SXM4-80GB"), _node("idle", 1, "A100-SXM4-80GB")]
    held = {
        ("cluster", "busy"): list(hardware.parse_spec("A100:1").accelerators),
        ("cluster", "idle"): list(hardware.parse_spec("H100:1").accelerators),  # not its model
    }
    ranked = inventory.rank(nodes, wanted, held)
    assert _names(ranked) == ["idle", "busy"]
    assert inventory.free_devices(ranked[1].node, held[("cluster", "busy")]) == [0]
    assert inventory.free_devices(ranked[0].node, held[("cluster", "idle")]) == [1]
