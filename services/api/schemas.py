"""What the API answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.schemas import Requests, Strict, check_image, check_testbed_name


class Out(BaseModel):
    """A response body. Fields with defaults are always sent, so the document marks them
    required and generated clients need not treat them as possibly absent."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )


class InspectionCreated(Out):
    inspection_id: uuid.UUID
    state: str
    batch_size: int
    build_only: bool


class DeploymentCreated(Out):
    deployment_id: uuid.UUID
    state: str
    batch_size: int


class BuildOut(Out):
    id: uuid.UUID
    state: str
    state_reason: str | None
    runtime: str
    cached: bool
    spec_hash: str
    started_at: datetime | None
    finished_at: datetime | None


class RunOut(Out):
    id: uuid.UUID
    index: int
    inspection_id: uuid.UUID | None = Field(None, description="Set when an inspection made it.")
    deployment_id: uuid.UUID | None = Field(None, description="Set when a deployment made it.")
    state: str
    state_reason: str | None
    testbed: str | None = None
    node_name: str | None
    exit_code: int | None
    attempt: int = Field(0, description="The number of its current or last attempt.")
    created_at: datetime
    placed_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class AttemptOut(Out):
    """One placement of a run: where, why there, and how it ended."""

    number: int
    state: str = Field(
        description="placed, running, succeeded, failed, cancelled, lost, interrupted, "
        "withdrawn (moved before it started) or superseded (re-placed, then fenced)"
    )
    state_reason: str | None
    testbed: str | None = None
    node_name: str | None
    backend_ref: str | None = Field(None, description="The scheduler's job, pod or pid.")
    placement: dict[str, Any] = Field(
        default_factory=dict, description="The chosen node, what it offered, the next ones."
    )
    exit_code: int | None
    fence_pending: bool = Field(
        False, description="Its host stopped answering: its runner is stopped when it is back."
    )
    placed_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class AttemptList(Out):
    items: list[AttemptOut]


class OfferRequest(Requests):
    """What a run would ask: its hardware, cores and memory, an image (else the host), and a
    pinned testbed."""

    image: str | None = Field(None, description="Run in this image; omit to run on the host.")
    testbed: str | None = Field(None, description="Only this testbed, as a pinned run.")

    _testbed = field_validator("testbed")(check_testbed_name)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image(value)


class Offer(Out):
    """A node that fits, as placement ranks it."""

    rank: int = Field(description="1 is where placement would put the run now.")
    testbed: str
    kind: str
    node: str
    can_start_now: bool = Field(description="It has the devices asked for free now.")
    short: int = Field(description="Devices asked for that it lacks free now.")
    queued: int = Field(description="Tessera's runs placed on its testbed, not started yet.")
    active: int = Field(description="Tessera's runs placed or running on the node.")
    cores: int | None
    memory_bytes: int | None
    accelerators: list[Accelerator]
    price_per_hour: float | None = Field(
        None, description="What a run there costs per hour (USD; cloud offers), else null."
    )
    lifecycle: str | None = Field(
        None, description="spot or on-demand (cloud offers): what the price is for."
    )
    on_demand_price_per_hour: float | None = Field(
        None, description="The on-demand price (from Tessera's dated table), where known."
    )


class RuledOut(Out):
    testbed: str
    node: str
    reason: str = Field(description="The first constraint it fails.")


class Offers(Out):
    hardware: dict[str, Any] = Field(description="The request as Tessera read it.")
    offers: list[Offer]
    ruled_out: list[RuledOut]
    waiting: str | None = Field(
        None, description="Why a run would wait now (every node that fits is busy)."
    )
    unmet: str | None = Field(None, description="Why no node fits, when none does.")


class RunPlacement(Out):
    """Where a run's current attempt was placed, and why there (as stored at placement)."""

    attempt: int
    testbed: str | None
    node_name: str | None
    placement: dict[str, Any]


class RunList(Out):
    items: list[RunOut]


class RunLinks(Out):
    """Presigned links to a run's stored log and result, where the artifact store has them
    (S3); null on the filesystem store, whose files the log and result endpoints serve."""

    log: str | None = Field(description="GET this for the log (no token needed).")
    result: str | None = Field(description="GET this for the result JSON, once it is there.")
    expires_in_s: int = Field(description="How long the links work.")


class RunResult(Out):
    """A finished run's result document (Amun's keys, plus where and how it ended)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_serialization_defaults_required=True,
        json_schema_extra={
            "examples": [
                {
                    "run_id": "0b9c6a55-6f42-4a8e-9a3c-3f7d8f3d2f11",
                    "index": 0,
                    "testbed": "local",
                    "node": "gpu-node-01",
                    "hwinfo": {"cpu": {"model_name": "Intel(R) Xeon(R) Platinum 8480+"}},
                    "stdout": {"tflops": 612.4},
                    "stderr": "",
                    "exit_code": 0,
                    "script_sha256": "9f86d081884c7d659a2feaa0c55ad015"
                    "a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "start_datetime": "2026-11-22T10:00:00+00:00",
                    "end_datetime": "2026-11-22T10:00:07+00:00",
                    "hostname": "gpu-node-01",
                }
            ]
        },
    )

    run_id: str
    index: int
    testbed: str | None = None
    node: str | None = None
    hwinfo: dict[str, Any] = Field(
        default_factory=dict, description="What the probe found on the node the run used."
    )
    stdout: Any = Field(None, description="Parsed JSON when stdout is JSON, else the text.")
    stderr: str = ""
    exit_code: int | None = None
    signal: str | None = None
    timed_out: bool = False
    cancelled: bool = False
    script_sha256: str | None = None
    usage: dict[str, Any] | None = Field(None, description="The command's rusage.")
    start_datetime: str | None = None
    end_datetime: str | None = None
    os_release: dict[str, Any] | None = None
    hostname: str | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    error: str | None = Field(None, description="Why the runner could not run the command.")


class Status(Out):
    state: str
    state_reason: str | None
    build: BuildOut | None = None
    runs: dict[str, int] = Field(description="Runs by state.")
    created_at: datetime
    finished_at: datetime | None


class RequestOut(Out):
    id: uuid.UUID
    identifier: str | None
    state: str
    state_reason: str | None
    batch_size: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class InspectionOut(RequestOut):
    build: BuildOut | None = None
    build_only: bool = False


class DeploymentOut(RequestOut):
    pass


class InspectionPage(Out):
    items: list[InspectionOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class DeploymentPage(Out):
    items: list[DeploymentOut]
    next_cursor: str | None


class Cancelled(Out):
    state: str
    cancelled_runs: int


class TestbedCreate(Strict):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    kind: str = Field(description="local, slurm, kubernetes, ssh or ec2")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="slurm: host, port, user, host_key, partition, account, qos, gres_types, "
        "gres_vendor, work_dir, max_sessions, accounting. kubernetes: in_cluster, context, "
        "namespace, gpu_label, gpu_models, gpu_resources, tolerations, image_pull_secret, "
        "host_image, tessera_image, run_as_user, run_as_group, ttl_after_finished_s, "
        "service_account, request_timeout_s, live_log_interval_s, live_logs_per_cycle. "
        "ssh: hosts (host, port, user, host_key, name), work_dir, max_sessions. "
        "ec2: region, endpoint_url, subnet_id, security_group_ids, key_name, images "
        "({x86_64, arm64}: AMI or resolve:ssm:), instance_types, spot, max_price_per_hour, "
        "on_demand_fallback, max_instances, idle_timeout_s, tags, request_timeout_s.",
    )
    credentials: str | None = Field(
        None,
        description="Write-only, encrypted at rest, never returned. slurm: the SSH private key. "
        "kubernetes: the kubeconfig (YAML or JSON; embedded tokens or certificates only). "
        "ec2: ACCESS_KEY_ID:SECRET, or none for the role the workers run under.",
    )


class TestbedOut(Out):
    id: uuid.UUID
    name: str
    kind: str
    config: dict[str, Any]
    state: str
    state_reason: str | None
    has_credentials: bool
    refreshed_at: datetime | None
    created_at: datetime
    nodes: int


class TestbedList(Out):
    items: list[TestbedOut]


class Accelerator(Out):
    kind: str = Field(description="gpu, fpga or accelerator.")
    vendor: str
    model: str
    memory_bytes: int | None
    count: int = Field(description="How many the node has.")
    free: int | None = Field(
        None,
        description="How many neither Tessera's placed or running runs nor other work the "
        "node's scheduler reports holds; 0 on an offline node or testbed.",
    )


class NodeOut(Out):
    id: uuid.UUID
    name: str
    testbed: str
    state: str
    state_reason: str | None
    arch: str | None
    cpu_vendor: str | None
    cpu_model: str | None
    cpu_flags: list[str]
    cores: int | None
    memory_bytes: int | None
    accelerators: list[Accelerator]
    labels: dict[str, str]
    features: list[str]
    runtimes: list[str]
    updated_at: datetime


class NodePage(Out):
    items: list[NodeOut]
    next_cursor: str | None


class Accepted(Out):
    state: str


class Health(Out):
    status: str
    checks: dict[str, str] = {}
