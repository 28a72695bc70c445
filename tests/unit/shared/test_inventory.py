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
