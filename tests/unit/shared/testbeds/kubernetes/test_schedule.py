"""Where a run's pod may go (shared/testbeds/kubernetes/schedule.py)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.hardware import parse_spec
from shared.testbeds.base import Job, RenderError
from shared.testbeds.kubernetes.config import KubernetesConfig, Toleration
from shared.testbeds.kubernetes.schedule import Target, gpu_resources, node_selector, tolerations

CONFIG = KubernetesConfig(
    host_image="alpine:3",
    tolerations=[Toleration(key="dedicated", operator="Equal", value="ml", effect="NoSchedule")],
)
AVX512 = "feature.node.kubernetes.io/cpu-cpuid.AVX512F"


def _job(spec: Any) -> Job:
    return Job(argv=["true"], env={}, script=None, files=[], hardware=parse_spec(spec))


def test_a_target_is_read_from_the_nodes_inventory() -> None:
    inventory = {
        "labels": {AVX512: "true"},
        "kubernetes": {
            "gpu_label": "NVIDIA-H100-80GB-HBM3",
            "gpu_resource": "nvidia.com/gpu",
            "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
        },
    }
    assert Target.of("gpu-1", inventory) == Target(
        "gpu-1",
        "NVIDIA-H100-80GB-HBM3",
        "nvidia.com/gpu",
        {AVX512: "true"},
        [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
    )
    assert Target.of("cpu-1", {}) == Target("cpu-1", None, None, {}, [])


def test_the_selector_names_the_gpu_model_arch_the_flags_the_node_has_and_the_labels() -> None:
    node = Target("gpu-1", "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu", {AVX512: "true"})
    spec = {"gpu": {"model": "H100"}, "cpu": {"flags": ["avx512f", "amx"], "arch": "x86_64"}}
    assert node_selector(_job(spec | {"labels": {"zone": "a"}}), node, CONFIG) == {
        AVX512: "true",  # amx: not labelled on the node, so not selected on
        CONFIG.gpu_label: "NVIDIA-H100-80GB-HBM3",
        "kubernetes.io/arch": "amd64",
        "zone": "a",
    }


def test_a_label_outside_the_kubernetes_grammar_is_refused() -> None:
    with pytest.raises(RenderError, match="not a Kubernetes label"):
        node_selector(_job({"labels": {"zone": "a b"}}), Target("n1"), CONFIG)


def test_gpus_are_requested_by_the_nodes_resource_or_the_vendors() -> None:
    assert gpu_resources(_job("H100:2"), Target("n1", None, "nvidia.com/gpu"), CONFIG) == {
        "nvidia.com/gpu": 2
    }
    amd = _job({"gpu": {"vendor": "amd", "count": 1}})
    assert gpu_resources(amd, Target("n1"), CONFIG) == {"amd.com/gpu": 1}
    assert gpu_resources(_job(None), Target("n1"), CONFIG) == {}


def test_only_a_gpu_run_tolerates_the_nodes_gpu_taints_and_every_run_the_configs() -> None:
    node = Target("gpu-1", taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}])
    dedicated = {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
    gpu_taint = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert tolerations(node, {"nvidia.com/gpu": 1}, CONFIG) == [gpu_taint, dedicated]
    assert tolerations(node, {}, CONFIG) == [dedicated]
