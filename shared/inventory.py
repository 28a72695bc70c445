"""Node inventory: how a node is stored in its row, and read back.

Which nodes can take a request, and what runs hold on them, is `shared.placement`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared import hardware


def node_to_json(
    node: hardware.NodeInfo, runtimes: Iterable[str], others: Sequence[int] | None = None
) -> dict[str, Any]:
    """The inventory column of a node row. `others`: per accelerator entry, the devices the
    testbed's scheduler reports held by work that is not Tessera's runs, where it says."""
    data: dict[str, Any] = {
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
        "cpu_family": node.cpu_family,
        "cpu_model_number": node.cpu_model_number,
        "disk_bytes": node.disk_bytes,
    }
    if others is not None:
        return with_held_by_others(data, others) or data
    return data


def held_by_others(data: Mapping[str, Any]) -> tuple[int, ...]:
    """Per accelerator entry of a row's inventory: the devices its scheduler reports held by
    work that is not Tessera's runs (other users' jobs or pods); 0 where it reports none."""
    found = []
    for entry in data.get("accelerators", ()):
        value = entry.get("held_by_others")
        found.append(value if isinstance(value, int) and value > 0 else 0)
    return tuple(found)


def with_held_by_others(data: Mapping[str, Any], others: Sequence[int]) -> dict[str, Any] | None:
    """The inventory with new counts of devices held by others; None when it holds them
    already, or when they no longer line up with its accelerator entries (the next refresh
    writes both)."""
    entries = list(data.get("accelerators", ()))
    if len(entries) != len(others) or held_by_others(data) == tuple(others):
        return None
    accelerators = [
        {**entry, "held_by_others": int(n)} for entry, n in zip(entries, others, strict=True)
    ]
    return {**data, "accelerators": accelerators}


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
        cpu_family=data.get("cpu_family"),
        cpu_model_number=data.get("cpu_model_number"),
        disk_bytes=data.get("disk_bytes"),
    )
