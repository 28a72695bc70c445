"""Nodes from the hardware probe (shared.hwinfo): the node a probe's document describes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.hardware.spec import NodeAccelerator, NodeInfo, normalise_arch, normalise_vendor

_PCI_VENDORS = {
    "10de": "nvidia", "1002": "amd", "1022": "amd", "8086": "intel", "10ee": "xilinx",
    "1172": "altera", "1da3": "habana", "1d0f": "aws", "1ae0": "google", "1e52": "tenstorrent",
}  # fmt: skip


def _str(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _int(data: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _maps(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _strs(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _device_vendor(device: Mapping[str, Any]) -> str:
    pci_id = (_str(device, "vendor_id") or "").lower().removeprefix("0x").zfill(4)
    name = _str(device, "vendor")
    return _PCI_VENDORS.get(pci_id) or (normalise_vendor(name) if name else "unknown")


def node_from_hwinfo(hwinfo: Mapping[str, Any], *, name: str, testbed: str) -> NodeInfo:
    """The node a hardware probe describes; identical devices are grouped into counts."""
    cpu, memory = _map(hwinfo.get("cpu")), _map(hwinfo.get("memory"))
    groups: dict[tuple[str, str, str, int | None], int] = {}
    gpus = _maps(hwinfo.get("gpus"))
    for gpu in gpus:
        key = ("gpu", _device_vendor(gpu), _str(gpu, "model", "name") or "unknown",
               _int(gpu, "memory_bytes"))  # fmt: skip
        groups[key] = groups.get(key, 0) + 1
    # The PCI scan sees the GPUs that "gpus" already lists; count them once.
    kinds = {"fpga", "accelerator"} | (set() if gpus else {"gpu"})
    for device in _maps(hwinfo.get("accelerators")):
        if device.get("kind") in kinds:
            model = _str(device, "device", "model", "device_id") or "unknown"
            key = (device["kind"], _device_vendor(device), model, _int(device, "memory_bytes"))
            groups[key] = groups.get(key, 0) + 1
    flags = cpu.get("flags")
    flags = flags.split() if isinstance(flags, str) else _strs(flags)
    labels = _map(hwinfo.get("labels"))
    vendor, arch = _str(cpu, "vendor"), _str(cpu, "arch")
    return NodeInfo(
        name=name,
        testbed=testbed,
        arch=None if arch is None else normalise_arch(arch),
        cpu_vendor=None if vendor is None else normalise_vendor(vendor),
        cpu_model=_str(cpu, "model_name", "model"),
        cpu_flags=frozenset(flag.lower() for flag in flags),
        cores=_int(cpu, "usable_threads", "threads"),
        memory_bytes=_int(memory, "total_bytes"),
        accelerators=tuple(NodeAccelerator(*key, count) for key, count in groups.items()),
        labels=tuple(
            sorted((k, v) for k, v in labels.items() if isinstance(k, str) and isinstance(v, str))
        ),
        features=frozenset(_strs(hwinfo.get("features"))),
        cpu_family=_number(cpu.get("family")),
        cpu_model_number=_number(cpu.get("model")),
        disk_bytes=_int(_map(hwinfo.get("disk")), "free_bytes", "total_bytes"),
    )


def _number(value: object) -> int | None:
    """A /proc/cpuinfo number (0 included), None when absent or not a number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
