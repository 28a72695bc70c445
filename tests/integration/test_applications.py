"""Applications (ALDE's lifecycle) on the local testbed: upload a C program as a zip, compile
it per configuration, deploy the executable; the attack archives; cancel on delete."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.unit.shared.applications import attacks

pytestmark = pytest.mark.integration

HELLO_C = rb"""#include <stdio.h>
int main(int argc, char **argv) {
    double s = 0; for (int i = 1; i <= 1000; i++) s += i;
    printf("hello from %s: %.0f\n", argc > 1 ? argv[1] : "nobody", s);
    return 0;
}
"""
MAKEFILE = b"CFLAGS ?= -O2\nbin/hello: hello.c\n\tmkdir -p bin\n\t$(CC) $(CFLAGS) -o $@ hello.c\n"
AVX2 = {
    "name": "avx2",
    "hardware": {"cpu": {"flags": ["avx2"]}},
    "build_script": ["make", "CFLAGS=-O2 -march=x86-64-v3"],
    "artifacts": ["bin/*"],
}
GENERIC = {"name": "generic", "build_script": ["make"], "artifacts": ["bin/hello"]}


def source_zip(extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("hello.c", HELLO_C)
        archive.writestr("Makefile", MAKEFILE)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def create_app(client: httpx.Client, name: str = "hello") -> str:
    created = client.post("/applications", json={"name": name})
    assert created.status_code == 201, created.text
    return str(created.json()["application_id"])


def upload(client: httpx.Client, app: str, data: bytes, kind: str = "application/zip") -> Any:
    return client.put(f"/applications/{app}/source", content=data, headers={"content-type": kind})


def wait_compiled(stack: Stack, client: httpx.Client, app: str, count: int) -> list[Any]:
    body = stack.wait(
        client,
        f"/applications/{app}/executables",
        timeout=180,
        done=lambda b: (
            len(b["items"]) == count
            and all(i["state"] not in ("compiling", "not_compiled") for i in b["items"])
        ),
    )
    return list(body["items"])


def build(client: httpx.Client, app: str, *configurations: dict[str, Any]) -> Any:
    return client.post(f"/applications/{app}/builds", json={"configurations": configurations})


@pytest.mark.skipif("avx2" not in Path("/proc/cpuinfo").read_text(), reason="no avx2 here")
def test_compile_package_deploy(stack: Stack, client: httpx.Client) -> None:
    app = create_app(client)
    uploaded = upload(client, app, source_zip())
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["file_count"] == 2
    started = build(client, app, AVX2, GENERIC)
    assert started.status_code == 202, started.text
    # Written before its run is placed: not compiled yet; compiling once it is.
    assert {i["state"] for i in started.json()["items"]} == {"not_compiled"}
    items = {i["configuration"]: i for i in wait_compiled(stack, client, app, 2)}
    for name in ("avx2", "generic"):
        assert items[name]["state"] == "compiled", items[name]
        assert items[name]["node"] and items[name]["testbed"] == "local"
        assert items[name]["hwinfo"]["hostname"]
        assert items[name]["artifact"]["files"] == ["bin/hello"]
    log = client.get(f"/executables/{items['avx2']['executable_id']}/log")
    assert "-march=x86-64-v3" in log.text and "archive_b64" not in log.text
    tarball = client.get(f"/executables/{items['avx2']['executable_id']}/artifact")
    assert tarball.status_code == 200 and tarball.content[:2] == b"\x1f\x8b"
    assert len(tarball.content) == items["avx2"]["artifact"]["size"]

    again = build(client, app, AVX2)  # the same source and configuration: no rebuild
    assert again.json()["items"][0]["cached"] is True
    assert again.json()["items"][0]["executable_id"] == items["avx2"]["executable_id"]

    deployed = client.post(
        "/deployments",
        json={"executable": items["avx2"]["executable_id"], "command": ["./bin/hello", "tessera"]},
    )
    assert deployed.status_code == 202, deployed.text
    deployment = deployed.json()["deployment_id"]
    final = stack.wait(client, f"/deployments/{deployment}/status")
    assert final["state"] == "succeeded", final
    result = client.get(f"/deployments/{deployment}/runs/0/result").json()
    assert result["stdout"] == "hello from tessera: 500500\n"
    spec = client.get(f"/deployments/{deployment}/specification").json()
    assert "avx2" in spec["requests"]["hardware"]["cpu"]["flags"]

    restarted = client.post(f"/deployments/{deployment}/restart")
    assert restarted.status_code == 202, restarted.text
    final = stack.wait(client, f"/deployments/{deployment}/status")
    assert final["state"] == "succeeded"
    run = client.get(f"/deployments/{deployment}/runs").json()["items"][0]
    assert run["attempt"] == 2

    # A new source: the old executables are stale.
    replaced = upload(client, app, source_zip({"README": b"v2\n"}))
    assert replaced.json()["stale_executables"] == 2
    states = {i["state"] for i in client.get(f"/applications/{app}/executables").json()["items"]}
    assert states == {"stale"}


def test_an_image_executable(stack: Stack, client: httpx.Client) -> None:
    """package: image, compiled on the host's toolchain: the binary in an image on
    TESSERA_APP_IMAGE_BASE, pushed to the registry, deployed as a run in that image."""
    app = create_app(client, "hello-image")
    assert upload(client, app, source_zip()).status_code == 200
    config = {**GENERIC, "name": "in-image", "package": "image"}
    assert build(client, app, config).status_code == 202
    (item,) = wait_compiled(stack, client, app, 1)
    assert item["state"] == "compiled", item
    assert item["image"].startswith("127.0.0.1:5000/") and ":exe-" in item["image"]
    assert item["artifact"]["files"] == ["bin/hello"]  # the tar.gz it was made from
    log = client.get(f"/executables/{item['executable_id']}/log").text
    assert "FROM 127.0.0.1:5000/debian:bookworm" in log and "pushed" in log
    deployed = client.post(
        "/deployments",
        json={"executable": item["executable_id"], "command": ["./bin/hello", "an image"]},
    )
    assert deployed.status_code == 202, deployed.text
    deployment = deployed.json()["deployment_id"]
    final = stack.wait(client, f"/deployments/{deployment}/status", timeout=180)
    assert final["state"] == "succeeded", final
    result = client.get(f"/deployments/{deployment}/runs/0/result").json()
    assert result["stdout"] == "hello from an image: 500500\n"
    spec = client.get(f"/deployments/{deployment}/specification").json()
    assert spec["image"] == item["image"] and spec["executable"] == item["executable_id"]
    again = build(client, app, config).json()["items"][0]  # cached, the image with it
    assert again["cached"] is True and again["image"] == item["image"]


def test_no_node_has_the_flag(client: httpx.Client) -> None:
    app = create_app(client)
    assert upload(client, app, source_zip()).status_code == 200
    wanted = {**GENERIC, "name": "nope", "hardware": {"cpu": {"flags": ["tessera_no_such_flag"]}}}
    refused = build(client, app, wanted)
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["field"].startswith("configurations.0.hardware")


def test_a_failing_build(stack: Stack, client: httpx.Client) -> None:
    app = create_app(client)
    upload(client, app, source_zip())
    build(client, app, {**GENERIC, "name": "broken", "build_script": ["make", "nothing"]})
    (item,) = wait_compiled(stack, client, app, 1)
    assert item["state"] == "failed" and "exit code" in item["state_reason"]


@pytest.mark.parametrize("attack", sorted(attacks.ATTACKS))
def test_attack_archives(client: httpx.Client, tmp_path: Path, attack: str) -> None:
    app = create_app(client, f"attack-{attack}")
    good = upload(client, app, source_zip())
    assert good.status_code == 200
    make, kind = attacks.ATTACKS[attack]
    path, entry = make(tmp_path / f"attack.{kind}")
    media = "application/zip" if kind == "zip" else "application/gzip"
    before = set(Path("/etc").iterdir())
    refused = upload(client, app, path.read_bytes(), media)
    assert refused.status_code == 422, refused.text
    assert entry in refused.json()["detail"], refused.json()
    assert set(Path("/etc").iterdir()) == before and not Path("/etc/x").exists()
    assert client.get(f"/applications/{app}").json()["source_digest"] == good.json()["digest"]


def test_unknown_media_type_and_too_large(stack: Stack, client: httpx.Client) -> None:
    app = create_app(client)
    wrong = upload(client, app, b"x", "text/plain")
    assert wrong.status_code == 422 and "content-type" in wrong.text


def test_delete_cancels_a_running_build(stack: Stack, client: httpx.Client) -> None:
    app = create_app(client)
    upload(client, app, source_zip())
    slow = {**GENERIC, "name": "slow", "build_script": ["sleep", "120"]}
    started = build(client, app, slow).json()["items"][0]
    deployment = started["deployment_id"]
    stack.wait(
        client,
        f"/deployments/{deployment}/runs",
        done=lambda b: b["items"][0]["state"] == "running",
    )
    deleted = client.delete(f"/applications/{app}")
    assert deleted.status_code == 200 and deleted.json()["cancelled_builds"] == 1
    final = stack.wait(client, f"/deployments/{deployment}/status", timeout=60)
    assert final["state"] == "cancelled"
    assert client.get(f"/applications/{app}").status_code == 404


def test_drain_and_resume(stack: Stack, client: httpx.Client) -> None:
    with stack.client(stack.admin_token) as admin:
        node = admin.get("/nodes", params={"testbed": "local"}).json()["items"][0]
        assert client.post(f"/nodes/{node['id']}/drain", json={"reason": "x"}).status_code == 403
        drained = admin.post(f"/nodes/{node['id']}/drain", json={"reason": "maintenance"})
        assert drained.status_code == 200 and drained.json()["drained"] is True
        try:
            refused = client.post("/deployments", json={"command": ["true"], "testbed": "local"})
            assert refused.status_code == 422, refused.text
        finally:
            assert admin.post(f"/nodes/{node['id']}/resume").json()["drained"] is False
        created = client.post("/deployments", json={"command": ["true"], "testbed": "local"})
        assert created.status_code == 202
