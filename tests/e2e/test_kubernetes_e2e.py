"""Opt-in: the kubernetes connector against a real cluster, when KUBECONFIG is set.

    KUBECONFIG=~/.kube/config .venv/bin/pytest -q tests/e2e/test_kubernetes_e2e.py

Optional: TESSERA_E2E_NAMESPACE (default `default`), TESSERA_E2E_CONTEXT (default: the
kubeconfig's current context), TESSERA_E2E_IMAGE (an image with python3, default
`python:3.12-slim`), TESSERA_E2E_TESSERA_IMAGE (Tessera's image, deploy/docker/Dockerfile,
pushed where the cluster pulls it; default the testbed's default `tessera:<version>`),
TESSERA_E2E_GPU (e.g. `H100:1` to also run on a GPU node). The account
needs to list nodes and pods, and create, read, list and delete Jobs, ConfigMaps and pods/log in
the namespace. Every Job the test makes is deleted at the end.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from shared.db.models import Testbed, utcnow
from shared.hardware import match, parse_spec
from shared.secrets import encrypt
from shared.testbeds.base import Job, Tracked
from shared.testbeds.kubernetes import nodes as kn
from shared.testbeds.kubernetes import render as kj
from shared.testbeds.kubernetes.connector import KubernetesConnector
from shared.testbeds.kubernetes.schedule import Target

KUBECONFIG = os.environ.get("KUBECONFIG")
pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="set KUBECONFIG to run against a cluster")
SCRIPT = '#!/bin/sh\necho e2e-ok\ncat "$TESSERA_HWINFO" | head -c 40\n'


@pytest.fixture
def cluster(settings: Settings) -> Iterator[tuple[KubernetesConnector, Testbed, list[Any]]]:
    path = Path((KUBECONFIG or "").split(os.pathsep)[0]).expanduser()
    config: dict[str, Any] = {
        "namespace": os.environ.get("TESSERA_E2E_NAMESPACE", "default"),
        "host_image": os.environ.get("TESSERA_E2E_IMAGE", "python:3.12-slim"),
        "live_log_interval_s": 0,
    }
    if os.environ.get("TESSERA_E2E_TESSERA_IMAGE"):
        config["tessera_image"] = os.environ["TESSERA_E2E_TESSERA_IMAGE"]
    if os.environ.get("TESSERA_E2E_CONTEXT"):
        config["context"] = os.environ["TESSERA_E2E_CONTEXT"]
    testbed = Testbed(
        id=uuid.uuid4(),
        name="e2e",
        kind="kubernetes",
        config=config,
        credentials=encrypt(path.read_text()),
        state="online",
        refreshed_at=utcnow(),
    )
    connector = KubernetesConnector()
    kube = connector.client(testbed)
    nodes = [
        kn.read_node(item, kube.config, "e2e")
        for item in connector._json(
            testbed,
            "list nodes",
            lambda: kube.core.list_node(_request_timeout=30, _preload_content=False),
        )["items"]
    ]
    placed: list[Tracked] = []
    yield connector, testbed, [nodes, placed]
    for run in placed:
        connector.cancel(testbed, run)


def _run(
    connector: KubernetesConnector,
    testbed: Testbed,
    node: kn.KubeNode,
    job: Job,
    placed: list[Tracked],
) -> Any:
    run_id = uuid.uuid4()
    data = kn.inventory_of(node, 0, host_image=True)
    manifest, configmap = kj.render(
        job,
        run_id,
        testbed.id,
        Target.of(node.info.name, data),
        connector.client(testbed).config,
    )
    run = Tracked(run_id, connector.submit(testbed, manifest, configmap), node.info.name)
    placed.append(run)
    assert not (run.backend_ref or "").startswith("error:"), run.backend_ref
    deadline = time.monotonic() + 600
    while (seen := connector.observe(testbed, [run])[run_id]).state != "ended":
        assert time.monotonic() < deadline, seen
        time.sleep(2)
    return connector.collect(testbed, run, 1 << 20)


def test_a_cpu_run_on_a_real_cluster(cluster: Any) -> None:
    connector, testbed, (nodes, placed) = cluster
    ready = [n for n in nodes if n.online and not n.info.accelerators]
    if not ready:
        pytest.skip("no Ready CPU node")
    job = Job(
        argv=[],
        env={},
        script=("script", SCRIPT.encode()),
        timeout_s=120,
        cpu=0.1,
        memory=128 * 2**20,
    )
    collected = _run(connector, testbed, ready[0], job, placed)
    assert collected.status["exit_code"] == 0, collected.status
    assert collected.stdout.startswith(b"e2e-ok\n")
    assert collected.hwinfo["hostname"] and collected.hwinfo["cpu"]["arch"]
    assert collected.hwinfo["scheduler"]["kubernetes"]["node"] == ready[0].info.name


def test_a_stock_image_without_python_on_a_real_cluster(cluster: Any) -> None:
    connector, testbed, (nodes, placed) = cluster
    ready = [n for n in nodes if n.online and not n.info.accelerators]
    if not ready:
        pytest.skip("no Ready CPU node")
    job = Job(
        argv=["sh", "-c", "echo out; echo err >&2; exit 3"],
        env={},
        image="busybox:1.36",
        timeout_s=120,
        cpu=0.1,
        memory=64 * 2**20,
    )
    collected = _run(connector, testbed, ready[0], job, placed)
    assert collected.status["exit_code"] == 3, collected.status
    assert collected.stdout == b"out\n" and collected.stderr == b"err\n"
    assert collected.hwinfo["cpu"]["arch"]


def test_a_gpu_run_on_a_real_cluster(cluster: Any) -> None:
    wanted = os.environ.get("TESSERA_E2E_GPU")
    if not wanted:
        pytest.skip("set TESSERA_E2E_GPU (e.g. H100:1) to run on a GPU node")
    connector, testbed, (nodes, placed) = cluster
    spec = parse_spec(wanted)
    fits = [n for n in nodes if n.online and not match(spec, n.info)]
    assert fits, f"no Ready node has {wanted}"
    job = Job(
        argv=["nvidia-smi", "-L"],  # the case: a CUDA base image has no python3
        env={},
        image="nvidia/cuda:12.4.1-base-ubuntu22.04",
        hardware=spec,
        timeout_s=300,
    )
    collected = _run(connector, testbed, fits[0], job, placed)
    assert collected.status["exit_code"] == 0, collected.status
    assert collected.stdout.startswith(b"GPU 0: "), collected.stderr
    assert collected.hwinfo["gpus"], collected.hwinfo.get("errors")
