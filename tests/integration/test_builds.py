"""Image builds against the real stack: buildah, the local registry (scripts/registry.sh) and
the Debian base image (scripts/base-image.sh), runs inside the built image."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from shared.testbeds.local import runtimes as local_runtimes
from tests.integration.conftest import Stack

BASE = "127.0.0.1:5000/debian:bookworm"
# Uses all four: the native package (jq), the Python package (six), the file and the variable.
SCRIPT = """#!/bin/sh
set -eu
number=$(jq .number data/input.json)
exec python3 -c '
import json, os, sys, six
print(json.dumps({"jq": int(sys.argv[1]), "six": six.__version__,
                  "greeting": os.environ["GREETING"], "cwd": os.getcwd()}))
' "$number"
"""
GREETING = 'hello "world" $HOME `id` \\n'
SPEC: dict[str, Any] = {
    "base": BASE,
    "packages": ["jq"],
    "python_packages": ["six"],
    "files": [{"path": "data/input.json", "content": '{"number": 41}'}],
    "environment": {"GREETING": GREETING},
    "script": SCRIPT,
}


def _registry_up() -> bool:
    try:
        return httpx.get(f"http://{BASE.split('/')[0]}/v2/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


pytestmark = pytest.mark.skipif(
    not _registry_up(), reason="no registry on 127.0.0.1:5000: run `make services`"
)


@pytest.fixture(scope="module", autouse=True)
def _free_local_images(stack: Stack) -> Iterator[None]:
    """vfs keeps a full copy of every image: drop this session's once its tests are done."""
    yield
    repository = f"127.0.0.1:5000/{stack.env['TESSERA_REGISTRY_REPOSITORY']}"
    listed = subprocess.run(
        ["buildah", "--storage-driver", "vfs", "images", "--format", "{{.Name}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    mine = [name for name in listed if name.startswith(repository + ":")]
    if mine:
        subprocess.run(
            ["buildah", "--storage-driver", "vfs", "rmi", *mine], capture_output=True, check=False
        )


def _seconds(build: dict[str, Any]) -> float:
    started = datetime.fromisoformat(build["started_at"])
    return (datetime.fromisoformat(build["finished_at"]) - started).total_seconds()


def _check_result(client: httpx.Client, inspection_id: str) -> None:
    result = client.get(f"/inspections/{inspection_id}/runs/0/result").json()
    assert result["exit_code"] == 0, result
    assert result["stdout"] == {
        "jq": 41,
        "six": result["stdout"]["six"],
        "greeting": GREETING,
        "cwd": "/tessera/run/work",
    }
    hwinfo = result["hwinfo"]
    # From inside the image: its Python (the venv), no container tools (the host has buildah).
    assert hwinfo["python"]["executable"] == "/opt/tessera/venv/bin/python3", hwinfo["python"]
    assert hwinfo["runtimes"] == ["native"]
    assert hwinfo["container"]["in_container"] is True
    assert hwinfo["os_release"]["id"] == "debian"
    assert result["os_release"]["version_id"] == "12"


def test_local_node_offers_buildah(client: httpx.Client) -> None:
    nodes = client.get("/nodes").json()["items"]
    runtimes = {runtime for node in nodes for runtime in node["runtimes"]}
    assert "buildah" in runtimes and "native" in runtimes
    # podman is offered exactly when `podman run` works on this host (it fails with the
    # default ulimits until containers.conf is set as make e2e-compose sets it).
    works = "podman" in local_runtimes.probe()  # a real `podman run`, as discovery does
    assert ("podman" in runtimes) == works


def test_image_inspection_is_built_once_then_cached(stack: Stack, client: httpx.Client) -> None:
    first = client.post("/inspections", json=SPEC)
    twin = client.post("/inspections", json=SPEC)  # identical, at once: built once
    assert first.status_code == 202 and twin.status_code == 202, first.text
    first_id, twin_id = first.json()["inspection_id"], twin.json()["inspection_id"]

    # The log streams while the build runs (into the builder's row; the twin waits).
    seen_during_build = False
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not seen_during_build:
        states = []
        for inspection_id in (first_id, twin_id):
            state = client.get(f"/inspections/{inspection_id}").json()["build"]["state"]
            states.append(state)
            if state == "building":
                log = client.get(f"/inspections/{inspection_id}/build/log").text
                seen_during_build = seen_during_build or "STEP" in log
        if all(state in ("succeeded", "failed") for state in states):
            break
        time.sleep(0.3)
    assert seen_during_build, "the build log did not show progress while building"

    done = [stack.wait(client, f"/inspections/{i}", timeout=600) for i in (first_id, twin_id)]
    assert [item["state"] for item in done] == ["succeeded", "succeeded"], done
    assert sorted(item["build"]["cached"] for item in done) == [False, True]
    built = next(item for item in done if not item["build"]["cached"])
    built_log = client.get(f"/inspections/{built['id']}/build/log").text
    assert "FROM 127.0.0.1:5000/debian:bookworm" in built_log and "pushed" in built_log
    for item in done:
        _check_result(client, item["id"])

    again = client.post("/inspections", json=SPEC).json()["inspection_id"]
    final = stack.wait(client, f"/inspections/{again}", timeout=120)
    assert final["state"] == "succeeded" and final["build"]["cached"] is True
    assert final["build"]["spec_hash"] == built["build"]["spec_hash"]
    log = client.get(f"/inspections/{again}/build/log").text
    assert "cache hit" in log and "STEP" not in log
    assert _seconds(final["build"]) < 5
    _check_result(client, again)


def test_missing_base_image_fails_the_build_and_its_runs(
    stack: Stack, client: httpx.Client
) -> None:
    base = "127.0.0.1:5000/tessera-it-missing/nothing:1"
    created = client.post(
        "/inspections", json={"base": base, "script": "#!/bin/sh\ntrue\n", "batch_size": 2}
    )
    assert created.status_code == 202, created.text
    inspection_id = created.json()["inspection_id"]
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=180)
    assert final["state"] == "failed"
    build = final["build"]
    assert build["state"] == "failed"
    assert base in build["state_reason"] and "does not exist" in build["state_reason"]
    log = client.get(f"/inspections/{inspection_id}/build/log").text
    assert base.rsplit(":", 1)[0] in log and "build failed" in log
    runs = client.get(f"/inspections/{inspection_id}/runs").json()["items"]
    assert len(runs) == 2
    for run in runs:
        assert run["state"] == "failed" and run["state_reason"].startswith("build failed")
        assert run["placed_at"] is None and run["node_name"] is None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"packages": ["vim; rm -rf /"]}, "packages[0]", "package name"),
        ({"environment": {"A=B": "x"}}, "environment", "name"),
        ({"files": [{"path": "../../etc/passwd", "content": "x"}]}, "files[0].path", "inside"),
        ({"python_packages": ["--index-url http://x"]}, "python_packages[0]", "pip options"),
        ({"environment": {"A": "x\nRUN rm -rf /"}}, "environment", "line break"),
        ({"python": {"requirements_txt": "six\n--index-url http://x\n"}}, "python", "index"),
        ({"packages": ["-oAPT::Get::Foo=1"]}, "packages[0]", "package name"),
    ],
)
def test_injection_attempts_answer_422(
    client: httpx.Client, change: dict[str, Any], field: str, words: str
) -> None:
    response = client.post("/inspections", json=SPEC | change)
    assert response.status_code == 422, response.text
    fields = [item["field"] for item in response.json()["fields"]]
    assert any(name.startswith(field) for name in fields), response.json()
    assert words in json.dumps(response.json())
