"""Hardware probe documents and nodes the hardware tests share."""

from __future__ import annotations

from typing import Any

from shared.hardware import NodeAccelerator, NodeInfo, node_from_hwinfo

GB, GiB = 10**9, 2**30


H100_HWINFO: dict[str, Any] = {
    "hostname": "gpu-node-01",
    "cpu": {
        "arch": "x86_64",
        "vendor": "GenuineIntel",
        "model_name": "Intel(R) Xeon(R) Platinum 8480+",
        "flags": ["fpu", "sse4_2", "avx2", "avx512f", "avx512bw", "AMX_TILE"],
        "sockets": 2,
        "cores": 112,
        "threads": 224,
        "usable_threads": 224,
    },
    "memory": {"total_bytes": 2_164_000_000_000, "available_bytes": 2_000_000_000_000},
    "gpus": [
        {
            "index": i,
            "vendor": "nvidia",
            "model": "NVIDIA H100 80GB HBM3",
            "memory_bytes": 85_520_809_984,
            "uuid": f"GPU-{i:08x}",
            "driver_version": "550.54.15",
            "pci_bus_id": f"00000000:{0x18 + i:02X}:00.0",
            "compute_capability": "9.0",
            "source": "nvidia-smi",
        }
        for i in range(8)
    ],
    "accelerators": [
        {
            "kind": "display",
            "vendor": "ASPEED Technology, Inc.",
            "vendor_id": "0x1a03",
            "device": "ASPEED Graphics Family",
            "device_id": "0x2000",
            "pci_slot": "0000:03:00.0",
            "class_id": "0x030000",
        },
        *[
            {
                "kind": "gpu",
                "vendor": "NVIDIA Corporation",
                "vendor_id": "0x10de",
                "device": "GH100 [H100 SXM5 80GB]",
                "device_id": "0x2330",
                "pci_slot": f"0000:{0x18 + i:02x}:00.0",
                "class_id": "0x030200",
            }
            for i in range(8)
        ],
    ],
}

FPGA_HWINFO: dict[str, Any] = {
    "cpu": {
        "arch": "x86_64",
        "vendor": "AuthenticAMD",
        "model_name": "AMD EPYC 7763 64-Core Processor",
        "flags": ["avx2", "sse4_2"],
        "threads": 128,
    },
    "memory": {"total_bytes": 512 * GiB},
    "gpus": [],
    "accelerators": [
        {
            "kind": "fpga",
            "vendor": "Xilinx Corporation",
            "vendor_id": "0x10ee",
            "device": "Alveo U250",
            "device_id": "0x5004",
            "pci_slot": f"0000:{i + 1:02x}:00.0",
            "class_id": "0x120000",
        }
        for i in range(2)
    ],
}


def h100_node(**changes: Any) -> NodeInfo:
    node = node_from_hwinfo(H100_HWINFO, name="gpu-node-01", testbed="k8s")
    return NodeInfo(**{**node.__dict__, **changes})


def cpu_node(**changes: Any) -> NodeInfo:
    fields: dict[str, Any] = {
        "name": "cpu-node-01",
        "testbed": "slurm",
        "arch": "x86_64",
        "cpu_vendor": "intel",
        "cpu_model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
        "cpu_flags": frozenset({"avx2", "avx512f", "avx512_vnni", "sse4_2"}),
        "cores": 64,
        "memory_bytes": 512 * GiB,
        "accelerators": (),
        "features": frozenset({"avx512", "ib"}),
    }
    return NodeInfo(**{**fields, **changes})


def arm_node(**changes: Any) -> NodeInfo:
    fields: dict[str, Any] = {
        "name": "grace-01",
        "testbed": "ssh",
        "arch": "aarch64",
        "cpu_vendor": "arm",
        "cpu_model": "Neoverse-V2",
        "cpu_flags": frozenset({"fp", "asimd", "sve", "sve2"}),
        "cores": 72,
        "memory_bytes": int(15.6 * GiB),
        "accelerators": (
            NodeAccelerator("gpu", "nvidia", "NVIDIA GH200 480GB", 97_844_723_712, 1),
        ),
        "labels": (("kubernetes.io/arch", "arm64"),),
    }
    return NodeInfo(**{**fields, **changes})
