"""Node inventory: how a node is stored in its row, and read back.

Which nodes can take a request, and what runs hold on them, is `shared.placement`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared import hardware


def node_to_json(node: hardware.NodeInfo, runtimes: Iterable[str]) -> dict[str, Any]:
    """The inventory column of a node row."""
    return {
        "arch": node.arch,
        "cpu_vendor": node.cpu_vendor,
        "cpu_model": node.cpu_model,
        "cpu_flags": sorted(node.cpu_flags),
        "cores": node.cores,
        "memory_bytes": node.memory_bytes,
        "accelerators": [
            {
                "kind": a.kind,
                "vendor": a.vendor,
                "model": a.model,
                "memory_bytes": a.memory_bytes,
                "count": a.count,
            }
            for a in node.accelerators
        ],
        "labels": dict(node.labels),
        "features": sorted(node.features),
        "runtimes": sorted(set(runtimes)),
    }


def node_from_json(
    name: str, testbed: str, data: Mapping[str, Any], online: bool
) -> hardware.NodeInfo:
    """The node a row's inventory column (`node_to_json`) describes."""
    return hardware.NodeInfo(
        name=name,
        testbed=testbed,
        arch=data.get("arch"),
        cpu_vendor=data.get("cpu_vendor"),
        cpu_model=data.get("cpu_model"),
        cpu_flags=frozenset(data.get("cpu_flags", ())),
        cores=data.get("cores"),
        memory_bytes=data.get("memory_bytes"),
        accelerators=tuple(
            hardware.NodeAccelerator(
                kind=a["kind"],
                vendor=a["vendor"],
                model=a["model"],
                memory_bytes=a.get("memory_bytes"),
                count=int(a["count"]),
            )
            for a in data.get("accelerators", ())
        ),
        labels=tuple(sorted(dict(data.get("labels", {})).items())),
        features=frozenset(data.get("features", ())),
        online=online,
    )
