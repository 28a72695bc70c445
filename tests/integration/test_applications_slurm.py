"""Applications on the SLURM testbed (real slurm-wlm over sshd): the C program compiled per
configuration on the cluster's node, and a CUDA configuration placed by its H100 gres."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.integration.test_applications import (
    AVX2,
    GENERIC,
    build,
    create_app,
    source_zip,
    upload,
    wait_compiled,
)
from tests.integration.test_slurm import NAME, admin, sshd, testbed  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

VECTOR_CU = b"""#include <cstdio>
__global__ void add(int *x) { x[threadIdx.x] += 1; }
int main() { printf("cuda built for sm_90\\n"); return 0; }
"""


def _on_slurm(configuration: dict[str, Any]) -> dict[str, Any]:
    return {**configuration, "testbed": NAME}


@pytest.mark.skipif("avx2" not in Path("/proc/cpuinfo").read_text(), reason="no avx2 here")
@pytest.mark.usefixtures("testbed")
def test_compiled_on_the_cluster(stack: Stack, client: httpx.Client) -> None:
    app = create_app(client, "hello-slurm")
    assert upload(client, app, source_zip()).status_code == 200
    started = build(client, app, _on_slurm(AVX2), _on_slurm(GENERIC))
    assert started.status_code == 202, started.text
    items = {i["configuration"]: i for i in wait_compiled(stack, client, app, 2)}
    for name in ("avx2", "generic"):
        assert items[name]["state"] == "compiled", items[name]
        assert items[name]["testbed"] == NAME
        assert items[name]["node"] and items[name]["hwinfo"]["hostname"]
    deployed = client.post(
        "/deployments",
        json={
            "executable": items["avx2"]["executable_id"],
            "command": ["./bin/hello", "slurm"],
            "testbed": NAME,
        },
    )
    assert deployed.status_code == 202, deployed.text
    deployment = deployed.json()["deployment_id"]
    final = stack.wait(client, f"/deployments/{deployment}/status", timeout=120)
    assert final["state"] == "succeeded", final
    result = client.get(f"/deployments/{deployment}/runs/0/result").json()
    assert result["stdout"] == "hello from slurm: 500500\n"


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc on this machine")
@pytest.mark.usefixtures("testbed")
def test_cuda_configuration(stack: Stack, client: httpx.Client) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("vector.cu", VECTOR_CU)
    app = create_app(client, "cuda")
    assert upload(client, app, buffer.getvalue()).status_code == 200
    nvcc = shutil.which("nvcc")
    cuda = {
        "name": "h100",
        "hardware": "H100:1",
        "build_script": [str(nvcc), "-arch=sm_90", "-o", "vector", "vector.cu"],
        "artifacts": ["vector"],
        "timeout": 600,
    }
    started = build(client, app, cuda)
    assert started.status_code == 202, started.text
    (item,) = wait_compiled(stack, client, app, 1)
    assert item["state"] == "compiled", item
    assert item["testbed"] == NAME and item["artifact"]["files"] == ["vector"]
