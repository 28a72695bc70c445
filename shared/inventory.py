"""Node inventory: how nodes are stored, and which of them can take a request."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import load_only

from shared import hardware
from shared.db.models import Deployment, Inspection, Node, Run, Testbed
from shared.metrics_state import ACTIVE, held_devices, requested_accelerators

# Runtimes that can run an OCI image on a node ("kubernetes" for nodes of a cluster).
IMAGE_RUNTIMES = frozenset({"podman", "buildah", "docker", "apptainer", "enroot", "kubernetes"})
# Runtimes of nodes that can only run images: without "native" they refuse `base: host`.
IMAGE_ONLY = frozenset({"kubernetes"})


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


@dataclass(frozen=True)
class Candidate:
    """A node as placement sees it: the node, its testbed and what it can run."""

    testbed_id: uuid.UUID
    testbed: str
    kind: str
    node: hardware.NodeInfo
    runtimes: frozenset[str]


def online_nodes() -> Select[Node, str, str]:
    """Nodes of online testbeds, with their testbed's name and kind: only what `candidate`
    reads (a node's hwinfo document is large and placement never looks at it)."""
    return (
        select(Node, Testbed.name, Testbed.kind)
        .join(Testbed, Node.testbed_id == Testbed.id)
        .where(Testbed.state == "online")
        .options(load_only(Node.testbed_id, Node.name, Node.state, Node.inventory))
    )


def candidate(node: Node, testbed: str, kind: str) -> Candidate:
    return Candidate(
        testbed_id=node.testbed_id,
        testbed=testbed,
        kind=kind,
        node=node_from_json(node.name, testbed, node.inventory, node.state == "online"),
        runtimes=frozenset(node.inventory.get("runtimes", ())),
    )


@dataclass(frozen=True)
class Unmet:
    field: str
    reason: str


def feasible(
    spec: hardware.HardwareSpec,
    candidates: Sequence[Candidate],
    *,
    testbed: str | None,
    image: str | None,
    spec_field: str,
) -> list[Candidate] | Unmet:
    """The candidates that fit, in order; or the one constraint that no node meets."""
    if testbed is not None:
        pool = [c for c in candidates if c.testbed == testbed]
        if not pool and testbed not in {c.testbed for c in candidates}:
            return Unmet("testbed", f"no online testbed is named {testbed!r}")
        where = f"testbed {testbed!r}"
    else:
        pool = list(candidates)
        where = "the testbeds"
    pool = [c for c in pool if c.node.online]
    if not pool:
        return Unmet("testbed", f"no online node in {where}")
    if image is None:
        # Nodes that only run images (Kubernetes without a host_image) cannot take `base: host`.
        pool = [c for c in pool if "native" in c.runtimes or c.runtimes.isdisjoint(IMAGE_ONLY)]
        if not pool:
            return Unmet(
                "base" if spec_field.startswith(("run", "build")) else "image",
                f"no online node in {where} runs on its own OS (base 'host'): Kubernetes "
                "nodes run images; give a base image (or an image), or set the testbed's "
                "host_image",
            )
    else:
        pool = [c for c in pool if c.runtimes & IMAGE_RUNTIMES]
        if not pool:
            return Unmet(
                "base" if spec_field.startswith("run") else "image",
                f"no online node in {where} offers a container runtime to run image {image!r}"
                " (base 'host' runs on the node's own OS)",
            )
    fits = [c for c in pool if not hardware.match(spec, c.node)]
    if fits:
        return fits
    reason = hardware.first_unmet(spec, [c.node for c in pool]) or "no node fits"
    return Unmet(spec_field, reason)


Held = Mapping[tuple[str, str], Sequence[hardware.AcceleratorSpec]]


def active_requests(nodes: Iterable[tuple[str, str]] | None = None) -> Select[Any]:
    """(testbed, node, inspection spec, deployment spec) of every placed or running run."""
    query = (
        select(Testbed.name, Run.node_name, Inspection.specification, Deployment.specification)
        .join(Testbed, Run.testbed_id == Testbed.id)
        .outerjoin(Inspection, Run.inspection_id == Inspection.id)
        .outerjoin(Deployment, Run.deployment_id == Deployment.id)
        .where(Run.state.in_(ACTIVE), Run.node_name.is_not(None))
    )
    if nodes is not None:
        names = {node for _, node in nodes}
        query = query.where(Run.node_name.in_(names))
    return query


def held_by_node(
    rows: Iterable[Any],
) -> dict[tuple[str, str], list[hardware.AcceleratorSpec]]:
    """The accelerators the active runs (rows of `active_requests`) ask for, by node."""
    held: dict[tuple[str, str], list[hardware.AcceleratorSpec]] = {}
    for testbed, node, inspection, deployment in rows:
        wanted = requested_accelerators(inspection or deployment, inspection=bool(inspection))
        held.setdefault((testbed, node), []).extend(wanted)
    return held


def _entries(node: hardware.NodeInfo) -> list[dict[str, Any]]:
    return [
        {"kind": a.kind, "vendor": a.vendor, "model": a.model, "count": a.count}
        for a in node.accelerators
    ]


def free_devices(node: hardware.NodeInfo, held: Sequence[hardware.AcceleratorSpec]) -> list[int]:
    """Per accelerator entry of the node: the devices no active run holds."""
    taken = held_devices({"accelerators": _entries(node)}, held)
    return [max(0, a.count - taken.get(i, 0)) for i, a in enumerate(node.accelerators)]


def rank(
    fits: Sequence[Candidate], wanted: Sequence[hardware.AcceleratorSpec], held: Held
) -> list[Candidate]:
    """Where a run should go first, among the nodes that fit it.

    A run that asks for accelerators goes first to nodes where they are free now (the most
    free first, so runs spread instead of queueing behind each other); a run that asks for
    none goes first to nodes without accelerators, keeping those for the work that needs
    them. Ties keep the inventory's order.
    """

    def key(candidate: Candidate) -> tuple[int, int]:
        node = candidate.node
        total = sum(a.count for a in node.accelerators)
        if not wanted:
            return (0, total)
        free = free_devices(node, held.get((candidate.testbed, node.name), ()))
        entries = _entries(node)
        short = 0
        spare = 0
        for spec in wanted:
            # the entries this request can use: the same matching as held_devices
            matching = held_devices({"accelerators": entries}, [spec])
            available = sum(free[i] for i in matching)
            short += max(0, spec.count - available)
            spare += available - spec.count
        return (short, -spare)

    return sorted(fits, key=key)
