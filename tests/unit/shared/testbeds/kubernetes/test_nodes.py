"""Nodes of a Kubernetes cluster as inventory rows (shared/testbeds/kubernetes/nodes.py)."""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared import hardware, inventory, placement
from shared.testbeds.kubernetes import nodes as kn
from shared.testbeds.kubernetes.config import KubernetesConfig

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "kubernetes"
CONFIG = KubernetesConfig(gpu_models={"H100": ["NVIDIA-H100-*"]})


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", Decimal(8)),
        ("15890m", Decimal("15.890")),
        ("1845378640Ki", Decimal(1845378640 * 1024)),
        ("32Gi", Decimal(32 * 2**30)),
        ("64G", Decimal(64 * 10**9)),
        ("1e3", Decimal(1000)),
        ("0", Decimal(0)),
        (3, Decimal(3)),
        ("12x", None),
        ("", None),
        (None, None),
    ],
)
def test_quantity(text: object, value: Decimal | None) -> None:
    assert kn.quantity(text) == value


def test_gke_h100_node_reads_gpu_model_count_memory_taints_and_flags() -> None:
    found = kn.read_node(fixture("gke_h100_node.json"), CONFIG, "gke")
    info = found.info
    assert found.online and found.flagged is None and found.reason is None
    assert info.name == "gke-ml-a3-h100-pool-5d1e2f3a-7k2x" and info.arch == "x86_64"
    assert info.accelerators == (
        hardware.NodeAccelerator("gpu", "nvidia", "H100", 81559 * 2**20, 8),
    )
    assert info.cores == 207 and info.memory_bytes == 1845378640 * 1024
    assert info.cpu_vendor == "intel"
    assert {"avx512f", "avx2", "avx512bw", "avx512_vnni", "amx_bf16", "fma"} <= info.cpu_flags
    assert found.instance_type == "a3-highgpu-8g"
    assert found.taints == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert dict(info.labels)["cloud.google.com/gke-accelerator"] == "nvidia-h100-80gb"
    assert hardware.match(hardware.parse_spec("H100:8"), info) == []
    assert hardware.match(hardware.parse_spec("nvidia:80GB..:1"), info) == []
    assert hardware.match(hardware.parse_spec("H100:9"), info)


def test_nfd_cpu_node_has_flags_and_no_gpu() -> None:
    found = kn.read_node(fixture("eks_nfd_cpu_node.json"), CONFIG, "eks")
    assert found.online and found.info.accelerators == ()
    assert found.info.cores == 15  # 15890m: whole cores only
    assert {"avx512f", "avx512vl", "sse4_2", "fma"} <= found.info.cpu_flags
    spec = hardware.parse_spec({"cpu": {"flags": ["avx512f"], "arch": "x86_64"}})
    assert hardware.match(spec, found.info) == []


def test_gpu_label_without_allocatable_gpus_is_flagged() -> None:
    node = fixture("gke_h100_node.json")
    node["status"]["allocatable"]["nvidia.com/gpu"] = "0"
    found = kn.read_node(node, CONFIG, "gke")
    assert not found.online and found.info.accelerators == ()
    assert found.flagged is not None and "no allocatable nvidia.com/gpu" in found.flagged
    assert found.reason is not None and found.reason.startswith("flagged: label nvidia.com/gpu")
    del node["status"]["allocatable"]["nvidia.com/gpu"]
    assert kn.read_node(node, CONFIG, "gke").flagged is not None


def test_not_ready_and_cordoned_nodes_are_offline() -> None:
    node = fixture("eks_nfd_cpu_node.json")
    cordoned = copy.deepcopy(node)
    cordoned["spec"]["unschedulable"] = True
    assert kn.read_node(cordoned, CONFIG, "eks").reason == (
        "Kubernetes: node is cordoned (unschedulable)"
    )
    for condition in node["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition.update(status="Unknown", message="Kubelet stopped posting node status.")
    found = kn.read_node(node, CONFIG, "eks")
    assert not found.online and found.reason is not None
    assert "Kubelet stopped posting node status." in found.reason


def test_other_gpu_label_and_unmapped_values() -> None:
    node = fixture("gke_h100_node.json")
    gke = KubernetesConfig(gpu_label="cloud.google.com/gke-accelerator")
    found = kn.read_node(node, gke, "gke")
    assert found.info.accelerators[0].model == "nvidia-h100-80gb"  # no map: the value itself
    assert hardware.match(hardware.parse_spec("H100:1"), found.info) == []
    amd = fixture("eks_nfd_cpu_node.json")
    amd["status"]["allocatable"]["amd.com/gpu"] = "4"
    found = kn.read_node(amd, CONFIG, "eks")
    assert found.info.accelerators[0].vendor == "amd" and found.info.accelerators[0].count == 4


def test_gpus_in_use_counts_bound_active_pods() -> None:
    def pod(node: str | None, phase: str, gpus: int, init: int = 0) -> dict[str, Any]:
        container = {"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}
        return {
            "spec": {
                "nodeName": node,
                "containers": [container, {"resources": {}}],
                "initContainers": [{"resources": {"requests": {"nvidia.com/gpu": str(init)}}}],
            },
            "status": {"phase": phase},
        }

    pods = [
        pod("a", "Running", 2),
        pod("a", "Pending", 1, init=3),  # the larger of containers and init containers
        pod("a", "Succeeded", 4),
        pod("b", "Failed", 1),
        pod(None, "Pending", 1),
    ]
    assert kn.gpus_in_use(pods, ["nvidia.com/gpu", "amd.com/gpu"]) == {"a": 5}
    # Tessera's own pods (its runs' label) left out: what other work holds.
    pods[0]["metadata"] = {"labels": {kn.RUN_LABEL: "a-run"}}
    assert kn.gpus_in_use(pods, ["nvidia.com/gpu"], but=kn.tessera_pod) == {"a": 3}


def test_inventory_of_keeps_the_kubernetes_view() -> None:
    found = kn.read_node(fixture("gke_h100_node.json"), CONFIG, "gke")
    data = kn.inventory_of(found, 3, host_image=False)
    assert data["runtimes"] == ["kubernetes"]
    assert data["accelerators"][0]["model"] == "H100"
    kube = data["kubernetes"]
    assert kube["gpus_allocatable"] == 8 and kube["gpus_in_use"] == 3 and kube["gpus_free"] == 5
    assert kube["gpu_label"] == "NVIDIA-H100-80GB-HBM3" and kube["gpu_resource"] == "nvidia.com/gpu"
    assert kube["conditions"]["Ready"] == "True"
    assert kn.inventory_of(found, 0, host_image=True)["runtimes"] == ["kubernetes", "native"]
    # Placement reads what pods that are not Tessera's hold, per accelerator entry.
    shared = kn.inventory_of(found, 3, host_image=False, by_others=2)
    assert inventory.held_by_others(shared) == (2,)
    assert shared["kubernetes"]["gpus_held_by_others"] == 2
    assert inventory.held_by_others(data) == (0,)


def test_base_host_needs_a_host_image_on_kubernetes() -> None:
    found = kn.read_node(fixture("eks_nfd_cpu_node.json"), CONFIG, "eks")

    def candidate(host_image: bool) -> placement.Candidate:
        data = kn.inventory_of(found, 0, host_image)
        return placement.Candidate(
            uuid.uuid4(), "eks", "kubernetes", found.info, frozenset(data["runtimes"])
        )

    spec = hardware.parse_spec(None)
    refused = placement.feasible(
        spec, [candidate(False)], testbed=None, image=None, spec_field="run.requests.hardware"
    )
    assert isinstance(refused, placement.Unmet) and refused.field == "base"
    assert "host_image" in refused.reason
    for host_image, image in ((True, None), (False, "python:3.12")):
        fits = placement.feasible(
            spec, [candidate(host_image)], testbed=None, image=image, spec_field="run"
        )
        assert isinstance(fits, list) and len(fits) == 1
