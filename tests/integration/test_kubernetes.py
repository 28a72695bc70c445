"""The kubernetes testbed against the API server test double (tests/kubeapi), end to end.

The double serves the Kubernetes REST API on a free loopback port with four nodes: two H100
nodes (GPU operator labels, 2 allocatable nvidia.com/gpu, the operator's GPU taint), one
CPU-only node labelled by NFD with AVX512F, and one mislabelled node (an H100 label but no
allocatable GPU). Its kubelet runs the pods' containers as processes on this host, so the
probe and the script really run. The testbed is registered through the admin API with the
double's kubeconfig as credentials and `host_image` set (the double never pulls images), and
removed at the end so the other modules' runs stay on the local testbed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.kubeapi import KubeApi, node

NAME = "k8s-test"
GPU_LABELS = {
    "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
    "nvidia.com/gpu.count": "2",
    "nvidia.com/gpu.memory": "81559",
    "node.kubernetes.io/instance-type": "a3-highgpu-2g",
}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
SCRIPT = """#!/usr/bin/env python3
import json, os
print(json.dumps({"hwinfo": os.path.exists(os.environ["TESSERA_HWINFO"]),
                  "run": os.environ["TESSERA_RUN_ID"]}))
"""

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeApi]:
    nodes = [
        node("gpu-1", labels=GPU_LABELS, extended={"nvidia.com/gpu": "2"}, taints=[GPU_TAINT]),
        node("gpu-2", labels=GPU_LABELS, extended={"nvidia.com/gpu": "2"}, taints=[GPU_TAINT]),
        node(
            "cpu-1",
            labels={
                "feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true",
                "feature.node.kubernetes.io/cpu-cpuid.AVX2": "true",
                "feature.node.kubernetes.io/cpu-model.vendor_id": "Intel",
            },
        ),
        node("gpu-broken", labels=GPU_LABELS, extended={"nvidia.com/gpu": "0"}),
    ]
    with KubeApi(nodes) as api:
        yield api


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.admin_token) as client:
        yield client


@pytest.fixture(scope="module")
def testbed(admin: httpx.Client, kube: KubeApi) -> Iterator[dict[str, Any]]:
    created = admin.post(
        "/testbeds",
        json={
            "name": NAME,
            "kind": "kubernetes",
            "config": {
                "namespace": "tessera",
                "gpu_models": {"H100": ["NVIDIA-H100-*"]},
                "host_image": "python:3.12-slim",
            },
            "credentials": kube.kubeconfig(),
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert "credentials" not in body and body["has_credentials"] is True
    assert kube.token not in created.text
    deadline = time.monotonic() + 60
    while True:
        found = admin.get(f"/testbeds/{body['id']}").raise_for_status().json()
        if found["state"] == "online" and found["nodes"] == 4:
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    yield found
    admin.delete(f"/testbeds/{body['id']}")


def _inspect(client: httpx.Client, hardware: Any) -> httpx.Response:
    return client.post(
        "/inspections",
        json={
            "base": "host",
            "script": SCRIPT,
            "testbed": NAME,
            "run": {"requests": {"hardware": hardware, "cpu": 1, "memory": "256MiB"}},
        },
    )


def _finished_run(stack: Stack, client: httpx.Client, response: httpx.Response) -> Any:
    assert response.status_code == 202, response.text
    inspection_id = response.json()["inspection_id"]
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=45)
    assert final["state"] == "succeeded", final
    run = client.get(f"/inspections/{inspection_id}/runs").json()["items"][0]
    result = client.get(f"/inspections/{inspection_id}/runs/0/result").json()
    return run, result


def test_nodes_discovered_and_mislabelled_node_flagged(admin: httpx.Client, testbed: Any) -> None:
    nodes = {
        n["name"]: n
        for n in admin.get("/nodes", params={"testbed": NAME}).raise_for_status().json()["items"]
    }
    assert set(nodes) == {"gpu-1", "gpu-2", "cpu-1", "gpu-broken"}
    gpu = nodes["gpu-1"]
    assert gpu["state"] == "online" and gpu["arch"] == "x86_64"
    assert gpu["accelerators"] == [
        {
            "kind": "gpu",
            "vendor": "nvidia",
            "model": "H100",
            "memory_bytes": 81559 * 2**20,
            "count": 2,
            "free": 2,
        }
    ]
    assert gpu["runtimes"] == ["kubernetes", "native"]
    assert gpu["labels"]["node.kubernetes.io/instance-type"] == "a3-highgpu-2g"
    assert "avx512f" in nodes["cpu-1"]["cpu_flags"] and nodes["cpu-1"]["accelerators"] == []
    broken = nodes["gpu-broken"]
    assert broken["state"] == "flagged", broken
    assert "no allocatable nvidia.com/gpu" in broken["state_reason"]
    assert broken["accelerators"] == []


def test_h100_lands_on_an_h100_node_with_gpu_limits_and_hwinfo(
    stack: Stack, client: httpx.Client, kube: KubeApi, testbed: Any
) -> None:
    run, result = _finished_run(stack, client, _inspect(client, "H100:1"))
    assert run["testbed"] == NAME and run["node_name"] in ("gpu-1", "gpu-2")
    assert result["stdout"] == {"hwinfo": True, "run": run["id"]}
    assert result["exit_code"] == 0
    # The probe ran in the init container and came back through pods/log?container=hwinfo.
    assert result["hwinfo"]["cpu"]["flags"] and result["hwinfo"]["hostname"]
    assert result["hwinfo"]["scheduler"]["kind"] == "kubernetes"
    placed = result["hwinfo"]["scheduler"]["kubernetes"]
    assert placed["node"] == run["node_name"] and placed["namespace"] == "tessera"
    assert placed["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert placed["node_selector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    pod = kube.pod_of_job("tessera", f"tessera-{run['id']}")
    assert pod is not None and pod["spec"]["nodeName"] == run["node_name"]
    main = pod["spec"]["containers"][0]
    assert main["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"][
        "tolerations"
    ]
    assert pod["spec"]["initContainers"][0]["name"] == "hwinfo"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    job = kube.jobs[("tessera", f"tessera-{run['id']}")]
    assert job["spec"]["backoffLimit"] == 0 and job["metadata"]["labels"][
        "tessera.io/run-id"
    ] == str(run["id"])


def test_h100_4_is_refused(client: httpx.Client, testbed: Any) -> None:
    response = _inspect(client, "H100:4")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"].startswith("run.requests.hardware") and "4 x gpu" in body["detail"]


def test_avx512f_lands_on_the_cpu_node(stack: Stack, client: httpx.Client, testbed: Any) -> None:
    run, result = _finished_run(stack, client, _inspect(client, {"cpu": {"flags": ["avx512f"]}}))
    assert run["node_name"] == "cpu-1"
    selector = result["hwinfo"]["scheduler"]["kubernetes"]["node_selector"]
    assert selector == {"feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true"}


def test_mislabelled_node_is_never_chosen(stack: Stack, client: httpx.Client, testbed: Any) -> None:
    responses = [_inspect(client, "H100:2") for _ in range(3)]
    nodes = {_finished_run(stack, client, response)[0]["node_name"] for response in responses}
    assert nodes <= {"gpu-1", "gpu-2"}
    pinned = client.post(
        "/inspections",
        json={
            "base": "host",
            "script": SCRIPT,
            "testbed": NAME,
            "run": {"requests": {"hardware": {"gpu": "H100:1", "node": "gpu-broken"}}},
        },
    )
    assert pinned.status_code == 422, pinned.text


def test_cancel_deletes_the_job(
    stack: Stack, client: httpx.Client, kube: KubeApi, testbed: Any
) -> None:
    response = client.post(
        "/inspections",
        json={
            "base": "host",
            "script": "#!/bin/sh\necho started\nsleep 120\n",
            "testbed": NAME,
            "run": {"requests": {"hardware": {"cpu": {"flags": ["avx512f"]}}}},
        },
    )
    assert response.status_code == 202, response.text
    inspection_id = response.json()["inspection_id"]
    running = stack.wait(
        client,
        f"/inspections/{inspection_id}/runs",
        done=lambda body: body["items"][0]["state"] == "running",
        timeout=30,
    )
    run_id = running["items"][0]["id"]
    cancelled = client.delete(f"/inspections/{inspection_id}")
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_runs"] == 1
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=45)
    assert final["state"] == "cancelled", final
    assert ("tessera", f"tessera-{run_id}") not in kube.jobs
    assert ("tessera", f"tessera-{run_id}") not in kube.configmaps
    assert kube.calls["DELETE /apis/batch/v1/namespaces/{ns}/jobs"] >= 1


def test_image_base_without_host_image_is_refused(
    admin: httpx.Client, client: httpx.Client, kube: KubeApi, testbed: Any
) -> None:
    other = admin.post(
        "/testbeds",
        json={"name": "k8s-no-host", "kind": "kubernetes", "credentials": kube.kubeconfig()},
    )
    assert other.status_code == 201, other.text
    try:
        deadline = time.monotonic() + 30
        while admin.get(f"/testbeds/{other.json()['id']}").json()["state"] != "online":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        refused = client.post(
            "/inspections", json={"base": "host", "script": "true", "testbed": "k8s-no-host"}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"].startswith("base") and "host_image" in refused.text
    finally:
        admin.delete(f"/testbeds/{other.json()['id']}")


def test_bad_kubeconfig_and_config_are_refused(admin: httpx.Client) -> None:
    bad = admin.post(
        "/testbeds",
        json={"name": "k8s-bad", "kind": "kubernetes", "credentials": "not: [a kubeconfig"},
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("credentials")
    none = admin.post("/testbeds", json={"name": "k8s-bad", "kind": "kubernetes"})
    assert none.status_code == 422 and none.json()["detail"].startswith("credentials")
    label = admin.post(
        "/testbeds",
        json={
            "name": "k8s-bad",
            "kind": "kubernetes",
            "config": {"gpu_label": "bad label!", "in_cluster": True},
        },
    )
    assert label.status_code == 422 and label.json()["detail"].startswith("config.gpu_label")


def test_a_workflow_passes_data_between_pods(
    stack: Stack, client: httpx.Client, kube: KubeApi, testbed: Any
) -> None:
    """Both stages on the cluster only: map's outputs come back through tessera-exec's log,
    reduce's inputs reach its pod's work folder through its ConfigMap before it starts."""
    write = "echo $((TESSERA_TASK_INDEX * 10)) > part-$TESSERA_TASK_INDEX.txt; echo done"
    body = {
        "name": "kube-map",
        "testbeds": [NAME],
        "stages": [
            {
                "name": "map",
                "tasks": [
                    {
                        "name": "part",
                        "count": 3,
                        "command": ["sh", "-c", write],
                        "outputs": ["part-*.txt"],
                    }
                ],
            },
            {
                "name": "reduce",
                "depends_on": ["map"],
                "tasks": [
                    {
                        "name": "sum",
                        "command": ["sh", "-c", "cat parts/part-*.txt"],
                        "inputs": [{"from": "map/part", "path": "parts"}],
                    }
                ],
            },
        ],
    }
    created = client.post("/workflows", json=body)
    assert created.status_code == 202, created.text
    workflow_id = created.json()["workflow_id"]
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=120)
    items = client.get(f"/workflows/{workflow_id}/tasks").json()["items"]
    results = [client.get(f"/runs/{item['run_id']}/result").json() for item in items]
    ends = [{key: r.get(key) for key in ("stdout", "stderr", "exit_code")} for r in results]
    assert final["state"] == "succeeded", json.dumps([final, ends])
    assert [s["testbeds"] for s in final["stages"]] == [[NAME], [NAME]]
    assert results[0]["stdout"] == "done\n"  # the outputs' records are not the copy's stdout
    result = client.get(f"/runs/{items[-1]['run_id']}/result").json()
    assert result["stdout"] == "0\n10\n20\n", result
