"""Pure: a host's probe (hwinfo) and the runtimes that ran there, as a node report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared import hardware, inventory
from shared.testbeds.base import NodeReport


def host_gpus(hwinfo: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each GPU of the host as placement hands them out, one at a time: `device` is what the
    run's CUDA_VISIBLE_DEVICES names, its index, or for a MIG slice (which shares its
    parent's index) its MIG UUID."""
    found = []
    for position, gpu in enumerate(hwinfo.get("gpus") or []):
        if not isinstance(gpu, Mapping):
            continue
        index = gpu.get("index")
        number = int(index) if isinstance(index, int | str) and str(index).isdigit() else position
        uuid = str(gpu.get("uuid") or "")
        found.append(
            {
                "index": number,
                "device": uuid if uuid.startswith("MIG-") else str(number),
                "vendor": hardware.normalise_vendor(str(gpu.get("vendor") or "")),
                "model": str(gpu.get("model") or "gpu"),
                "memory_bytes": gpu.get("memory_bytes"),
            }
        )
    return found


def node_report(
    name: str, testbed: str, hwinfo: Mapping[str, Any], runtimes: Sequence[str]
) -> NodeReport:
    """The host as a node: its probe, the runtimes that work, its GPUs by index."""
    info = hardware.node_from_hwinfo(hwinfo, name=name, testbed=testbed)
    data = inventory.node_to_json(info, runtimes)
    data["ssh"] = {"gpus": host_gpus(hwinfo)}
    return NodeReport(name, "online", None, info, data, hwinfo=dict(hwinfo))


def offline_report(
    name: str, testbed: str, hwinfo: Mapping[str, Any] | None, reason: str
) -> NodeReport:
    """A host that did not answer: offline with the reason, its last probe kept."""
    if hwinfo:
        report = node_report(name, testbed, hwinfo, ["native"])
        return NodeReport(name, "offline", reason, report.info, report.inventory)
    info = hardware.NodeInfo(name, testbed, None, None, None, frozenset(), None, None, ())
    return NodeReport(name, "offline", reason, info, inventory.node_to_json(info, ["native"]))
