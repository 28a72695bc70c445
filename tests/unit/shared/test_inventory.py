"""Node storage: a node's inventory column, written and read back."""

from __future__ import annotations

from shared import hardware, inventory


def test_a_node_reads_back_as_it_was_stored() -> None:
    node = hardware.NodeInfo(
        name="gpu-1",
        testbed="cluster",
        arch="x86_64",
        cpu_vendor="intel",
        cpu_model="Xeon",
        cpu_flags=frozenset({"avx2", "avx512f"}),
        cores=32,
        memory_bytes=2**38,
        accelerators=(
            hardware.NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-80GB", 80 << 30, 4),
            hardware.NodeAccelerator("fpga", "xilinx", "Alveo U250", None, 1),
        ),
        labels=(("rack", "3"), ("zone", "a")),
        features=frozenset({"ib"}),
    )
    data = inventory.node_to_json(node, ["podman", "native", "podman"])
    assert data["runtimes"] == ["native", "podman"]
    assert inventory.node_from_json("gpu-1", "cluster", data, True) == node
    assert inventory.node_from_json("gpu-1", "cluster", data, False).online is False


def test_what_others_hold_is_kept_per_accelerator_entry() -> None:
    node = hardware.NodeInfo(
        "n", "lab", "x86_64", None, None, frozenset(), 2, None,
        (hardware.NodeAccelerator("gpu", "nvidia", "H100", None, 2),
         hardware.NodeAccelerator("gpu", "nvidia", "A100", None, 1)),
    )  # fmt: skip
    data = inventory.node_to_json(node, ["native"], (1, 0))
    assert [a["held_by_others"] for a in data["accelerators"]] == [1, 0]
    assert inventory.held_by_others(data) == (1, 0)
    assert inventory.node_from_json("n", "lab", data, True) == node
    assert inventory.held_by_others(inventory.node_to_json(node, ["native"])) == (0, 0)
    assert inventory.with_held_by_others(data, (1, 0)) is None  # unchanged: nothing to write
    assert inventory.with_held_by_others(data, (1,)) is None  # no longer lines up
    changed = inventory.with_held_by_others(data, (0, 1))
    assert changed is not None and inventory.held_by_others(changed) == (0, 1)
    assert inventory.held_by_others(data) == (1, 0)  # the stored one is not changed in place
