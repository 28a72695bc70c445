"""The kubernetes connector through the official client against the API double (tests/kubeapi)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models import Testbed, utcnow
from shared.hardware import parse_spec
from shared.secrets import encrypt
from shared.testbeds.base import Job, Tracked, Unreachable
from shared.testbeds.kubernetes import render as kj
from shared.testbeds.kubernetes.client import KubeError, kubeconfig_problem
from shared.testbeds.kubernetes.connector import KubernetesConnector
from shared.testbeds.kubernetes.schedule import Target
from tests.kubeapi import KubeApi, node, stock_image_path

GPU_LABELS = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
GPU_NODE = Target("gpu-1", "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu", GPU_LABELS, [TAINT])
CONFIG = {"namespace": "runs", "host_image": "python:3.12-slim", "live_log_interval_s": 0.0}


@pytest.fixture
def db(settings: Settings) -> Iterator[Settings]:
    upgrade(settings.db_url)
    yield settings


STOCK = "nvidia/cuda:12.4.1-base-ubuntu22.04"  # no python3 in it
NO_EXEC = "python:3.12-slim"  # python3, but not Tessera's image: no tessera-exec


@pytest.fixture
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApi]:
    stock = stock_image_path(str(tmp_path_factory.mktemp("stock-bin")))
    nodes = [
        node("gpu-1", labels=GPU_LABELS, extended={"nvidia.com/gpu": "2"}, taints=[TAINT]),
        node("cpu-1", labels={"feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true"}),
        node("gpu-broken", labels=GPU_LABELS),
        node("down-1", ready=False),
    ]
    images = {STOCK: stock}
    with KubeApi(nodes, missing_images={"registry.invalid/nope:1"}, images=images) as double:
        yield double


def _testbed(api: KubeApi, **config: Any) -> Testbed:
    return Testbed(
        id=uuid.uuid4(),
        name="k8s",
        kind="kubernetes",
        config=CONFIG | config,
        credentials=encrypt(api.kubeconfig()),
        state="online",
        refreshed_at=utcnow(),
    )


def _place(
    connector: KubernetesConnector,
    testbed: Testbed,
    job: Job,
    target: Target = GPU_NODE,
    run_id: uuid.UUID | None = None,
) -> Tracked:
    run_id = run_id or uuid.uuid4()
    manifest, configmap = kj.render(
        job, run_id, testbed.id, target, connector.client(testbed).config
    )
    return Tracked(run_id, connector.submit(testbed, manifest, configmap), target.node)


def _until(
    connector: KubernetesConnector, testbed: Testbed, run: Tracked, state: str, timeout: float = 20
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        seen = connector.observe(testbed, [run])[run.run_id]
        if seen.state == state:
            return seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)


def _job(script: str, **changes: Any) -> Job:
    values: dict[str, Any] = {
        "argv": [],
        "env": {"NAME": "tessera"},
        "script": ("script", script.encode()),
        "hardware": parse_spec("H100:1"),
        "files": [("in/data.txt", b"42\n", False)],
    }
    return Job(**(values | changes))


def _command(argv: list[str]) -> Job:
    return Job(argv=argv, env={}, hardware=parse_spec("H100:1"), image=STOCK)


def test_a_run_comes_back_with_status_logs_and_hwinfo(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    run = _place(
        connector,
        testbed,
        _job('#!/bin/sh\necho "hello $NAME $(cat in/data.txt)"\necho oops >&2\nexit 4\n'),
    )
    assert run.backend_ref == f"runs/tessera-{run.run_id}"
    _until(connector, testbed, run, "ended")
    collected = connector.collect(testbed, run, 1 << 20)
    assert collected.status["exit_code"] == 4 and collected.status["script_sha256"]
    assert collected.stdout == b"hello tessera 42\n" and collected.stderr == b"oops\n"
    assert collected.log == b"hello tessera 42\noops\n"  # both, in order
    assert collected.hwinfo["cpu"]["flags"] and collected.hwinfo["hostname"]
    placed = collected.hwinfo["scheduler"]["kubernetes"]
    assert placed["node"] == "gpu-1" and placed["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_a_stock_image_without_python_runs_the_command_as_given(
    settings: Settings, api: KubeApi
) -> None:
    """The issue's acceptance: stdout and stderr apart, the exit code, the init's hwinfo."""
    connector, testbed = KubernetesConnector(), _testbed(api)
    command = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    run = _place(connector, testbed, _command(command))
    _until(connector, testbed, run, "ended")
    collected = connector.collect(testbed, run, 1 << 20)
    assert collected.stdout == b"out\n" and collected.stderr == b"err\n"
    assert collected.status["exit_code"] == 3 and "error" not in collected.status
    assert collected.hwinfo["cpu"]["arch"] and collected.hwinfo["memory"]["total_bytes"] > 0
    pod = api.pod_of_job("runs", f"tessera-{run.run_id}")
    assert pod is not None
    main = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert main["exitCode"] == 3 and main["reason"] == "Error"
    init = pod["status"]["initContainerStatuses"][0]["state"]["terminated"]
    assert init["exitCode"] == 0 and pod["spec"]["initContainers"][0]["image"] != STOCK
    placed = collected.hwinfo["scheduler"]["kubernetes"]
    assert (
        placed["image"] == STOCK
        and placed["probe_image"] == pod["spec"]["initContainers"][0]["image"]
    )
    # The image really has no python3: the same command asking for it cannot start.
    python = _place(
        connector,
        testbed,
        _command(["python3", "-c", "1"]),
    )
    _until(connector, testbed, python, "ended")
    failed = connector.collect(testbed, python, 1 << 20)
    assert failed.status["exit_code"] == 127
    assert failed.stderr == b"tessera-exec: could not start python3: No such file or directory\n"


def test_a_tessera_image_without_tessera_exec_fails_the_run_saying_so(
    settings: Settings, api: KubeApi
) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api, tessera_image=NO_EXEC)
    run = _place(connector, testbed, _job("true", hardware=parse_spec(None)), Target("cpu-1"))
    _until(connector, testbed, run, "ended")
    collected = connector.collect(testbed, run, 4096)
    assert collected.status["exit_code"] is None
    assert collected.status["error"].startswith("the hwinfo init container exited 1: prepare")
    assert "tessera-exec is not on this image's PATH" in collected.status["error"]
    assert collected.hwinfo["cpu"]["arch"]  # the probe ran before


def test_placing_twice_adopts_the_job(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    run_id = uuid.uuid4()
    first = _place(connector, testbed, _job("sleep 5"), run_id=run_id)
    again = _place(connector, testbed, _job("sleep 5"), run_id=run_id)
    assert first.backend_ref == again.backend_ref
    assert list(api.jobs) == [("runs", f"tessera-{run_id}")]
    configmap = api.configmaps[("runs", f"tessera-{run_id}")]
    owner = configmap["metadata"]["ownerReferences"][0]
    assert owner["uid"] == api.jobs[("runs", f"tessera-{run_id}")]["metadata"]["uid"]
    assert api.calls["POST /apis/batch/v1/namespaces/{ns}/jobs"] == 2
    assert api.calls["GET /apis/batch/v1/namespaces/{ns}/jobs"] == 1  # the adoption's read


def test_observe_is_two_calls_whatever_the_number_of_runs(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    runs = [
        _place(connector, testbed, _job("true", hardware=parse_spec(None)), Target("cpu-1"))
        for _ in range(12)
    ]
    before = connector.calls
    seen = connector.observe(testbed, runs + [Tracked(uuid.uuid4(), "error:refused", None)])
    assert connector.calls - before == 2
    assert len(seen) == 13 and seen[runs[0].run_id].state in ("pending", "running", "ended")


def test_a_running_run_is_remembered_by_its_pod_name_and_collect_reads_it_afresh(
    settings: Settings, api: KubeApi
) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    run = _place(connector, testbed, _job("sleep 30", hardware=parse_spec(None)), Target("cpu-1"))
    _until(connector, testbed, run, "running")  # maybe its probe (an init container) yet
    deadline = time.monotonic() + 20
    while connector._seen[run.run_id].running_pod is None:  # the main container runs
        assert time.monotonic() < deadline
        time.sleep(0.1)
        _until(connector, testbed, run, "running")
    kept = connector._seen[run.run_id]
    assert kept.job is None and kept.pods == [] and kept.running_pod
    connector.cancel(testbed, run)
    before = connector.calls
    collected = connector.collect(testbed, run, 1 << 20)  # its objects are fetched by label
    assert connector.calls - before >= 2 and run.run_id not in connector._seen
    assert collected.status is not None


def test_cancel_deletes_the_job_in_the_background(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    run = _place(connector, testbed, _job("sleep 60"))
    _until(connector, testbed, run, "running")
    connector.cancel(testbed, run)
    _until(connector, testbed, run, "gone")
    assert not api.configmaps and not api.pods
    assert api.calls["DELETE /apis/batch/v1/namespaces/{ns}/jobs"] == 1
    connector.cancel(testbed, run)  # gone already: nothing to do


def test_pending_reasons_are_surfaced(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    too_many = _place(connector, testbed, _job("true", hardware=parse_spec("H100:4")))
    seen = _until(connector, testbed, too_many, "pending")
    deadline = time.monotonic() + 10
    while "Unschedulable" not in (seen.reason or ""):
        assert time.monotonic() < deadline, seen
        seen = connector.observe(testbed, [too_many])[too_many.run_id]
    assert "Insufficient nvidia.com/gpu" in seen.reason
    missing = _place(connector, testbed, _job("true", image="registry.invalid/nope:1"))
    deadline = time.monotonic() + 10
    while True:
        seen = connector.observe(testbed, [missing])[missing.run_id]
        if seen.reason and "ImagePullBackOff" in seen.reason:
            break
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)
    assert seen.state == "pending" and "registry.invalid/nope:1" in seen.reason


def test_timeout_is_enforced_in_the_pod(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    run = _place(connector, testbed, _job("sleep 30", timeout_s=0.5))
    _until(connector, testbed, run, "ended")
    status = connector.collect(testbed, run, 4096).status
    assert status["timed_out"] is True and status["signal"] == "SIGTERM"


def test_live_log_is_fetched_while_running(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api, live_log_interval_s=0.05)
    run = _place(connector, testbed, _job("echo started; sleep 30"))
    _until(connector, testbed, run, "running")
    deadline = time.monotonic() + 10
    while (data := connector.live_log(testbed, run, None)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
        connector.observe(testbed, [run])
    assert data == b"started\n"
    connector.cancel(testbed, run)


def test_refresh_reports_nodes_flags_the_mislabelled_and_counts_gpus_in_use(
    settings: Settings, api: KubeApi
) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    _place(connector, testbed, _job("sleep 60", hardware=parse_spec("H100:2")))
    deadline = time.monotonic() + 10
    while not any(p["spec"].get("nodeName") for p in api.pods.values()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    found = connector.refresh(testbed, {})
    assert found.offline is None and found.missing == "no longer in the cluster"
    nodes = {n.name: n for n in found.nodes}
    assert {n: nodes[n].state for n in nodes} == {
        "gpu-1": "online",
        "cpu-1": "online",
        "gpu-broken": "flagged",
        "down-1": "offline",
    }
    assert nodes["gpu-1"].inventory["kubernetes"]["gpus_in_use"] == 2
    assert nodes["gpu-1"].inventory["kubernetes"]["gpus_free"] == 0
    # The pod is Tessera's own run: placement counts it from the run's row, not as others'.
    assert nodes["gpu-1"].inventory["kubernetes"]["gpus_held_by_others"] == 0
    assert "no allocatable" in (nodes["gpu-broken"].state_reason or "")
    assert "not Ready" in (nodes["down-1"].state_reason or "")
    for pod in list(api.pods):
        api._stop_pod(*pod)


def test_an_unreachable_cluster_raises_unreachable(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    api.stop()
    run = Tracked(uuid.uuid4(), "runs/x", "gpu-1")
    with pytest.raises(Unreachable, match="^list jobs: unreachable"):
        connector.observe(testbed, [run])
    found = connector.refresh(testbed, {})
    assert (found.offline or "").startswith("list nodes: unreachable") and not found.nodes


def test_kubeconfig_checks() -> None:
    with KubeApi([]) as double:
        assert kubeconfig_problem(double.kubeconfig()) is None
        assert kubeconfig_problem(double.kubeconfig(), "elsewhere") is not None
    assert kubeconfig_problem("{") == "not YAML"
    assert kubeconfig_problem("a: 1") == "not a kubeconfig (no clusters)"
    exec_config = (
        "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
        "users: [{name: u, user: {exec: {command: aws}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    assert "exec and auth-provider" in (kubeconfig_problem(exec_config) or "")
    files = exec_config.replace("{exec: {command: aws}}", "{tokenFile: /etc/shadow}")
    assert "tokenFile names a file" in (kubeconfig_problem(files) or "")


def test_the_double_serves_watches_to_the_official_client(settings: Settings, api: KubeApi) -> None:
    from kubernetes import watch

    connector, testbed = KubernetesConnector(), _testbed(api)
    kube = connector.client(testbed)
    run = _place(connector, testbed, _job("true", hardware=parse_spec(None)), Target("cpu-1"))
    events = []
    for event in watch.Watch().stream(
        kube.core.list_namespaced_pod,
        "runs",
        label_selector=f"tessera.io/run-id={run.run_id}",
        timeout_seconds=3,
        _request_timeout=10,
    ):
        events.append((event["type"], event["object"].status.phase))
        if event["object"].status.phase == "Succeeded":
            break
    assert events[0][0] == "ADDED" and events[-1] == ("MODIFIED", "Succeeded")


def test_a_refused_token_is_the_testbed_unreachable(settings: Settings, api: KubeApi) -> None:
    connector, testbed = KubernetesConnector(), _testbed(api)
    testbed.credentials = encrypt(api.kubeconfig().replace(api.token, "wrong-token"))
    with pytest.raises(KubeError, match="Kubernetes API error 401"):
        connector.observe(testbed, [Tracked(uuid.uuid4(), "runs/x", "gpu-1")])
    assert "401" in (connector.refresh(testbed, {}).offline or "")
