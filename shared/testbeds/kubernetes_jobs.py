"""A run as a Kubernetes Job and ConfigMap, and how the Job's pods read back (pure functions).

Rendering never lets a user string into a manifest unchecked: label keys and values, node
names and image references are checked against the Kubernetes grammars (RenderError
otherwise), environment variables are names the API validated, and the script and files are
ConfigMap data, never command text. Every manifest is a plain dict that kubernetes-validate
accepts (the unit tests check).
"""

from __future__ import annotations

import base64
import functools
import json
import math
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from shared import hwinfo
from shared.testbeds import kubernetes_nodes
from shared.testbeds.base import Job, Observation
from shared.testbeds.kubernetes_config import (
    DNS_SUBDOMAIN,
    KubernetesConfig,
    image_reference,
    label_value,
    qualified_name,
)

MANAGED_BY = "app.kubernetes.io/managed-by"
RUN_LABEL = "tessera.io/run-id"
TESTBED_LABEL = "tessera.io/testbed"
NODE_ANNOTATION = "tessera.io/node"
PROBE_CONTAINER = "hwinfo"
MAIN_CONTAINER = "main"
FILES_MOUNT = "/tessera/files"
RUN_MOUNT = "/tessera/run"
TERMINATION_PATH = "/dev/termination-log"
# A ConfigMap holds at most 1 MiB (etcd's object limit); keep room for its metadata.
CONFIGMAP_MAX_BYTES = 1024 * 1024 - 16 * 1024
# The Job's deadline counts pending time too: room for scheduling and pulling the image.
DEADLINE_MARGIN_S = 600
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_K8S_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
# The waiting reasons that say why a pod does not start (shown as the run's state reason).
WAITING_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "ErrImageNeverPull",
    }
)


class RenderError(ValueError):
    """The run cannot be expressed as a valid Job on this testbed."""


def job_name(run_id: uuid.UUID) -> str:
    """The Job's (and its ConfigMap's) name: the placement's idempotency key."""
    return f"tessera-{run_id}"


def selector(testbed_id: uuid.UUID) -> str:
    """The label selector of every Job and pod of a testbed (one list per cycle)."""
    return f"{TESTBED_LABEL}={testbed_id}"


@functools.cache
def _entry_source() -> bytes:
    return resources.files("shared.testbeds").joinpath("kube_entry.py").read_bytes()


@functools.cache
def _hwinfo_source() -> bytes:
    with open(hwinfo.__file__, "rb") as handle:
        return handle.read()


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
    names = {v: k for k, v in kubernetes_nodes.NFD_FLAG_NAMES.items()}
    return kubernetes_nodes.NFD_CPUID + names.get(flag, flag.upper())


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


def container_env(job: Job, host_path: str | None) -> list[dict[str, str]]:
    """The run's variables. The deployer's PATH (`host_path`) is dropped: the image's own
    PATH applies unless the run set another."""
    env = []
    for name, value in job.env.items():
        if name == "PATH" and value == host_path:
            continue
        if not _ENV_NAME.match(name):
            raise RenderError(f"variable name {name!r} is not valid in a container")
        env.append({"name": name, "value": value})
    env.append({"name": "TESSERA_HWINFO", "value": f"{RUN_MOUNT}/hwinfo.json"})
    return env


def _quantity_cpu(cores: float) -> str:
    return f"{max(1, math.ceil(cores * 1000))}m"


def _resources(job: Job, gpus: Mapping[str, int]) -> dict[str, dict[str, str]]:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    cpu = job.cpu if job.cpu is not None else job.hardware.cpu.cores.min
    if cpu:
        requests["cpu"] = _quantity_cpu(float(cpu))
    memory = job.memory if job.memory is not None else job.hardware.memory.min
    if memory:
        requests["memory"] = limits["memory"] = str(int(memory))
    for resource, n in gpus.items():
        requests[resource] = limits[resource] = str(n)
    out: dict[str, dict[str, str]] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def configmap_data(
    job: Job, run_id: uuid.UUID
) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    """(data, binaryData, job.json) of the run's ConfigMap; RenderError when over the limit."""
    data: dict[str, str] = {
        "kube_entry.py": _entry_source().decode(),
        "hwinfo.py": _hwinfo_source().decode(),
    }
    binary: dict[str, str] = {}

    def put(key: str, content: bytes) -> None:
        try:
            data[key] = content.decode()
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(content).decode()

    files = []
    for index, (relative, content, executable) in enumerate(job.files):
        if relative.startswith("/") or ".." in relative.split("/") or not relative:
            raise RenderError(f"file path {relative!r} leaves the run's folder")
        key = f"file-{index}"
        put(key, content)
        files.append([key, relative, executable])
    script = None
    if job.script is not None:
        put("script", job.script[1])
        script = "script"
    requirements = None
    if job.python_requirements:
        put("requirements.txt", "\n".join(job.python_requirements).encode())
        requirements = "requirements.txt"
    spec = {
        "argv": list(job.argv),
        "timeout": job.timeout_s,
        "script": script,
        "files": files,
        "workdir": f"{RUN_MOUNT}/work",
        "requirements": requirements,
        "run_id": str(run_id),
    }
    data["job.json"] = json.dumps(spec, sort_keys=True)
    size = sum(len(k) + len(v.encode()) for k, v in (data | binary).items())
    if size > CONFIGMAP_MAX_BYTES:
        raise RenderError(
            f"the run's script and files take {size} bytes in its ConfigMap, over the "
            f"{CONFIGMAP_MAX_BYTES} a ConfigMap can hold; ship large files in the image"
        )
    return data, binary, spec


def labels_of(run_id: uuid.UUID, testbed_id: uuid.UUID) -> dict[str, str]:
    return {MANAGED_BY: "tessera", RUN_LABEL: str(run_id), TESTBED_LABEL: str(testbed_id)}


def render(
    job: Job,
    run_id: uuid.UUID,
    testbed_id: uuid.UUID,
    target: Target,
    config: KubernetesConfig,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Job and the ConfigMap of a run (the ConfigMap's owner is set once the Job exists)."""
    image = job.image or config.host_image
    if image is None:
        raise RenderError(
            "a Kubernetes run needs an image: give a base image, or set the testbed's host_image"
        )
    if not image_reference(image):
        raise RenderError(f"{image!r} is not an image reference")
    if not DNS_SUBDOMAIN.match(target.node):
        raise RenderError(f"node name {target.node!r} is not a Kubernetes node name")
    name = job_name(run_id)
    labels = labels_of(run_id, testbed_id)
    data, binary, _ = configmap_data(job, run_id)
    gpus = gpu_resources(job, target, config)
    resources_ = _resources(job, gpus)
    selector_ = node_selector(job, target, config)
    env = container_env(job, os.environ.get("PATH", os.defpath))
    security = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = [
        {"name": "files", "mountPath": FILES_MOUNT, "readOnly": True},
        {"name": "run", "mountPath": RUN_MOUNT},
    ]
    python = ["python3", "-I", f"{FILES_MOUNT}/kube_entry.py"]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": config.run_as_user,
            "runAsGroup": config.run_as_group,
            "fsGroup": config.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": [target.node]}
                            ]
                        }
                    ]
                }
            }
        },
        "volumes": [
            {"name": "files", "configMap": {"name": name, "defaultMode": 0o444}},
            {"name": "run", "emptyDir": {}},
        ],
        "initContainers": [
            {
                "name": PROBE_CONTAINER,
                "image": image,
                "command": [*python, "probe", f"{RUN_MOUNT}/hwinfo.json"],
                "resources": resources_,
                "volumeMounts": mounts,
                "securityContext": security,
            }
        ],
        "containers": [
            {
                "name": MAIN_CONTAINER,
                "image": image,
                "command": [*python, "run", f"{FILES_MOUNT}/job.json", TERMINATION_PATH],
                "workingDir": RUN_MOUNT,
                "env": env,
                "resources": resources_,
                "volumeMounts": mounts,
                "securityContext": security,
                "terminationMessagePath": TERMINATION_PATH,
                "terminationMessagePolicy": "File",
            }
        ],
    }
    if selector_:
        pod_spec["nodeSelector"] = selector_
    found_tolerations = tolerations(target, gpus, config)
    if found_tolerations:
        pod_spec["tolerations"] = found_tolerations
    if config.image_pull_secret:
        pod_spec["imagePullSecrets"] = [{"name": config.image_pull_secret}]
    if config.service_account:
        pod_spec["serviceAccountName"] = config.service_account
        pod_spec["automountServiceAccountToken"] = True
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": config.namespace,
            "labels": labels,
            "annotations": {NODE_ANNOTATION: target.node},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": int(math.ceil(job.timeout_s)) + DEADLINE_MARGIN_S,
            "ttlSecondsAfterFinished": config.ttl_after_finished_s,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    configmap: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": config.namespace, "labels": labels},
        "data": data,
    }
    if binary:
        configmap["binaryData"] = binary
    return manifest, configmap


def owned_by(configmap: dict[str, Any], job: Mapping[str, Any]) -> dict[str, Any]:
    """The ConfigMap with the Job as its owner, so deleting the Job deletes it too."""
    meta = job.get("metadata") or {}
    owner = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
    }
    return {**configmap, "metadata": {**configmap["metadata"], "ownerReferences": [owner]}}


# ---- reading Jobs and pods back --------------------------------------------------------------


def run_id_of(obj: Mapping[str, Any]) -> uuid.UUID | None:
    value = ((obj.get("metadata") or {}).get("labels") or {}).get(RUN_LABEL)
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def latest_pod(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not pods:
        return None
    return max(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""))


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind and item.get("status") == "True":
            return dict(item)
    return None


def job_ended(job: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The Job's Complete or Failed condition, when it has one."""
    return _condition(job, "Complete") or _condition(job, "Failed")


def _statuses(pod: Mapping[str, Any], init: bool = False) -> list[Mapping[str, Any]]:
    key = "initContainerStatuses" if init else "containerStatuses"
    return list((pod.get("status") or {}).get(key) or [])


def _waiting(pod: Mapping[str, Any]) -> str | None:
    for status in _statuses(pod, True) + _statuses(pod):
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in WAITING_REASONS:
            message = str(waiting.get("message") or "").strip()
            text = f"Kubernetes: {waiting['reason']}" + (f": {message}" if message else "")
            return text[:500]
    return None


def observe(job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]]) -> Observation:
    """Where a run is, from its Job and its pods (pure)."""
    pod = latest_pod(pods)
    if job is None and pod is None:
        return Observation("gone")
    started = None
    if job is not None:
        started = (job.get("status") or {}).get("startTime")
        if job_ended(job) is not None:
            return Observation("ended", started)
    if pod is None:
        return Observation("pending", None, "Kubernetes: the Job has no pod yet")
    status = pod.get("status") or {}
    phase = status.get("phase")
    started = status.get("startTime") or started
    if phase in ("Succeeded", "Failed"):
        return Observation("ended", started)
    if phase == "Running":
        return Observation("running", started)
    for init in _statuses(pod, True):
        if "running" in (init.get("state") or {}):
            return Observation("running", started)  # the probe is part of the run
    return Observation("pending", None, pending_reason(pod))


def pending_reason(pod: Mapping[str, Any]) -> str:
    """Why a pending pod has not started: the scheduler's word, a waiting reason, or starting."""
    status = pod.get("status") or {}
    scheduled = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None
    )
    if scheduled is not None and scheduled.get("status") == "False":
        reason = scheduled.get("reason") or "Unschedulable"
        message = str(scheduled.get("message") or "").strip()
        return (f"Kubernetes: {reason}" + (f": {message}" if message else ""))[:500]
    return _waiting(pod) or "Kubernetes: Pending (the pod is starting)"


def _terminated(pod: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    if pod is None:
        return None
    for status in _statuses(pod, True) + _statuses(pod):
        if status.get("name") == name:
            found = (status.get("state") or {}).get("terminated")
            return dict(found) if found else None
    return None


def _message(terminated: Mapping[str, Any] | None) -> dict[str, Any]:
    if not terminated or not terminated.get("message"):
        return {}
    try:
        value = json.loads(str(terminated["message"]))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def ended_status(job: Mapping[str, Any] | None, pod: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's status document from its Job and pod: the command's own status (from the
    main container's termination message) where there is one, else what Kubernetes says."""
    main = _terminated(pod, MAIN_CONTAINER)
    status = _message(main)
    if main is not None:
        status.setdefault("exit_code", main.get("exitCode"))
        status.setdefault("start", main.get("startedAt"))
        status.setdefault("end", main.get("finishedAt"))
        status.setdefault("timed_out", False)
        status.setdefault("signal", None)
        if main.get("reason") == "OOMKilled":
            status["error"] = "Kubernetes: OOMKilled: the container went over its memory limit" + (
                f" (exit code {main.get('exitCode')})" if main.get("exitCode") else ""
            )
        elif main.get("signal"):
            status["signal"] = f"signal {main['signal']}"
        status["kubernetes_reason"] = main.get("reason")
        return status
    failed = _condition(job, "Failed") if job is not None else None
    probe = _terminated(pod, PROBE_CONTAINER)
    waiting = _waiting(pod) if pod is not None else None
    if failed is not None and failed.get("reason") == "DeadlineExceeded" and waiting is None:
        if pod is None or (pod.get("status") or {}).get("phase") != "Pending":
            return {"exit_code": None, "timed_out": True, "error": None, "signal": None}
    if probe is not None and probe.get("exitCode") not in (0, None):
        detail = str(probe.get("message") or probe.get("reason") or "").strip()
        error = f"the hwinfo init container exited {probe.get('exitCode')}: {detail}"
    elif waiting is not None:
        error = waiting
    elif pod is not None and (pod.get("status") or {}).get("phase") == "Pending":
        error = pending_reason(pod)
    elif failed is not None:
        error = f"Kubernetes: the Job failed: {failed.get('reason')}: {failed.get('message') or ''}"
    else:
        error = "Kubernetes: the pod ended without its command's status"
    if failed is not None and failed.get("reason") == "DeadlineExceeded":
        error = f"Kubernetes: DeadlineExceeded before the command started ({error})"
    return {"exit_code": None, "timed_out": False, "signal": None, "error": error.strip()}


def hwinfo_from_log(text: bytes) -> dict[str, Any]:
    """The probe's JSON: the last line of the hwinfo container's log that is a JSON object."""
    for line in reversed(text.decode(errors="replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def scheduler_info(pod: Mapping[str, Any] | None, namespace: str) -> dict[str, Any]:
    """What the result keeps of the pod: where it ran and what it was given."""
    if pod is None:
        return {}
    spec = pod.get("spec") or {}
    main: Mapping[str, Any] = next(
        (c for c in spec.get("containers") or [] if c.get("name") == MAIN_CONTAINER), {}
    )
    meta = pod.get("metadata") or {}
    return {
        "namespace": namespace,
        "pod": meta.get("name"),
        "job": (meta.get("labels") or {}).get("job-name"),
        "node": spec.get("nodeName"),
        "resources": main.get("resources") or {},
        "node_selector": spec.get("nodeSelector") or {},
        "image": main.get("image"),
    }
