"""The config of a `kubernetes` testbed, as the API validates it and the connector reads it.

The kubeconfig itself is the testbed's credentials (encrypted at rest, never returned); this
is everything else. Every value here can end up in a manifest, so each is checked against the
Kubernetes grammar it will meet there.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# RFC 1123 label (namespaces, image pull secrets), DNS subdomain, label keys and values.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_NAME_PART = re.compile(r"^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^((?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
# Resource names such as nvidia.com/gpu: a qualified name.
_GLOB = re.compile(r"^[A-Za-z0-9_.\-*?\[\]]{1,128}$")
_CONTEXT = re.compile(r"^[A-Za-z0-9_.@:/\-]{1,253}$")
_IMAGE = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)


def _version() -> str:
    try:
        return metadata.version("tessera")
    except metadata.PackageNotFoundError:
        return "latest"


# The image deploy/docker/Dockerfile builds, as the Helm chart names it (`image.repository`
# `tessera`, tag the chart's appVersion, which is the package's version).
DEFAULT_TESSERA_IMAGE = f"tessera:{_version()}"


def qualified_name(value: str) -> bool:
    """A Kubernetes qualified name (`prefix/name` or `name`): label keys, resource names."""
    prefix, _, name = value.rpartition("/")
    if prefix and not DNS_SUBDOMAIN.match(prefix):
        return False
    return bool(_NAME_PART.match(name))


def label_value(value: str) -> bool:
    return bool(LABEL_VALUE.match(value))


def image_reference(value: str) -> bool:
    return len(value) <= 512 and bool(_IMAGE.match(value))


class Toleration(BaseModel):
    """A toleration added to every run's pod (as in the Pod spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str | None = None
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None

    @model_validator(mode="after")
    def _check(self) -> Toleration:
        if self.key is not None and not qualified_name(self.key):
            raise ValueError(f"key {self.key!r} is not a Kubernetes label key")
        if self.value is not None and not label_value(self.value):
            raise ValueError(f"value {self.value!r} is not a Kubernetes label value")
        if self.operator == "Exists" and self.value:
            raise ValueError("operator Exists takes no value")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key must use operator Exists")
        return self

    def manifest(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class KubernetesConfig(BaseModel):
    """Which cluster and namespace, how GPUs are named there, and what every run's pod gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    in_cluster: bool = Field(
        False,
        description="Use the service account of the pod Tessera runs in instead of a "
        "kubeconfig (then no credentials are given).",
    )
    context: str | None = Field(
        None, pattern=_CONTEXT.pattern, description="The kubeconfig context (default: current)."
    )
    namespace: str = Field("default", pattern=DNS_LABEL.pattern, description="Where runs go.")
    gpu_label: str = Field(
        "nvidia.com/gpu.product",
        description="The node label naming the GPU model (GPU feature discovery's default; "
        "`cloud.google.com/gke-accelerator` on GKE without the GPU operator).",
    )
    gpu_models: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Model name -> patterns (shell-style, `*` and `?`) of gpu_label values, e.g. "
        '{"H100": ["NVIDIA-H100-*", "nvidia-h100-80gb"]}. Values that match no pattern are '
        "used as the model name as they are.",
    )
    gpu_resources: list[str] = Field(
        default_factory=lambda: ["nvidia.com/gpu", "amd.com/gpu"],
        min_length=1,
        description="Extended resources that count GPUs; the vendor is the part before `.com`.",
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, description="Tolerations added to every run's pod."
    )
    image_pull_secret: str | None = Field(None, description="A Secret in the namespace.")
    host_image: str | None = Field(
        None,
        description="The image `base: host` runs use on this testbed (pods always run an "
        "image). Unset: `base: host` is refused here with 422; give a base image instead.",
    )
    tessera_image: str = Field(
        DEFAULT_TESSERA_IMAGE,
        description="Tessera's own image (deploy/docker/Dockerfile), pullable by the cluster: "
        "the init container runs the probe from it and copies its static tessera-exec into "
        "the pod, so the run's own image needs no Python. `image_pull_secret` applies to it "
        "too.",
    )
    run_as_user: int = Field(10001, ge=1, le=2**31 - 1, description="Non-root uid of runs.")
    run_as_group: int = Field(10001, ge=1, le=2**31 - 1)
    ttl_after_finished_s: int = Field(
        3600, ge=60, le=7 * 86400, description="Finished Jobs are deleted after this."
    )
    service_account: str | None = Field(None, description="The pods' service account.")
    request_timeout_s: float = Field(30.0, gt=0, le=300, description="Every API call's limit.")
    live_log_interval_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="How often a running run's log is fetched (one call per run); 0: only at "
        "the end.",
    )
    live_logs_per_cycle: int = Field(
        20,
        ge=0,
        le=1000,
        description="At most this many live-log fetches per testbed per monitor cycle, so a "
        "cycle costs at most 2 + this many calls however many runs are running.",
    )

    @field_validator("image_pull_secret", "service_account")
    @classmethod
    def _object_name(cls, value: str | None) -> str | None:
        if value is not None and not DNS_SUBDOMAIN.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes object name")
        return value

    @field_validator("gpu_label")
    @classmethod
    def _gpu_label(cls, value: str) -> str:
        if not qualified_name(value):
            raise ValueError(f"{value!r} is not a Kubernetes label key")
        return value

    @field_validator("gpu_resources")
    @classmethod
    def _gpu_resources(cls, value: list[str]) -> list[str]:
        for item in value:
            if "/" not in item or not qualified_name(item):
                raise ValueError(f"{item!r} is not an extended resource name like nvidia.com/gpu")
        return value

    @field_validator("gpu_models")
    @classmethod
    def _gpu_models(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for model, patterns in value.items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}", model):
                raise ValueError(f"{model!r}: a model name is letters, digits, . _ + -")
            for pattern in patterns:
                if not _GLOB.match(pattern):
                    raise ValueError(f"{pattern!r}: letters, digits, . _ - and * ? [ ] only")
        return value

    @field_validator("host_image", "tessera_image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not image_reference(value):
            raise ValueError(f"{value!r} is not an image reference")
        return value

    def vendor_of(self, resource: str) -> str:
        """nvidia.com/gpu -> nvidia."""
        return resource.split("/", 1)[0].split(".", 1)[0].lower()
