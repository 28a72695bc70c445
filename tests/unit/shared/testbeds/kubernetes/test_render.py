"""A run as a Job and a ConfigMap, and reading Jobs and pods back (kubernetes_jobs.py)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import kubernetes_validate
import pytest

from shared.hardware import parse_spec
from shared.testbeds.base import Job, RenderError
from shared.testbeds.kubernetes import parse as kp
from shared.testbeds.kubernetes import render as kj
from shared.testbeds.kubernetes.config import KubernetesConfig, Toleration
from shared.testbeds.kubernetes.schedule import Target

RUN = uuid.UUID("8b9aafcc-b8c0-4c20-93c3-8a887a5e509d")
TESTBED = uuid.UUID("11111111-2222-3333-4444-555555555555")
CONFIG = KubernetesConfig(
    namespace="research",
    host_image="python:3.12-slim",
    image_pull_secret="regcred",
    tolerations=[Toleration(key="dedicated", operator="Equal", value="ml", effect="NoSchedule")],
)
GPU_NODE = Target(
    node="gke-ml-a3-h100-pool-5d1e2f3a-7k2x",
    gpu_label_value="NVIDIA-H100-80GB-HBM3",
    gpu_resource="nvidia.com/gpu",
    labels={"feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true"},
    taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
)


def _job(**changes: Any) -> Job:
    values: dict[str, Any] = {
        "argv": [],
        "env": {"TESSERA_RUN_ID": str(RUN), "GREETING": "hi $(whoami) `x`"},
        "script": ("script", b"#!/bin/sh\necho hi\n"),
        "files": [("data/in.txt", b"text", False), ("bin.dat", b"\x00\xff\xfe", True)],
        "hardware": parse_spec("H100:2"),
        "cpu": 1.5,
        "memory": 2 * 2**30,
        "timeout_s": 300,
    }
    values.update(changes)
    return Job(**values)


def _validate(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_rendered_job_and_configmap_pass_kubernetes_validate() -> None:
    for job in (
        _job(),
        _job(hardware=parse_spec({"cpu": {"flags": ["avx512f"], "arch": "x86_64"}}), cpu=None),
        _job(argv=["python3", "-c", "print(1)"], script=None, files=[], image="registry:5000/a:1"),
        _job(python_requirements=("numpy==2.1.0",), memory=None),
    ):
        manifest, configmap = kj.render(job, RUN, TESTBED, GPU_NODE, CONFIG)
        _validate(manifest)
        _validate(kj.owned_by(configmap, {"metadata": {"name": "x", "uid": str(uuid.uuid4())}}))


def test_job_shape() -> None:
    manifest, configmap = kj.render(_job(), RUN, TESTBED, GPU_NODE, CONFIG)
    meta, spec = manifest["metadata"], manifest["spec"]
    assert meta["name"] == f"tessera-{RUN}" == configmap["metadata"]["name"]
    assert meta["namespace"] == "research"
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "tessera",
        "tessera.io/run-id": str(RUN),
        "tessera.io/testbed": str(TESTBED),
    }
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] == 3600
    assert spec["activeDeadlineSeconds"] == 300 + kj.DEADLINE_MARGIN_S
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchFields"] == [
        {"key": "metadata.name", "operator": "In", "values": [GPU_NODE.node]}
    ]
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},
    ]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    init, main = pod["initContainers"][0], pod["containers"][0]
    # The probe and preparation run from Tessera's image; the run's image runs no Python.
    assert init["name"] == "hwinfo" and init["image"] == CONFIG.tessera_image
    assert init["command"] == [
        "python3",
        "-I",
        "/tessera/files/kube_entry.py",
        "prepare",
        "/tessera/files/job.json",
        "/tessera/run",
        "/dev/termination-log",
    ]
    assert init["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert init["env"] == [{"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"}]
    assert main["image"] == "python:3.12-slim"
    assert main["command"] == [
        "/tessera/run/.tessera/tessera-exec",
        "-t",
        "300",
        "-m",
        "/dev/termination-log",
        "--",
    ]
    assert main["args"] == ["/tessera/run/script"]  # it has a #! line: exec'd as it is
    assert "python" not in json.dumps(main["command"] + main["args"])
    assert main["workingDir"] == "/tessera/run/work"
    assert main["resources"] == {
        "requests": {"cpu": "1500m", "memory": str(2 * 2**30), "nvidia.com/gpu": "2"},
        "limits": {"memory": str(2 * 2**30), "nvidia.com/gpu": "2"},
    }
    assert init["resources"] == main["resources"]  # the probe sees the run's GPUs
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env["GREETING"] == "hi $(whoami) `x`"  # a value, never command text
    assert env["TESSERA_HWINFO"] == "/tessera/run/hwinfo.json"
    assert env["TMPDIR"] == "/tessera/run/tmp"
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations == {
        "tessera.io/script-sha256": hashlib.sha256(b"#!/bin/sh\necho hi\n").hexdigest()
    }


def test_the_command_is_given_as_it_is() -> None:
    argv = ["nvidia-smi", "--query-gpu=name", "--format=csv"]
    job = _job(argv=argv, script=None, files=[], image="nvidia/cuda:12.4.1-base-ubuntu22.04")
    manifest, _ = kj.render(job, RUN, TESTBED, GPU_NODE, CONFIG)
    main = manifest["spec"]["template"]["spec"]["containers"][0]
    assert main["image"] == "nvidia/cuda:12.4.1-base-ubuntu22.04" and main["args"] == argv
    assert "annotations" not in manifest["spec"]["template"]["metadata"]
    plain = _job(script=("script", b"echo hi\n"))  # no #! line: the image's /bin/sh runs it
    assert kj.command_of(plain) == ["/bin/sh", "/tessera/run/script"]
    venv = kj.command_of(_job(python_requirements=("six",)))
    assert venv == [
        "python3",
        "-I",
        "/tessera/files/kube_entry.py",
        "venv",
        "/tessera/files/requirements.txt",
        "/tessera/run/venv",
        "--",
        "/tessera/run/script",
    ]
    with pytest.raises(RenderError, match="no command"):
        kj.command_of(_job(script=None, argv=[]))
    cpu_only = kj.render(_job(hardware=parse_spec(None)), RUN, TESTBED, Target("n1"), CONFIG)
    assert "env" not in cpu_only[0]["spec"]["template"]["spec"]["initContainers"][0]
    other = KubernetesConfig(host_image="alpine:3", tessera_image="registry.example:5000/t:2")
    init = kj.render(_job(), RUN, TESTBED, GPU_NODE, other)[0]["spec"]["template"]["spec"]
    assert init["initContainers"][0]["image"] == "registry.example:5000/t:2"


def test_configmap_carries_script_files_probe_and_job() -> None:
    _, configmap = kj.render(_job(), RUN, TESTBED, GPU_NODE, CONFIG)
    data, binary = configmap["data"], configmap["binaryData"]
    assert {"kube_entry.py", "hwinfo.py", "job.json", "script", "file-0"} <= set(data)
    assert binary == {"file-1": "AP/+"}  # not UTF-8: base64
    spec = json.loads(data["job.json"])
    assert spec["files"] == [["file-0", "data/in.txt", False], ["file-1", "bin.dat", True]]
    assert spec["script"] == "script" and spec["run_id"] == str(RUN)


def test_cpu_flags_arch_and_labels_become_selectors() -> None:
    job = _job(
        hardware=parse_spec(
            {"cpu": {"flags": ["avx512f", "sse4_2"], "arch": "aarch64"}, "labels": {"zone": "a"}}
        )
    )
    node = Target(
        node="n1",
        labels={
            "feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true",
            "feature.node.kubernetes.io/cpu-cpuid.SSE42": "true",
        },
        taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
    )
    manifest, _ = kj.render(job, RUN, TESTBED, node, KubernetesConfig(host_image="alpine:3"))
    pod = manifest["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true",
        "feature.node.kubernetes.io/cpu-cpuid.SSE42": "true",
        "kubernetes.io/arch": "arm64",
        "zone": "a",
    }
    assert "tolerations" not in pod  # no GPU asked: the GPU taint keeps it off GPU nodes
    assert "nvidia.com/gpu" not in json.dumps(pod["containers"][0]["resources"])


@pytest.mark.parametrize(
    ("job", "target", "config", "words"),
    [
        (_job(), GPU_NODE, KubernetesConfig(), "needs an image"),
        (_job(image="Not An Image"), GPU_NODE, CONFIG, "not an image reference"),
        (
            _job(hardware=parse_spec({"labels": {"bad key!": "x"}})),
            GPU_NODE,
            CONFIG,
            "not a Kubernetes label key",
        ),
        (
            _job(hardware=parse_spec({"labels": {"zone": "a b"}})),
            GPU_NODE,
            CONFIG,
            "not a Kubernetes label value",
        ),
        (_job(files=[("../x", b"", False)]), GPU_NODE, CONFIG, "leaves the run's folder"),
        (_job(env={"BAD NAME": "x"}), GPU_NODE, CONFIG, "not valid in a container"),
        (_job(hardware=parse_spec({"accelerators": ["fpga:xilinx:1"]})), GPU_NODE, CONFIG, "fpga"),
        (_job(), Target(node="Bad_Node"), CONFIG, "not a Kubernetes node name"),
        (
            _job(files=[("big.bin", b"x" * (1024 * 1024), False)]),
            GPU_NODE,
            CONFIG,
            "a ConfigMap can hold",
        ),
    ],
)
def test_what_cannot_be_rendered_safely_is_refused(
    job: Job, target: Target, config: KubernetesConfig, words: str
) -> None:
    with pytest.raises(RenderError, match=words):
        kj.render(job, RUN, TESTBED, target, config)


def test_deployers_path_is_dropped_but_the_runs_own_is_kept() -> None:
    job = _job(env={"PATH": "/host/bin", "A": "1"})
    names = [e["name"] for e in kj.container_env(job, "/host/bin")]
    assert names == ["A", "TESSERA_HWINFO", "TMPDIR"]
    assert kj.container_env(job, "/other")[0] == {"name": "PATH", "value": "/host/bin"}


# ---- reading back ---------------------------------------------------------------------------


def _pod(phase: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "creationTimestamp": "2026-11-29T10:00:00Z", "labels": {}},
        "spec": {"nodeName": "n1", "containers": [{"name": "main", "image": "i"}]},
        "status": {"phase": phase, "startTime": "2026-11-29T10:00:01Z", **status},
    }


def _job_status(*conditions: tuple[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "j"},
        "status": {
            "startTime": "2026-11-29T10:00:00Z",
            "conditions": [
                {"type": kind, "status": "True", "reason": reason} for kind, reason in conditions
            ],
        },
    }


def test_observe_maps_phases_and_reasons() -> None:
    assert kp.observe(None, []).state == "gone"
    assert kp.observe(_job_status(), []).reason == "Kubernetes: the Job has no pod yet"
    unschedulable = _pod(
        "Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
            }
        ],
    )
    seen = kp.observe(_job_status(), [unschedulable])
    assert seen.state == "pending"
    assert seen.reason == (
        "Kubernetes: Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    )
    pulling = _pod(
        "Pending",
        containerStatuses=[
            {
                "name": "main",
                "state": {
                    "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling "x"'}
                },
            }
        ],
    )
    assert kp.observe(_job_status(), [pulling]).reason == (
        'Kubernetes: ImagePullBackOff: Back-off pulling "x"'
    )
    probing = _pod("Pending", initContainerStatuses=[{"name": "hwinfo", "state": {"running": {}}}])
    assert kp.observe(_job_status(), [probing]).state == "running"
    running = kp.observe(_job_status(), [_pod("Running")])
    assert running.state == "running" and running.started_at == "2026-11-29T10:00:01Z"
    assert kp.observe(_job_status(), [_pod("Failed")]).state == "ended"
    assert kp.observe(_job_status(("Complete", "Completed")), []).state == "ended"
    assert kp.observe(_job_status(("Failed", "DeadlineExceeded")), []).state == "ended"


def _terminated(name: str, **state: Any) -> dict[str, Any]:
    return {"name": name, "state": {"terminated": state}}


def test_ended_status_from_the_termination_message() -> None:
    message = json.dumps({"exit_code": 3, "stderr_tail": "boom\n", "script_sha256": "ab"})
    pod = _pod(
        "Failed",
        containerStatuses=[_terminated("main", exitCode=3, reason="Error", message=message)],
    )
    status = kp.ended_status(_job_status(("Failed", "BackoffLimitExceeded")), pod)
    assert status["exit_code"] == 3 and status["stderr_tail"] == "boom\n"
    assert status["script_sha256"] == "ab" and "error" not in status


def test_oom_killed_is_an_error_naming_it() -> None:
    pod = _pod("Failed", containerStatuses=[_terminated("main", exitCode=137, reason="OOMKilled")])
    status = kp.ended_status(_job_status(("Failed", "BackoffLimitExceeded")), pod)
    assert status["exit_code"] == 137
    assert status["error"].startswith("Kubernetes: OOMKilled")


def test_runs_that_never_started_say_why() -> None:
    probe = _pod(
        "Failed",
        initContainerStatuses=[
            _terminated("hwinfo", exitCode=127, reason="StartError", message="python3: not found")
        ],
    )
    status = kp.ended_status(_job_status(("Failed", "BackoffLimitExceeded")), probe)
    assert status["error"] == "the hwinfo init container exited 127: python3: not found"
    pending = _pod(
        "Pending",
        conditions=[
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "m"}
        ],
    )
    status = kp.ended_status(_job_status(("Failed", "DeadlineExceeded")), pending)
    assert status["error"] == (
        "Kubernetes: DeadlineExceeded before the command started (Kubernetes: Unschedulable: m)"
    )
    assert kp.ended_status(_job_status(("Failed", "DeadlineExceeded")), _pod("Failed")) == {
        "exit_code": None,
        "timed_out": True,
        "error": None,
        "signal": None,
    }


def test_hwinfo_from_log_takes_the_json_line() -> None:
    log = b'warning: something\n{"hostname": "n1", "cpu": {}}\n'
    assert kp.hwinfo_from_log(log) == {"hostname": "n1", "cpu": {}}
    assert kp.hwinfo_from_log(b"no json here\n{broken") == {}


def test_run_ids_and_latest_pod() -> None:
    labelled = {"metadata": {"labels": {"tessera.io/run-id": str(RUN)}}}
    assert kp.run_id_of(labelled) == RUN
    assert kp.run_id_of({"metadata": {"labels": {"tessera.io/run-id": "x"}}}) is None
    old, new = _pod("Failed"), _pod("Running")
    new["metadata"]["creationTimestamp"] = "2026-11-29T11:00:00Z"
    assert kp.latest_pod([new, old]) is new


def test_demux_splits_tessera_execs_records_back_into_two_streams() -> None:
    log = b"# tessera-exec 1\no out\ne err\no+no newline\no  then\ne+\x00\xff\n"
    stdout, stderr, both = kp.demux(log)
    assert stdout == b"out\nno newline then\n" and stderr == b"err\n\x00\xff"
    assert both == b"out\nerr\nno newline then\n\x00\xff"
    assert kp.demux(b"plain\nlog\n") == (b"plain\nlog\n", b"", b"plain\nlog\n")
    cut = kp.demux(b"# tessera-exec 1\no one\nxyz")  # cut mid-record by a byte limit
    assert cut[0] == b"one\nxyz"


def test_the_exit_code_is_the_containers_and_a_start_failure_says_why() -> None:
    message = json.dumps({"runner": "tessera-exec 1", "exit_code": 1, "error": None})
    pod = _pod(
        "Failed",
        containerStatuses=[_terminated("main", exitCode=3, reason="Error", message=message)],
    )
    pod["metadata"]["annotations"] = {"tessera.io/script-sha256": "cd"}
    status = kp.ended_status(_job_status(("Failed", "BackoffLimitExceeded")), pod)
    assert status["exit_code"] == 3 and status["script_sha256"] == "cd" and "error" not in status
    start = _terminated(
        "main",
        exitCode=128,
        reason="StartError",
        message='exec: "/tessera/run/.tessera/tessera-exec": permission denied',
    )
    status = kp.ended_status(_job_status(), _pod("Failed", containerStatuses=[start]))
    assert status["exit_code"] == 128
    assert status["error"] == (
        'Kubernetes: StartError: exec: "/tessera/run/.tessera/tessera-exec": permission denied'
    )
