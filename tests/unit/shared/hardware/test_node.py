"""Nodes from the hardware probe (shared/hardware/node.py)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.hardware import HardwareSpec, NodeAccelerator, NodeInfo, match, node_from_hwinfo
from tests.unit.shared.hardware.examples import FPGA_HWINFO, H100_HWINFO, GiB, h100_node


def test_node_from_hwinfo_h100() -> None:
    node = h100_node()
    assert node == NodeInfo(
        name="gpu-node-01",
        testbed="k8s",
        arch="x86_64",
        cpu_vendor="intel",
        cpu_model="Intel(R) Xeon(R) Platinum 8480+",
        cpu_flags=frozenset({"fpu", "sse4_2", "avx2", "avx512f", "avx512bw", "amx_tile"}),
        cores=224,
        memory_bytes=2_164_000_000_000,
        accelerators=(
            NodeAccelerator("gpu", "nvidia", "NVIDIA H100 80GB HBM3", 85_520_809_984, 8),
        ),
    )


def test_node_from_hwinfo_fpga_and_lspci_gpus() -> None:
    node = node_from_hwinfo(FPGA_HWINFO, name="fpga-01", testbed="ssh")
    assert node.cpu_vendor == "amd" and node.cores == 128 and node.memory_bytes == 512 * GiB
    assert node.accelerators == (NodeAccelerator("fpga", "xilinx", "Alveo U250", None, 2),)
    # Without nvidia-smi, the PCI scan's GPUs are all there is.
    lspci_only = {**H100_HWINFO, "gpus": []}
    node = node_from_hwinfo(lspci_only, name="n", testbed="t")
    assert node.accelerators == (
        NodeAccelerator("gpu", "nvidia", "GH100 [H100 SXM5 80GB]", None, 8),
    )


def test_node_from_hwinfo_groups_by_model_and_memory() -> None:
    gpus = [
        {"vendor": "nvidia", "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 85_899_345_920},
        {"vendor": "nvidia", "model": "NVIDIA A100-SXM4-40GB", "memory_bytes": 42_949_672_960},
        {"vendor": "nvidia", "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 85_899_345_920},
    ]
    node = node_from_hwinfo({"gpus": gpus}, name="n", testbed="t")
    assert node.accelerators == (
        NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-80GB", 85_899_345_920, 2),
        NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-40GB", 42_949_672_960, 1),
    )


@pytest.mark.parametrize(
    "hwinfo",
    [
        {},
        {"cpu": None, "memory": "lots", "gpus": "none", "accelerators": [1, None]},
        {"cpu": {"flags": "avx2 AVX512F", "threads": True}, "gpus": [{"model": None}]},
    ],
)
def test_node_from_partial_hwinfo(hwinfo: dict[str, Any]) -> None:
    node = node_from_hwinfo(hwinfo, name="n", testbed="t")
    assert node.name == "n" and node.cores is None and node.memory_bytes is None
    assert not match(HardwareSpec(), node)


def test_node_from_hwinfo_labels_and_features() -> None:
    hwinfo = {"labels": {"zone": "a", 1: "x", "n": 2}, "features": ["ib", 3, "cuda"]}
    node = node_from_hwinfo(hwinfo, name="n", testbed="t")
    assert (node.labels, node.features) == ((("zone", "a"),), frozenset({"ib", "cuda"}))


def test_node_from_hwinfo_flags_string() -> None:
    hwinfo = {"cpu": {"flags": "avx2 AVX512F", "arch": "arm64", "vendor": "ARM"}}
    node = node_from_hwinfo(hwinfo, name="n", testbed="t")
    assert (node.cpu_flags, node.arch, node.cpu_vendor) == (
        frozenset({"avx2", "avx512f"}),
        "aarch64",
        "arm",
    )
