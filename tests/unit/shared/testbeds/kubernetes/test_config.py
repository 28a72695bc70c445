"""The kubernetes testbed's config (kubernetes_config.py): what reaches manifests is checked."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.testbeds.kubernetes.config import KubernetesConfig, qualified_name


def test_defaults() -> None:
    config = KubernetesConfig()
    assert config.namespace == "default" and config.gpu_label == "nvidia.com/gpu.product"
    assert config.gpu_resources == ["nvidia.com/gpu", "amd.com/gpu"]
    assert config.run_as_user == 10001 and config.host_image is None
    assert config.vendor_of("amd.com/gpu") == "amd"


def test_a_full_config() -> None:
    config = KubernetesConfig.model_validate(
        {
            "context": "gke_proj_us-central1_ml",
            "namespace": "research",
            "gpu_label": "cloud.google.com/gke-accelerator",
            "gpu_models": {"H100": ["nvidia-h100-*"], "A100": ["nvidia-tesla-a100"]},
            "gpu_resources": ["nvidia.com/gpu"],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml"}],
            "image_pull_secret": "regcred",
            "host_image": "registry.example:5000/tessera/host:1",
        }
    )
    assert config.tolerations[0].manifest() == {
        "key": "dedicated",
        "operator": "Equal",
        "value": "ml",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"namespace": "Bad_NS"}, "namespace"),
        ({"gpu_label": "has space"}, "gpu_label"),
        ({"gpu_resources": ["gpu"]}, "gpu_resources"),
        ({"gpu_models": {"H100": ["$(rm -rf)"]}}, "gpu_models"),
        ({"gpu_models": {"bad model": ["x"]}}, "gpu_models"),
        ({"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}, "tolerations"),
        ({"tolerations": [{"operator": "Equal"}]}, "tolerations"),
        ({"image_pull_secret": "UPPER"}, "image_pull_secret"),
        ({"host_image": "not an image"}, "host_image"),
        ({"run_as_user": 0}, "run_as_user"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_values_name_their_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        KubernetesConfig.model_validate(change)
    assert error.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("nvidia.com/gpu.product", True),
        ("feature.node.kubernetes.io/cpu-cpuid.AVX512F", True),
        ("zone", True),
        ("a/b/c", False),
        ("-bad", False),
        ("x" * 64, False),
        ("Bad_Prefix/x", False),
    ],
)
def test_qualified_names(name: str, ok: bool) -> None:
    assert qualified_name(name) is ok
