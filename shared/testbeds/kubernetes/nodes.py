"""A Kubernetes Node object as an inventory row (pure functions over the API's JSON).

What the cluster says is all there is: arch and instance type from the well-known labels, the
GPU model from the testbed's GPU label (GPU feature discovery, or the cloud's own), the GPU
count from the node's allocatable extended resources, CPU flags from Node Feature Discovery's
`feature.node.kubernetes.io/cpu-cpuid.*` labels, and the GPUs in use from the pods bound to the
node. A node whose label names a GPU but which has no allocatable GPU (no device plugin, or a
broken one) is flagged and never chosen.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from shared import hardware, inventory
from shared.testbeds.kubernetes.config import KubernetesConfig

RUNTIME = "kubernetes"
ARCH_LABELS = ("kubernetes.io/arch", "beta.kubernetes.io/arch")
INSTANCE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
NFD_CPUID = "feature.node.kubernetes.io/cpu-cpuid."
NFD_VENDOR = "feature.node.kubernetes.io/cpu-model.vendor_id"
GPU_MEMORY_LABELS = ("nvidia.com/gpu.memory",)  # MiB, from GPU feature discovery
RUN_LABEL = "tessera.io/run-id"  # on the Jobs and pods of Tessera's runs (render.py)
# NFD's cpuid names where they differ from /proc/cpuinfo's flags (what specs use).
NFD_FLAG_NAMES = {
    "FMA3": "fma",
    "SSE41": "sse4_1",
    "SSE42": "sse4_2",
    "LAHF": "lahf_lm",
    "LZCNT": "abm",
    "AVX512VPOPCNTDQ": "avx512_vpopcntdq",
    "AVX512VBMI2": "avx512_vbmi2",
    "AVX512VNNI": "avx512_vnni",
    "AVX512BITALG": "avx512_bitalg",
    "AVX512BF16": "avx512_bf16",
    "AVX512FP16": "avx512_fp16",
    "AVXVNNI": "avx_vnni",
    "AMXBF16": "amx_bf16",
    "AMXINT8": "amx_int8",
    "AMXTILE": "amx_tile",
    "SHA": "sha_ni",
    "CMPXCHG8": "cx8",
    "CX16": "cx16",
}
# Node-level labels kept in the inventory (what specs may ask with `labels:`).
KEPT_LABEL_PREFIXES = (
    "kubernetes.io/",
    "node.kubernetes.io/",
    "topology.kubernetes.io/",
    "nvidia.com/",
    "amd.com/",
    "cloud.google.com/",
    "eks.amazonaws.com/",
    "karpenter.sh/",
    "feature.node.kubernetes.io/",
)

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[KMGTPE]i|[kMGTPEnum]?)$")
_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(1000),
    **{p: Decimal(1000) ** (i + 2) for i, p in enumerate("MGTPE")},
    **{f"{p}i": Decimal(1024) ** (i + 1) for i, p in enumerate("KMGTPE")},
}


def quantity(value: object) -> Decimal | None:
    """A Kubernetes resource quantity ("7910m", "32Gi", "1", "1e3") as a number; None if bad."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    found = _QUANTITY.match(value.strip())
    if found is None:
        return None
    number, suffix = found.groups()
    try:
        base = Decimal(number)
        if suffix[:1] in ("e", "E"):
            return base * (Decimal(10) ** int(suffix[1:]))
        return base * _SUFFIX[suffix]
    except (InvalidOperation, KeyError, ValueError):
        return None


def count(value: object) -> int:
    """A whole count of a resource (GPUs, cores): rounded down; 0 when absent or bad."""
    found = quantity(value)
    return max(0, int(math.floor(found))) if found is not None else 0


def cpu_flags(labels: Mapping[str, str]) -> frozenset[str]:
    """CPU flags from NFD labels: `feature.node.kubernetes.io/cpu-cpuid.AVX512F=true` -> avx512f."""
    flags = set()
    for key, value in labels.items():
        if key.startswith(NFD_CPUID) and value == "true":
            name = key[len(NFD_CPUID) :]
            flags.add(NFD_FLAG_NAMES.get(name.upper(), name.lower()))
    return frozenset(flags)


def gpu_model(config: KubernetesConfig, value: str) -> str:
    """The model name of a GPU label value: the config's patterns first, else the value."""
    for model, patterns in config.gpu_models.items():
        if any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns):
            return model
    return value


@dataclass(frozen=True)
class KubeNode:
    """What the inventory keeps of a Node object."""

    info: hardware.NodeInfo
    online: bool
    reason: str | None
    flagged: str | None  # why a labelled GPU node cannot be used
    gpu_label_value: str | None
    gpu_resource: str | None
    gpus_allocatable: int
    instance_type: str | None
    taints: list[dict[str, Any]] = field(default_factory=list)
    conditions: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, str] = field(default_factory=dict)
    allocatable: dict[str, str] = field(default_factory=dict)


def _labels(node: Mapping[str, Any]) -> dict[str, str]:
    raw = (node.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in raw.items()}


def _gpus(
    labels: Mapping[str, str], allocatable: Mapping[str, str], config: KubernetesConfig
) -> tuple[list[hardware.NodeAccelerator], str | None, int]:
    """The node's allocatable GPUs per device plugin resource, with the model its label
    names; and the first resource that has any, with its count."""
    gpu_value = labels.get(config.gpu_label)
    memory_mib = next((count(labels[k]) for k in GPU_MEMORY_LABELS if k in labels), 0)
    accelerators = []
    resource_used, allocatable_gpus = None, 0
    for resource in config.gpu_resources:
        n = count(allocatable.get(resource))
        if n <= 0:
            continue
        if resource_used is None:
            resource_used, allocatable_gpus = resource, n
        accelerators.append(
            hardware.NodeAccelerator(
                kind="gpu",
                vendor=config.vendor_of(resource),
                model=gpu_model(config, gpu_value) if gpu_value else "gpu",
                memory_bytes=memory_mib * 2**20 if memory_mib else None,
                count=n,
            )
        )
    return accelerators, resource_used, allocatable_gpus


def _unusable(
    status: Mapping[str, Any], spec: Mapping[str, Any], flagged: str | None
) -> tuple[str | None, dict[str, str]]:
    """Why the node cannot take runs now (None: it can), and its conditions."""
    listed = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    conditions = {str(c.get("type")): str(c.get("status")) for c in listed}
    messages = {str(c.get("type")): str(c.get("message") or c.get("reason") or "") for c in listed}
    if conditions.get("Ready") != "True":
        ready = messages.get("Ready") or "no Ready condition"
        return f"Kubernetes: node not Ready ({ready})", conditions
    if spec.get("unschedulable"):
        return "Kubernetes: node is cordoned (unschedulable)", conditions
    if flagged:
        return f"flagged: {flagged}", conditions
    return None, conditions


def read_node(node: Mapping[str, Any], config: KubernetesConfig, testbed: str) -> KubeNode:
    """A Node object (as `kubectl get node -o json` prints it) read for the inventory."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    labels = _labels(node)
    allocatable = {str(k): str(v) for k, v in (status.get("allocatable") or {}).items()}
    capacity = {str(k): str(v) for k, v in (status.get("capacity") or {}).items()}
    arch = next((labels[k] for k in ARCH_LABELS if k in labels), None) or (
        status.get("nodeInfo") or {}
    ).get("architecture")
    gpu_value = labels.get(config.gpu_label)
    accelerators, resource_used, allocatable_gpus = _gpus(labels, allocatable, config)
    flagged = None
    if gpu_value and not accelerators:
        resources = " or ".join(config.gpu_resources)
        flagged = (
            f"label {config.gpu_label}={gpu_value} names a GPU but the node has no "
            f"allocatable {resources} (is the device plugin running?)"
        )
    reason, conditions = _unusable(status, spec, flagged)
    vendor = labels.get(NFD_VENDOR)
    info = hardware.NodeInfo(
        name=str(meta.get("name", "")),
        testbed=testbed,
        arch=hardware.normalise_arch(arch) if arch else None,
        cpu_vendor=hardware.normalise_vendor(vendor) if vendor else None,
        cpu_model=None,
        cpu_flags=cpu_flags(labels),
        cores=count(allocatable.get("cpu")) or None,
        memory_bytes=int(quantity(allocatable.get("memory")) or 0) or None,
        accelerators=tuple(accelerators),
        labels=tuple(
            sorted((k, v) for k, v in labels.items() if k.startswith(KEPT_LABEL_PREFIXES))
        ),
        online=reason is None,
    )
    taints = [
        {k: str(t[k]) for k in ("key", "value", "effect") if t.get(k) is not None}
        for t in spec.get("taints") or []
        if isinstance(t, Mapping)
    ]
    return KubeNode(
        info=info,
        online=reason is None,
        reason=reason,
        flagged=flagged,
        gpu_label_value=gpu_value,
        gpu_resource=resource_used,
        gpus_allocatable=allocatable_gpus,
        instance_type=next((labels[k] for k in INSTANCE_LABELS if k in labels), None),
        taints=taints,
        conditions=conditions,
        capacity=capacity,
        allocatable=allocatable,
    )


def gpus_in_use(
    pods: Iterable[Mapping[str, Any]],
    resources: Iterable[str],
    but: Callable[[Mapping[str, Any]], bool] | None = None,
) -> dict[str, int]:
    """GPUs requested by the pods bound to each node that have not ended, by node name (less
    the pods `but` picks out).

    A pod's request is the larger of its containers' sum and its largest init container, as
    the scheduler counts it; limits stand in for requests where only limits are set.
    """
    keys = tuple(resources)
    used: dict[str, int] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if not node or phase in ("Succeeded", "Failed") or (but is not None and but(pod)):
            continue
        spec = pod.get("spec") or {}

        def wanted(container: Mapping[str, Any]) -> int:
            res = container.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            return sum(count(req.get(k, lim.get(k))) for k in keys)

        main = sum(wanted(c) for c in spec.get("containers") or [])
        init = max((wanted(c) for c in spec.get("initContainers") or []), default=0)
        total = max(main, init)
        if total:
            used[str(node)] = used.get(str(node), 0) + total
    return used


def tessera_pod(pod: Mapping[str, Any]) -> bool:
    """Whether the pod is one of Tessera's runs (its GPUs are counted from the run's row)."""
    return RUN_LABEL in ((pod.get("metadata") or {}).get("labels") or {})


def _spread(accelerators: Iterable[hardware.NodeAccelerator], held: int) -> list[int]:
    """`held` GPUs over the node's GPU entries in order (one entry on nearly every node)."""
    counts = []
    for device in accelerators:
        take = min(device.count, held) if device.kind == "gpu" else 0
        counts.append(take)
        held -= take
    return counts


def inventory_of(
    found: KubeNode, in_use: int, host_image: bool, by_others: int = 0
) -> dict[str, Any]:
    """The node row's inventory column: the shared shape plus a `kubernetes` section.
    `in_use`: the GPUs of the pods bound to it; `by_others`: those of pods not Tessera's
    (placement counts Tessera's own from its rows).

    Pods run images, so the runtimes are `kubernetes`; `native` joins it only when the testbed
    names a `host_image` for `base: host` runs.
    """
    runtimes = [RUNTIME, "native"] if host_image else [RUNTIME]
    others = _spread(found.info.accelerators, by_others)
    data = inventory.node_to_json(found.info, runtimes, others)
    data["kubernetes"] = {
        "instance_type": found.instance_type,
        "gpu_label": found.gpu_label_value,
        "gpu_resource": found.gpu_resource,
        "gpus_allocatable": found.gpus_allocatable,
        "gpus_in_use": in_use,
        "gpus_free": max(0, found.gpus_allocatable - in_use),
        "gpus_held_by_others": by_others,
        "taints": found.taints,
        "conditions": found.conditions,
        "capacity": found.capacity,
        "allocatable": found.allocatable,
        "flagged": found.flagged,
    }
    return data
