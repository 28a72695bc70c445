"""Pure: EC2's instance types (DescribeInstanceTypes) as offers, one node per instance type,
priced by the spot price history and the on-demand table shipped with Tessera
(on_demand_prices.json: dated, with its source)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared import hardware, inventory
from shared.testbeds.base import NodeReport

MiB = 1024 * 1024
# Without an allow-list: the families with GPUs or other accelerators, and a few general ones.
DEFAULT_FAMILIES = frozenset(
    "g4dn g5 g5g g6 g6e p3 p3dn p4d p4de p5 p5e p5en inf1 inf2 trn1 trn1n trn2 "
    "t3 t4g m6i m7g c6i c7g".split()
)
PRICES = Path(__file__).with_name("on_demand_prices.json")


@lru_cache(maxsize=1)
def price_table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PRICES.read_text())
    return data


def on_demand_price(region: str, instance_type: str) -> tuple[float | None, bool]:
    """(USD per hour, estimated): the table's price in the region, else us-east-1's."""
    regions = price_table()["regions"]
    if instance_type in regions.get(region, {}):
        return float(regions[region][instance_type]), False
    found = regions.get("us-east-1", {}).get(instance_type)
    return (None if found is None else float(found)), True


def spot_prices(history: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, str]]:
    """The lowest current spot price of each type, and its zone (DescribeSpotPriceHistory)."""
    best: dict[str, tuple[float, str]] = {}
    for item in history:
        name, price = str(item["InstanceType"]), float(item["SpotPrice"])
        if name not in best or price < best[name][0]:
            best[name] = (price, str(item.get("AvailabilityZone") or ""))
    return best


def wanted(item: Mapping[str, Any], allowed: Sequence[str], arches: Iterable[str]) -> bool:
    """Whether the type is offered: allow-listed (or of a default family), of an
    architecture the testbed has an image for."""
    name = str(item["InstanceType"])
    if allowed:
        if name not in allowed:
            return False
    elif name.split(".")[0] not in DEFAULT_FAMILIES:
        return False
    supported = set(item.get("ProcessorInfo", {}).get("SupportedArchitectures", ()))
    return bool(supported & set(arches))


def accelerators(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """GPUs (GpuInfo), Inferentia/Trainium (NeuronInfo, InferenceAcceleratorInfo) and FPGAs
    (FpgaInfo), as inventory accelerator entries."""
    found: list[dict[str, Any]] = []
    for gpu in (item.get("GpuInfo") or {}).get("Gpus", ()):
        found.append(
            {
                "kind": "gpu",
                "vendor": hardware.normalise_vendor(str(gpu.get("Manufacturer") or "")),
                "model": str(gpu.get("Name") or "gpu"),
                "memory_bytes": _mib(gpu.get("MemoryInfo")),
                "count": int(gpu.get("Count") or 1),
            }
        )
    neuron = (item.get("NeuronInfo") or {}).get("NeuronDevices") or (
        item.get("InferenceAcceleratorInfo") or {}
    ).get("Accelerators", ())
    for device in neuron:
        found.append(
            {
                "kind": "accelerator",
                "vendor": "aws",
                "model": str(device.get("Name") or "neuron"),
                "memory_bytes": _mib(device.get("MemoryInfo")),
                "count": int(device.get("Count") or 1),
            }
        )
    for fpga in (item.get("FpgaInfo") or {}).get("Fpgas", ()):
        found.append(
            {
                "kind": "fpga",
                "vendor": hardware.normalise_vendor(str(fpga.get("Manufacturer") or "")),
                "model": str(fpga.get("Name") or "fpga"),
                "memory_bytes": _mib(fpga.get("MemoryInfo")),
                "count": int(fpga.get("Count") or 1),
            }
        )
    return found


def _mib(info: Any) -> int | None:
    size = (info or {}).get("SizeInMiB")
    return int(size) * MiB if size else None


def arch_of(item: Mapping[str, Any], arches: Iterable[str]) -> str:
    """The EC2 architecture the type runs that the testbed has an image for."""
    supported = item.get("ProcessorInfo", {}).get("SupportedArchitectures", ())
    return next(a for a in ("x86_64", "arm64") if a in supported and a in set(arches))


def offer(
    item: Mapping[str, Any],
    testbed: str,
    region: str,
    arches: Iterable[str],
    spot: tuple[float, str] | None,
    use_spot: bool,
) -> NodeReport:
    """One instance type as a node: its vCPUs, memory, arch and accelerators; its inventory's
    `ec2` entry holds its prices and what a run there is charged."""
    name = str(item["InstanceType"])
    arch = arch_of(item, arches)
    processor = item.get("ProcessorInfo", {})
    info = hardware.NodeInfo(
        name=name,
        testbed=testbed,
        arch=hardware.normalise_arch(arch),
        cpu_vendor=str(processor.get("Manufacturer") or "") or None,
        cpu_model=None,
        cpu_flags=frozenset(),
        cores=int(item.get("VCpuInfo", {}).get("DefaultVCpus") or 0) or None,
        memory_bytes=_mib(item.get("MemoryInfo")),
        accelerators=tuple(
            hardware.NodeAccelerator(
                a["kind"], a["vendor"], a["model"], a["memory_bytes"], a["count"]
            )
            for a in accelerators(item)
        ),
        disk_bytes=None,
    )
    data = inventory.node_to_json(info, ["native"])
    classes = set(item.get("SupportedUsageClasses", ()))
    demand, estimated = on_demand_price(region, name)
    spot_ok = use_spot and "spot" in classes and spot is not None
    data["ec2"] = {
        "instance_type": name,
        "arch": arch,
        "spot_price": spot[0] if spot else None,
        "spot_zone": spot[1] if spot else None,
        "on_demand_price": demand,
        "on_demand_estimated": estimated,
        "lifecycle": "spot" if spot_ok else "on-demand",
        "price_per_hour": (spot[0] if spot_ok and spot else demand),
    }
    return NodeReport(name, "online", None, info, data)


def price_rank(node_inventory: Mapping[str, Any]) -> float:
    """What a run on this offer costs per hour, for ranking (unknown prices last)."""
    price = (node_inventory.get("ec2") or {}).get("price_per_hour")
    return float(price) if price is not None else 1e9
