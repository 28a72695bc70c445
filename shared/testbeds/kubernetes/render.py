"""A run as a Kubernetes Job and ConfigMap (pure functions).

Rendering never lets a user string into a manifest unchecked: label keys and values, node
names and image references are checked against the Kubernetes grammars (RenderError
otherwise), environment variables are names the API validated, and the script and files are
ConfigMap data, never command text. Every manifest is a plain dict that kubernetes-validate
accepts (the unit tests check).

The pod: the init container `hwinfo` runs from Tessera's own image (`tessera_image`: it has
python3 and the static tessera-exec), with the same resources as the main container so the
device plugin gives it the same GPUs; it probes, prepares the run's folder in the shared
emptyDir and copies tessera-exec there. The main container runs the user's image with the
command as given (`args`), started by tessera-exec (`command`), which keeps stdout and stderr
apart in the log, enforces the timeout and writes the status as the termination message.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import os
import re
import uuid
from collections.abc import Mapping
from importlib import resources
from typing import Any

from shared import hwinfo
from shared.testbeds.base import Job, RenderError
from shared.testbeds.kubernetes import nodes, outputs
from shared.testbeds.kubernetes.config import (
    DNS_SUBDOMAIN,
    KubernetesConfig,
    image_reference,
)
from shared.testbeds.kubernetes.schedule import Target, gpu_resources, node_selector, tolerations

MANAGED_BY = "app.kubernetes.io/managed-by"
RUN_LABEL = nodes.RUN_LABEL
TESTBED_LABEL = "tessera.io/testbed"
NODE_ANNOTATION = "tessera.io/node"
PROBE_CONTAINER = "hwinfo"
MAIN_CONTAINER = "main"
SCRIPT_ANNOTATION = "tessera.io/script-sha256"
FILES_MOUNT = "/tessera/files"
RUN_MOUNT = "/tessera/run"
EXEC_PATH = f"{RUN_MOUNT}/.tessera/tessera-exec"
SCRIPT_PATH = f"{RUN_MOUNT}/script"
HWINFO_PATH = f"{RUN_MOUNT}/hwinfo.json"
TMP_PATH = f"{RUN_MOUNT}/tmp"
WORK_PATH = f"{RUN_MOUNT}/work"
TERMINATION_PATH = "/dev/termination-log"
# A ConfigMap holds at most 1 MiB (etcd's object limit); keep room for its metadata.
CONFIGMAP_MAX_BYTES = 1024 * 1024 - 16 * 1024
# The Job's deadline counts pending time too: room for scheduling and pulling the image.
DEADLINE_MARGIN_S = 600
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def job_name(run_id: uuid.UUID) -> str:
    """The Job's (and its ConfigMap's) name: the placement's idempotency key."""
    return f"tessera-{run_id}"


def selector(testbed_id: uuid.UUID) -> str:
    """The label selector of every Job and pod of a testbed (one list per cycle)."""
    return f"{TESTBED_LABEL}={testbed_id}"


@functools.cache
def _entry_source() -> bytes:
    return resources.files("shared.testbeds.kubernetes").joinpath("entry.py").read_bytes()


@functools.cache
def _hwinfo_source() -> bytes:
    with open(hwinfo.__file__, "rb") as handle:
        return handle.read()


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
    env.append({"name": "TESSERA_HWINFO", "value": HWINFO_PATH})
    if "TMPDIR" not in job.env:
        env.append({"name": "TMPDIR", "value": TMP_PATH})
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
    # The init container's paths come on its command line (RUN_MOUNT): kube_entry.py puts
    # work/, tmp/, script, hwinfo.json and .tessera/tessera-exec under it.
    spec = {"script": script, "files": files, "requirements": requirements, "run_id": str(run_id)}
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


def _image(job: Job, target: Target, config: KubernetesConfig) -> str:
    """The run's image, once the image and the node's name are known to be valid."""
    image = job.image or config.host_image
    if image is None:
        raise RenderError(
            "a Kubernetes run needs an image: give a base image, or set the testbed's host_image"
        )
    if not image_reference(image):
        raise RenderError(f"{image!r} is not an image reference")
    if not DNS_SUBDOMAIN.match(target.node):
        raise RenderError(f"node name {target.node!r} is not a Kubernetes node name")
    return image


def command_of(job: Job) -> list[str]:
    """The main container's `args`: the user's command as given, or the script (exec'd when it
    has a #! line, else run by the image's /bin/sh); behind the venv step when the run has
    Python requirements (a `base: host` run on the host image, which has python3 then)."""
    if job.script is not None:
        argv = [SCRIPT_PATH] if job.script[1].startswith(b"#!") else ["/bin/sh", SCRIPT_PATH]
    else:
        argv = list(job.argv)
    if not argv or not all(argv):
        raise RenderError("the run has no command: give a script or a command")
    if job.python_requirements:
        entry = f"{FILES_MOUNT}/kube_entry.py"
        requirements = f"{FILES_MOUNT}/requirements.txt"
        return ["python3", "-I", entry, "venv", requirements, f"{RUN_MOUNT}/venv", "--", *argv]
    return argv


def _containers(
    job: Job, image: str, resources: dict[str, dict[str, str]], config: KubernetesConfig
) -> dict[str, list[dict[str, Any]]]:
    """The probe and preparation as the init container (Tessera's image), the command as the
    main one (the run's image, started by tessera-exec)."""
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    mounts = [
        {"name": "files", "mountPath": FILES_MOUNT, "readOnly": True},
        {"name": "run", "mountPath": RUN_MOUNT},
    ]
    probe: dict[str, Any] = {
        "name": PROBE_CONTAINER,
        "image": config.tessera_image,
        "command": [
            "python3",
            "-I",
            f"{FILES_MOUNT}/kube_entry.py",
            "prepare",
            f"{FILES_MOUNT}/job.json",
            RUN_MOUNT,
            TERMINATION_PATH,
        ],
        # The same requests and limits: the device plugin gives the init container the GPUs
        # the main container gets (the kubelet reuses an init container's devices for the
        # containers after it), and the scheduler counts max(init, sum of containers).
        "resources": resources,
        "volumeMounts": mounts,
        "securityContext": security,
        "terminationMessagePath": TERMINATION_PATH,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if any(r.startswith("nvidia.com/") for r in resources.get("limits", {})):
        # Tessera's image is not a CUDA image: ask the NVIDIA runtime for nvidia-smi.
        probe["env"] = [{"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"}]
    timeout = format(float(job.timeout_s), "g")
    main = {
        "name": MAIN_CONTAINER,
        "image": image,
        "command": [EXEC_PATH, "-t", timeout, "-m", TERMINATION_PATH, *outputs.flags(job), "--"],
        "args": command_of(job),
        "workingDir": WORK_PATH,
        "env": container_env(job, os.environ.get("PATH", os.defpath)),
        "resources": resources,
        "volumeMounts": mounts,
        "securityContext": security,
        "terminationMessagePath": TERMINATION_PATH,
        "terminationMessagePolicy": "File",
    }
    return {"initContainers": [probe], "containers": [main]}


def _pod_spec(
    job: Job, run_id: uuid.UUID, target: Target, config: KubernetesConfig
) -> dict[str, Any]:
    """The pod: pinned to the chosen node, its GPUs, selectors and tolerations, non-root."""
    gpus = gpu_resources(job, target, config)
    pinned = {"key": "metadata.name", "operator": "In", "values": [target.node]}
    spec: dict[str, Any] = {
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
                    "nodeSelectorTerms": [{"matchFields": [pinned]}]
                }
            }
        },
        "volumes": [
            {"name": "files", "configMap": {"name": job_name(run_id), "defaultMode": 0o444}},
            {"name": "run", "emptyDir": {}},
        ],
        **_containers(job, _image(job, target, config), _resources(job, gpus), config),
    }
    selector_ = node_selector(job, target, config)
    if selector_:
        spec["nodeSelector"] = selector_
    found_tolerations = tolerations(target, gpus, config)
    if found_tolerations:
        spec["tolerations"] = found_tolerations
    if config.image_pull_secret:
        spec["imagePullSecrets"] = [{"name": config.image_pull_secret}]
    if config.service_account:
        spec["serviceAccountName"] = config.service_account
        spec["automountServiceAccountToken"] = True
    return spec


def _annotations(job: Job) -> dict[str, dict[str, str]]:
    """The script's hash on the pod (the result's `script_sha256`); whether it sends outputs."""
    found = {outputs.ANNOTATION: "true"} if outputs.flags(job) else {}
    if job.script is not None:
        found[SCRIPT_ANNOTATION] = hashlib.sha256(job.script[1]).hexdigest()
    return {"annotations": found} if found else {}


def render(
    job: Job,
    run_id: uuid.UUID,
    testbed_id: uuid.UUID,
    target: Target,
    config: KubernetesConfig,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Job and the ConfigMap of a run (the ConfigMap's owner is set once the Job exists)."""
    _image(job, target, config)  # refused before anything else is worked out
    name = job_name(run_id)
    labels = labels_of(run_id, testbed_id)
    data, binary, _ = configmap_data(job, run_id)
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
            "template": {
                "metadata": {"labels": labels, **_annotations(job)},
                "spec": _pod_spec(job, run_id, target, config),
            },
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
