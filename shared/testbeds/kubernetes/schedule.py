"""Where a run's pod may go on Kubernetes (pure functions): the chosen node as rendering
needs it (Target), the node selector (GPU model label, arch, NFD CPU flags, the spec's
labels), the GPU resources to request and limit, and the tolerations of the node's GPU taints.
Every label is checked against the Kubernetes grammars (RenderError otherwise)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.testbeds.base import Job, RenderError
from shared.testbeds.kubernetes import nodes
from shared.testbeds.kubernetes.config import KubernetesConfig, label_value, qualified_name

_K8S_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True)
class Target:
    """What rendering needs from the chosen node's inventory row."""

    node: str
    gpu_label_value: str | None = None
    gpu_resource: str | None = None
    labels: Mapping[str, str] | None = None
    taints: Sequence[Mapping[str, str]] = ()

    @staticmethod
    def of(node: str, data: Mapping[str, Any]) -> Target:
        kube = data.get("kubernetes") or {}
        return Target(
            node=node,
            gpu_label_value=kube.get("gpu_label"),
            gpu_resource=kube.get("gpu_resource"),
            labels=dict(data.get("labels") or {}),
            taints=list(kube.get("taints") or []),
        )


def _check_label(key: str, value: str, what: str) -> tuple[str, str]:
    if not qualified_name(key):
        raise RenderError(f"{what} {key!r} is not a Kubernetes label key")
    if not label_value(value):
        raise RenderError(f"{what} {key}={value!r}: not a Kubernetes label value")
    return key, value


def _nfd_label(flag: str) -> str:
    names = {v: k for k, v in nodes.NFD_FLAG_NAMES.items()}
    return nodes.NFD_CPUID + names.get(flag, flag.upper())


def node_selector(job: Job, target: Target, config: KubernetesConfig) -> dict[str, str]:
    """The node selector: the GPU model label, arch, NFD CPU flags and the spec's labels."""
    spec = job.hardware
    chosen: dict[str, str] = {}
    if any(a.kind == "gpu" for a in spec.accelerators) and target.gpu_label_value:
        chosen[config.gpu_label] = target.gpu_label_value
    if spec.cpu.arch:
        chosen["kubernetes.io/arch"] = _K8S_ARCH.get(spec.cpu.arch, spec.cpu.arch)
    node_labels = target.labels or {}
    for flag in spec.cpu.flags:
        key = _nfd_label(flag)
        if node_labels.get(key) == "true":
            chosen[key] = "true"
    for key, value in spec.labels:
        chosen[key] = value
    return dict(_check_label(k, v, "label") for k, v in sorted(chosen.items()))


def gpu_resources(job: Job, target: Target, config: KubernetesConfig) -> dict[str, int]:
    """Extended resources to request (and limit): the GPUs the spec asks for."""
    wanted: dict[str, int] = {}
    for accelerator in job.hardware.accelerators:
        if accelerator.kind != "gpu":
            raise RenderError(
                f"no Kubernetes resource is known for {accelerator.kind} accelerators"
            )
        resource = target.gpu_resource
        if resource is None:
            vendors = {config.vendor_of(r): r for r in config.gpu_resources}
            resource = vendors.get(accelerator.vendor or "nvidia", config.gpu_resources[0])
        wanted[resource] = wanted.get(resource, 0) + accelerator.count
    return wanted


def tolerations(
    target: Target, gpus: Mapping[str, int], config: KubernetesConfig
) -> list[dict[str, str]]:
    """Tolerate the chosen node's GPU taints (when GPUs are asked for), then the config's."""
    found: list[dict[str, str]] = []
    if gpus:
        for taint in target.taints:
            key = taint.get("key", "")
            if key in config.gpu_resources or key in gpus:
                item = {"key": key, "operator": "Exists"}
                if taint.get("effect"):
                    item["effect"] = taint["effect"]
                if item not in found:
                    found.append(item)
    for extra in config.tolerations:
        if extra.manifest() not in found:
            found.append(extra.manifest())
    return found
