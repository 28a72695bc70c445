"""The match of specs against nodes (shared/hardware/matching.py)."""

from __future__ import annotations

import pytest

from shared.hardware import (
    HardwareSpec,
    NodeAccelerator,
    first_unmet,
    fits,
    match,
    model_matches,
    node_from_hwinfo,
    parse_accelerator,
    parse_spec,
)
from tests.unit.shared.hardware.examples import FPGA_HWINFO, GiB, arm_node, cpu_node, h100_node


@pytest.mark.parametrize(
    ("wanted", "model", "expected"),
    [
        ("H100", "NVIDIA H100 80GB HBM3", True),
        ("H100", "NVIDIA-H100-80GB-HBM3", True),
        ("h100", "nvidia h100 pcie", True),
        ("H100", "GH100X", False),
        ("H100", "NVIDIA GH200 480GB", False),
        ("A100-80GB", "NVIDIA A100-SXM4-80GB", True),
        ("A100-80GB", "NVIDIA A100-SXM4-40GB", False),
        ("A100", "NVIDIA A100-SXM4-40GB", True),
        ("A10", "NVIDIA A10G", False),
        ("RTX-4090", "NVIDIA GeForce RTX 4090", True),
        ("RTX4090", "NVIDIA GeForce RTX 4090", True),  # adjacent tokens join
        ("MI300X", "AMD Instinct MI300X", True),
        ("MI300", "AMD Instinct MI300X", False),
    ],
)
def test_model_matches(wanted: str, model: str, expected: bool) -> None:
    assert model_matches(wanted, model) is expected


@pytest.mark.parametrize(
    "spec",
    [
        None,
        "H100",
        "H100:8",
        "nvidia:H100:8",
        "NVIDIA-H100-80GB-HBM3:1",
        "nvidia:80GB..:8",
        "nvidia:79GiB..80GiB:2",
        "2",
        "nvidia:H100,A100:4",
        {"gpu": {"vendor": "NVIDIA"}},
        {"cpu": {"arch": "amd64", "vendor": "GenuineIntel", "flags": ["AVX512F", "amx_tile"]}},
        {"cpu": {"model": "platinum", "cores": "200..224"}, "memory": "2TB.."},
        {"memory": "..2TiB"},
    ],
)
def test_h100_node_fits(spec: object) -> None:
    assert match(parse_spec(spec), h100_node()) == []


@pytest.mark.parametrize(
    ("spec", "reasons"),
    [
        ("H100:16", ["needs 16 x gpu H100, node has 8 x NVIDIA H100 80GB HBM3"]),
        ("A100:1", ["needs 1 x gpu A100, node has 8 x NVIDIA H100 80GB HBM3"]),
        ("amd:1", ["needs 1 x gpu amd, node has 8 x NVIDIA H100 80GB HBM3"]),
        (
            "nvidia:96GB..:1",
            [
                "needs 1 x gpu nvidia with memory >= 96GB,"
                " node has 8 x NVIDIA H100 80GB HBM3 (80GB card, 79.6GiB)"
            ],
        ),
        ({"accelerators": ["fpga:xilinx:1"]}, ["needs 1 x fpga xilinx, node has no fpga"]),
        ({"cpu": {"arch": "arm64"}}, ["needs arch aarch64, node is x86_64"]),
        ({"cpu": {"vendor": "amd"}}, ["needs cpu vendor amd, node has intel"]),
        ({"cpu": {"flags": ["sve"]}}, ["needs cpu flag sve"]),
        ({"cpu": {"flags": ["sve", "sve2", "avx2"]}}, ["needs cpu flags sve, sve2"]),
        (
            {"cpu": {"model": "EPYC"}},
            ["needs a cpu model containing 'EPYC', node has 'Intel(R) Xeon(R) Platinum 8480+'"],
        ),
        ({"cpu": {"cores": "..64"}}, ["needs cpu cores <= 64, node has 224"]),
        ({"memory": "4TB"}, ["needs memory >= 4TB, node has 1.97TiB"]),
        ({"memory": "64GB..1TB"}, ["needs memory between 64GB and 1TB, node has 1.97TiB"]),
        ({"node": "gpu-node-02"}, ["needs node gpu-node-02, node is gpu-node-01"]),
        ({"labels": {"zone": "a"}}, ["needs label zone=a, node has no label zone"]),
        ({"features": ["cuda", "ib"]}, ["needs features cuda, ib, node has none"]),
        (
            {"gpu": "H100:16", "cpu": {"arch": "aarch64"}},
            [
                "needs arch aarch64, node is x86_64",
                "needs 16 x gpu H100, node has 8 x NVIDIA H100 80GB HBM3",
            ],
        ),
    ],
)
def test_h100_node_reasons(spec: object, reasons: list[str]) -> None:
    assert match(parse_spec(spec), h100_node()) == reasons


def test_avx512_cpu_node() -> None:
    node = cpu_node()
    assert match(parse_spec({"cpu": {"flags": ["avx512f"], "cores": 32}}), node) == []
    assert match(parse_spec({"features": ["ib"]}), node) == []
    assert match(parse_spec("H100:1"), node) == ["needs 1 x gpu H100, node has no gpu"]
    assert match(parse_spec({"cpu": {"flags": ["amx_tile"]}}), node) == ["needs cpu flag amx_tile"]
    assert match(parse_spec({"features": ["gpu"]}), node) == [
        "needs feature gpu, node has avx512, ib"
    ]


def test_aarch64_node() -> None:
    node = arm_node()
    spec = {"cpu": {"arch": "arm64", "vendor": "ARM", "flags": ["sve2"]}, "gpu": "GH200"}
    assert match(parse_spec(spec), node) == []
    assert match(parse_spec({"labels": {"kubernetes.io/arch": "arm64"}}), node) == []
    assert match(parse_spec({"labels": {"kubernetes.io/arch": "amd64"}}), node) == [
        "needs label kubernetes.io/arch=amd64, node has kubernetes.io/arch=arm64"
    ]
    assert match(parse_spec("H100"), node) == [
        "needs 1 x gpu H100, node has 1 x NVIDIA GH200 480GB"
    ]
    assert match(parse_spec({"cpu": {"flags": ["avx512f"]}, "memory": "64GB"}), node) == [
        "needs cpu flag avx512f",
        "needs memory >= 64GB, node has 15.6GiB",
    ]


def test_offline_node_never_fits() -> None:
    node = cpu_node(online=False)
    assert match(HardwareSpec(), node) == ["node is offline"]
    assert first_unmet(HardwareSpec(), [node]) == "no online node"
    assert first_unmet(HardwareSpec(), []) == "no online node"


def test_unreported_values_fail_what_needs_them() -> None:
    node = cpu_node(arch=None, cpu_vendor=None, cpu_model=None, cpu_flags=frozenset(),
                    cores=None, memory_bytes=None)  # fmt: skip
    spec = parse_spec(
        {
            "cpu": {"arch": "x86_64", "vendor": "intel", "model": "Xeon", "flags": ["avx2"],
                    "cores": 4},
            "memory": "1GB",
        }
    )  # fmt: skip
    assert match(spec, node) == [
        "needs arch x86_64, node does not report its arch",
        "needs cpu vendor intel, node does not report its cpu vendor",
        "needs a cpu model containing 'Xeon', node does not report its cpu model",
        "needs cpu flag avx2, node does not report its cpu flags",
        "needs cpu cores >= 4, node does not report its cpu cores",
        "needs memory >= 1GB, node does not report its memory",
    ]
    assert match(HardwareSpec(), node) == []


def test_accelerator_memory_not_reported() -> None:
    node = node_from_hwinfo(FPGA_HWINFO, name="fpga-01", testbed="ssh")
    assert match(parse_spec({"accelerators": ["fpga:xilinx:U250:2"]}), node) == []
    assert match(parse_spec({"accelerators": ["xilinx:2"]}), node) == []
    assert match(parse_spec({"accelerators": ["fpga:3"]}), node) == [
        "needs 3 x fpga, node has 2 x xilinx Alveo U250"
    ]
    assert match(parse_spec({"accelerators": ["fpga:16GB"]}), node) == [
        "needs 1 x fpga with memory 16GB, node has 2 x xilinx Alveo U250 (memory not reported)"
    ]


def test_count_sums_matching_groups() -> None:
    node = cpu_node(
        accelerators=(
            NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-80GB", 80 * GiB, 2),
            NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-40GB", 40 * GiB, 2),
            NodeAccelerator("gpu", "NVIDIA", "NVIDIA H100 PCIe", 80 * GiB, 1),
        )
    )
    assert match(parse_spec("A100:4"), node) == []
    assert match(parse_spec("nvidia:A100,H100:5"), node) == []
    assert match(parse_spec("70GB..:3"), node) == []
    assert match(parse_spec("A100-80GB:3"), node) == [
        "needs 3 x gpu A100-80GB, node has 2 x NVIDIA A100-SXM4-80GB, 2 x NVIDIA A100-SXM4-40GB,"
        " 1 x NVIDIA H100 PCIe"
    ]
    # Each requirement must be met on its own.
    assert match(parse_spec({"gpu": "A100:4", "accelerators": ["gpu:H100:1"]}), node) == []


def test_fits_tests_one_device_entry_count_aside() -> None:
    a100 = NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-40GB", 40 * GiB, 2)
    assert fits(parse_accelerator("A100:8"), a100), "the count is the match's to sum"
    assert fits(parse_accelerator("nvidia:A100:..40GiB:1"), a100)
    assert not fits(parse_accelerator("nvidia:A100:80GB..:1"), a100), "memory is tested"
    assert not fits(parse_accelerator("amd:1"), a100)
    assert not fits(parse_accelerator("H100:1"), a100)
    assert not fits(parse_accelerator("fpga:1", "accelerators", "fpga"), a100)
    named = NodeAccelerator("gpu", "NVIDIA Corporation", "Tesla T4", None, 1)
    assert fits(parse_accelerator("nvidia:T4"), named), "the node's vendor is normalised"
    assert fits(parse_accelerator("16GB:1"), named), "a T4 is a 16GB card by its name"
    unnamed = NodeAccelerator("gpu", "NVIDIA Corporation", "Tesla X9", None, 1)
    assert not fits(parse_accelerator("16GB..:1"), unnamed), "memory not known fails a range"


def test_first_unmet() -> None:
    nodes = [h100_node(), cpu_node(), arm_node(), h100_node(name="down", online=False)]
    assert first_unmet(parse_spec("H100:8"), nodes) is None
    assert first_unmet(HardwareSpec(), nodes) is None
    assert first_unmet(parse_spec("H100:16"), nodes) == (
        "needs 16 x gpu H100, node has 8 x NVIDIA H100 80GB HBM3"
    )
    # Of nodes equally close, the first one speaks.
    assert first_unmet(parse_spec("H100:16"), nodes[1:]) == "needs 16 x gpu H100, node has no gpu"
    spec = parse_spec({"gpu": "H100:16", "cpu": {"flags": ["sve"]}})
    assert first_unmet(spec, nodes) == "needs 16 x gpu H100, node has 1 x NVIDIA GH200 480GB"
    assert first_unmet(spec, nodes[:2]) == (
        "needs cpu flag sve; needs 16 x gpu H100, node has 8 x NVIDIA H100 80GB HBM3"
    )
    assert first_unmet(parse_spec({"node": "down"}), nodes) == (
        "needs node down, node is gpu-node-01"
    )
    assert first_unmet(parse_spec("H100"), [h100_node(online=False)]) == "no online node"
