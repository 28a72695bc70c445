"""Placement: which nodes can take a run, and what the active runs hold (which of them first:
shared/ranking.py).

One home for the meaning of "free": the deployer's ranking, the API's node list and the
metrics' gauges all count devices with `free_devices` (a node's devices less what Tessera's
active runs hold, by `held_devices`, and what its scheduler reports held by other work), and
every device is tested against a request with `hardware.fits`, the same test `hardware.match`
makes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import load_only

from shared import hardware
from shared.db.models import Deployment, Inspection, Node, Run, RunAttempt, Testbed
from shared.inventory import held_by_others, node_from_json
from shared.specs import DeploymentSpec, InspectionSpec

# Runtimes that can run an OCI image on a node ("kubernetes" for nodes of a cluster).
IMAGE_RUNTIMES = frozenset(
    {"podman", "buildah", "docker", "apptainer", "enroot", "pyxis", "kubernetes"}
)
# The runtimes each testbed kind's connector runs images with (a node listing only others,
# docker on a SLURM node say, cannot take an image run there).
DRIVEN = {
    "local": frozenset({"podman", "buildah"}),
    "ssh": frozenset({"podman"}),
    "slurm": frozenset({"pyxis", "apptainer", "enroot", "podman"}),
    "kubernetes": frozenset({"kubernetes"}),
    "ec2": frozenset(),  # instances run on their AMI's own OS
}
# Testbeds whose every run gets a machine of its own (a cloud instance): no run holds what
# another asks for there, and their offers rank by price.
OWN_MACHINE = frozenset({"ec2"})


def image_runtimes(kind: str) -> frozenset[str]:
    """The runtimes Tessera runs images with on a node of this testbed kind."""
    return DRIVEN.get(kind, IMAGE_RUNTIMES)


# Runtimes of nodes that can only run images: without "native" they refuse `base: host`.
IMAGE_ONLY = frozenset({"kubernetes"})
# The states of a run that holds the devices it asked for on its node.
ACTIVE = ("placed", "running")


# ---- feasibility ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A node as placement sees it: the node, its testbed and what it can run."""

    testbed_id: uuid.UUID
    testbed: str
    kind: str
    node: hardware.NodeInfo
    runtimes: frozenset[str]
    # Per accelerator entry: what the scheduler reports held by work that is not Tessera's.
    others: tuple[int, ...] = ()
    # What the node's scheduler lets runs ask (SLURM: partitions, accounts, qos, reservations).
    scheduler: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # What a run there costs per hour (cloud offers; 0 for machines that are not rented).
    price_per_hour: float = 0.0


def online_nodes() -> Select[Node, str, str]:
    """Nodes of online testbeds, with their testbed's name and kind: only what `candidate`
    reads (a node's hwinfo document is large and placement never looks at it)."""
    return (
        select(Node, Testbed.name, Testbed.kind)
        .join(Testbed, Node.testbed_id == Testbed.id)
        .where(Testbed.state == "online", Node.drained_at.is_(None))  # drained: never chosen
        .options(load_only(Node.testbed_id, Node.name, Node.state, Node.inventory))
    )


def candidate(node: Node, testbed: str, kind: str) -> Candidate:
    return Candidate(
        testbed_id=node.testbed_id,
        testbed=testbed,
        kind=kind,
        node=node_from_json(node.name, testbed, node.inventory, node.state == "online"),
        runtimes=frozenset(node.inventory.get("runtimes", ())),
        others=held_by_others(node.inventory),
        scheduler=node.inventory.get("slurm") or {},
        price_per_hour=float((node.inventory.get("ec2") or {}).get("price_per_hour") or 0.0),
    )


@dataclass(frozen=True)
class Unmet:
    field: str
    reason: str


# A SLURM option a run asks, and what the node's refresh lists for it.
SLURM_LISTS = {
    "partition": "partitions",
    "account": "accounts",
    "qos": "qos",
    "reservation": "reservations",
}


def slurm_unmet(candidate: Candidate, slurm: Mapping[str, str]) -> tuple[str, str] | None:
    """(option, why) when the node cannot take the run's SLURM options; None when it can.
    An option the cluster would not list (sacctmgr without slurmdbd) is left to sbatch."""
    if not slurm:
        return None
    if candidate.kind != "slurm":
        return next(iter(slurm)), f"testbed {candidate.testbed} is not a SLURM cluster"
    for option, value in slurm.items():
        known = candidate.scheduler.get(SLURM_LISTS[option])
        if known is not None and value not in known:
            listed = ", ".join(known) or "none"
            where = "the node is in" if option == "partition" else "the cluster lists"
            return option, f"{option} {value!r} is not one {where} ({listed})"
    return None


def feasible(
    spec: hardware.HardwareSpec,
    candidates: Sequence[Candidate],
    *,
    testbed: str | None,
    image: str | None,
    spec_field: str,
    slurm: Mapping[str, str] | None = None,
) -> list[Candidate] | Unmet:
    """The candidates that fit, in order; or the one constraint that no node meets.
    `slurm`: the run's SLURM options (partition, qos, account, reservation)."""
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
        pool = [c for c in pool if c.runtimes & image_runtimes(c.kind)]
        if not pool:
            return Unmet(
                "base" if spec_field.startswith("run") else "image",
                f"no online node in {where} offers a container runtime Tessera runs images "
                f"with there, to run image {image!r} (base 'host' runs on the node's own OS)",
            )
    fits = [c for c in pool if not hardware.match(spec, c.node)]
    if not fits:
        reason = hardware.first_unmet(spec, [c.node for c in pool]) or "no node fits"
        return Unmet(spec_field, reason)
    if slurm:
        refused = [(c, slurm_unmet(c, slurm)) for c in fits]
        if not any(why is None for _, why in refused):
            candidate, (option, why) = next((c, w) for c, w in refused if w is not None)
            where = spec_field.rsplit(".", 1)[0]
            return Unmet(
                f"{where}.slurm.{option}", f"{candidate.testbed}/{candidate.node.name}: {why}"
            )
        fits = [c for c, why in refused if why is None]
    return fits


def why_not(
    candidate: Candidate,
    spec: hardware.HardwareSpec,
    image: str | None,
    slurm: Mapping[str, str] | None = None,
) -> str | None:
    """The first constraint the node fails for a run of `spec` (in `image`, or on the node's
    own OS when None, with the SLURM options `slurm`), in the words `feasible` uses; None
    when it fits."""
    if not candidate.node.online:
        return "node is offline"
    runtimes = candidate.runtimes
    if image is None and not ("native" in runtimes or runtimes.isdisjoint(IMAGE_ONLY)):
        return "it runs only images (Kubernetes): give a base image, or set host_image"
    if image is not None and not runtimes & image_runtimes(candidate.kind):
        driven = ", ".join(sorted(image_runtimes(candidate.kind)))
        return f"no container runtime Tessera runs images with on {candidate.kind} ({driven})"
    reasons = hardware.match(spec, candidate.node)
    if reasons:
        return reasons[0]
    refused = slurm_unmet(candidate, slurm or {})
    return None if refused is None else refused[1]


# ---- what the active runs hold ----------------------------------------------------------------

Held = Mapping[tuple[str, str], Sequence[hardware.AcceleratorSpec]]


def active_requests(nodes: Iterable[tuple[str, str]] | None = None) -> Select[Any]:
    """(testbed, node, inspection spec, deployment spec, held) of every placed or running run;
    `held`: what its current attempt was given, when placement recorded it (an alternative
    taken, a count range fixed), else None (the request's own accelerators)."""
    query = (
        select(
            Testbed.name,
            Run.node_name,
            Inspection.specification,
            Deployment.specification,
            RunAttempt.placement["held"],
        )
        .join(Testbed, Run.testbed_id == Testbed.id)
        .outerjoin(Inspection, Run.inspection_id == Inspection.id)
        .outerjoin(Deployment, Run.deployment_id == Deployment.id)
        .outerjoin(RunAttempt, (RunAttempt.run_id == Run.id) & (RunAttempt.number == Run.attempt))
        .where(Run.state.in_(ACTIVE), Run.node_name.is_not(None), Testbed.kind.not_in(OWN_MACHINE))
    )
    if nodes is not None:  # node names repeat across clusters: the testbeds narrow it too
        pairs = set(nodes)
        query = query.where(
            Run.node_name.in_({node for _, node in pairs}),
            Testbed.name.in_({testbed for testbed, _ in pairs}),
        )
    return query


def requested_accelerators(
    specification: Mapping[str, Any], *, inspection: bool
) -> tuple[hardware.AcceleratorSpec, ...]:
    """The accelerators one run of this inspection or deployment asks for."""
    try:
        spec = (
            InspectionSpec.model_validate(specification)
            if inspection
            else DeploymentSpec.model_validate(specification)
        )
        return spec.run_requests().spec().accelerators
    except ValueError:  # a row written by an older version: it holds nothing we can name
        return ()


def held_by_node(
    rows: Iterable[Any],
) -> dict[tuple[str, str], list[hardware.AcceleratorSpec]]:
    """The accelerators the active runs (rows of `active_requests`) ask for, by node."""
    held: dict[tuple[str, str], list[hardware.AcceleratorSpec]] = {}
    for testbed, node, inspection, deployment, given in rows:
        wanted = _given(given)
        if wanted is None:
            wanted = requested_accelerators(inspection or deployment, inspection=bool(inspection))
        held.setdefault((testbed, node), []).extend(wanted)
    return held


def _given(held: Any) -> tuple[hardware.AcceleratorSpec, ...] | None:
    """The accelerators an attempt's placement recorded as given, or None."""
    if not isinstance(held, dict):
        return None
    try:
        return hardware.parse_spec(held).accelerators
    except hardware.SpecError:
        return None


# ---- device accounting ------------------------------------------------------------------------


def first_fit(node: hardware.NodeInfo, spec: hardware.AcceleratorSpec) -> int | None:
    """The node's first accelerator entry whose devices the request can use."""
    for index, device in enumerate(node.accelerators):
        if hardware.fits(spec, device):
            return index
    return None


def held_devices(
    node: hardware.NodeInfo, wanted: Iterable[hardware.AcceleratorSpec]
) -> dict[int, int]:
    """How many devices of each of the node's accelerator entries the runs' requests hold.

    A request holds its count on the first entry that fits it, by `hardware.fits` (kind,
    vendor, model and memory), so the accounting agrees with `hardware.match`.
    """
    held: dict[int, int] = {}
    for spec in wanted:
        index = first_fit(node, spec)
        if index is not None:
            held[index] = held.get(index, 0) + spec.count
    return held


def free_devices(
    node: hardware.NodeInfo,
    held: Iterable[hardware.AcceleratorSpec],
    others: Sequence[int] = (),
) -> list[int]:
    """Per accelerator entry of the node: the devices neither Tessera's active runs hold nor
    other work does (`others`, per entry: what the testbed's scheduler reports held by jobs or
    pods that are not Tessera's, at its last look).

    Tessera's own are counted from its rows, which are current, not from the scheduler's
    count, which is as old as its last look and does not include Tessera's runs it has not
    started yet.
    """
    taken = held_devices(node, held)
    return [
        max(0, a.count - taken.get(i, 0) - (others[i] if i < len(others) else 0))
        for i, a in enumerate(node.accelerators)
    ]
