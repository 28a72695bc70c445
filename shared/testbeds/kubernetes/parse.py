"""How a run's Job and pods read back (pure): observations, the ended status, the probe's
hwinfo and what the result keeps of the scheduler's view."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from shared.testbeds.base import Observation
from shared.testbeds.kubernetes import outputs
from shared.testbeds.kubernetes.render import (
    MAIN_CONTAINER,
    PROBE_CONTAINER,
    RUN_LABEL,
    SCRIPT_ANNOTATION,
)

# The first line of a main container's log written by tessera-exec (tessera_exec.c).
EXEC_HEADER = b"# tessera-exec 1"
# Why a container could not start (the runtime's words), not the command's own exit.
START_FAILURES = frozenset({"StartError", "ContainerCannotRun", "RunContainerError"})

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


def run_label(obj: Mapping[str, Any]) -> str:
    """The run-id label's text, as the object carries it ("" without one)."""
    value = ((obj.get("metadata") or {}).get("labels") or {}).get(RUN_LABEL)
    return value if isinstance(value, str) else ""


def run_id_of(obj: Mapping[str, Any]) -> uuid.UUID | None:
    value = run_label(obj)
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _pick(obj: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {key: obj[key] for key in keys if key in obj}


def slim_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """A Job as Tessera reads it: its metadata's names and labels, and its status."""
    return {
        "metadata": _pick(job.get("metadata") or {}, ("name", "labels", "creationTimestamp")),
        "status": job.get("status") or {},
    }


def slim_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A pod as Tessera reads it (observe, collect, scheduler_info): names, labels, times,
    the script's hash and outputs annotations, its status, and of its spec the node, the node
    selector and each container's name, image and resources."""
    spec = pod.get("spec") or {}

    def containers(key: str) -> list[dict[str, Any]]:
        return [_pick(c, ("name", "image", "resources")) for c in spec.get(key) or []]

    meta = pod.get("metadata") or {}
    kept = _pick(meta, ("name", "labels", "creationTimestamp", "deletionTimestamp"))
    annotations = meta.get("annotations") or {}
    mine = {k: v for k, v in annotations.items() if k in (SCRIPT_ANNOTATION, outputs.ANNOTATION)}
    if mine:
        kept["annotations"] = mine
    return {
        "metadata": kept,
        "spec": {
            **_pick(spec, ("nodeName", "nodeSelector")),
            "containers": containers("containers"),
            "initContainers": containers("initContainers"),
        },
        "status": pod.get("status") or {},
    }


def latest_pod(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not pods:
        return None
    return max(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""))


def running_pod_name(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The latest pod's name while it runs (its main container's log can be read)."""
    pod = latest_pod(pods)
    if pod is None or (pod.get("status") or {}).get("phase") != "Running":
        return None
    name = (pod.get("metadata") or {}).get("name")
    return name if isinstance(name, str) else None


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


def _script_sha256(pod: Mapping[str, Any] | None) -> str | None:
    if pod is None:
        return None
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(SCRIPT_ANNOTATION)
    return str(value) if value else None


def ended_status(job: Mapping[str, Any] | None, pod: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's status document from its Job and pod: the exit code from the main container's
    status (terminated.exitCode), the rest from tessera-exec's termination message where there
    is one, else what Kubernetes says."""
    main = _terminated(pod, MAIN_CONTAINER)
    status = _message(main)
    if main is not None:
        if main.get("exitCode") is not None:
            status["exit_code"] = main.get("exitCode")
        status.setdefault("exit_code", None)
        status.setdefault("start", main.get("startedAt"))
        status.setdefault("end", main.get("finishedAt"))
        status.setdefault("timed_out", False)
        status.setdefault("signal", None)
        status["script_sha256"] = status.get("script_sha256") or _script_sha256(pod)
        if not status.get("error"):
            status.pop("error", None)
        if main.get("reason") in START_FAILURES and not status.get("runner"):
            detail = str(main.get("message") or "").strip()
            status["error"] = f"Kubernetes: {main['reason']}" + (f": {detail}" if detail else "")
        elif main.get("reason") == "OOMKilled":
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


def demux(text: bytes) -> tuple[bytes, bytes, bytes]:
    """(stdout, stderr, both in order) of a main container's log. tessera-exec frames each
    chunk as a line: `o `/`e ` and the bytes up to a newline, `o+`/`e+` and bytes that had
    none (the newline is framing only). A log without its header is stdout as it is; a line
    that is not a record (the log cut by a byte limit mid-record) is kept as stdout."""
    if not text.startswith(EXEC_HEADER + b"\n"):
        return text, b"", text
    out, err, both = bytearray(), bytearray(), bytearray()
    for line in text[len(EXEC_HEADER) + 1 :].split(b"\n"):
        tag, kind, payload = line[:1], line[1:2], line[2:]
        if tag == b"#" or not line:
            continue
        if tag in (b"o", b"e") and kind in (b" ", b"+"):
            data = payload + (b"\n" if kind == b" " else b"")
            (out if tag == b"o" else err).extend(data)
            both.extend(data)
        elif tag in outputs.TAGS and kind == b" ":
            continue  # a workflow task's outputs: outputs.collect reads them
        else:
            out.extend(line)
            both.extend(line)
    return bytes(out), bytes(err), bytes(both)


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


def with_scheduler(
    hwinfo: Mapping[str, Any], pod: Mapping[str, Any] | None, namespace: str
) -> dict[str, Any]:
    """The probe's hwinfo with what Kubernetes says of the pod's placement (scheduler_info)
    under `scheduler.kubernetes`; the probe's own scheduler fields are kept."""
    info = scheduler_info(pod, namespace)
    if not info:
        return dict(hwinfo)
    scheduler = dict(hwinfo.get("scheduler") or {})
    scheduler["kind"] = scheduler.get("kind") or "kubernetes"
    scheduler["kubernetes"] = info
    return {**hwinfo, "scheduler": scheduler}


def scheduler_info(pod: Mapping[str, Any] | None, namespace: str) -> dict[str, Any]:
    """What the result keeps of the pod: where it ran and what it was given."""
    if pod is None:
        return {}
    spec = pod.get("spec") or {}
    main: Mapping[str, Any] = next(
        (c for c in spec.get("containers") or [] if c.get("name") == MAIN_CONTAINER), {}
    )
    probe: Mapping[str, Any] = next(
        (c for c in spec.get("initContainers") or [] if c.get("name") == PROBE_CONTAINER), {}
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
        # The probe ran in this image on the same node with the same resources: its hardware
        # is the run's; its OS and Python fields are that image's, not the run's.
        "probe_image": probe.get("image"),
    }
