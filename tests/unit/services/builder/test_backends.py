"""Build backends as data (their commands), the registry cache lookup, the build lease."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from services.builder import backends, image, lease
from services.builder.native import BuildFailed
from services.builder.registry import RegistryClient, RegistryConfig, RegistryError
from shared.config import Settings
from shared.specs import InspectionSpec

HASH = "c" * 64
# Explicit: the integration stack exports TESSERA_* variables while a whole suite runs.
SETTINGS = Settings(registry="reg.example", registry_repository="tessera/env")
REF = f"127.0.0.1:5000/tessera/env:{HASH}"


def test_buildah_commands() -> None:
    buildah = backends.Buildah(storage_driver="vfs", isolation="chroot", tls_verify=False)
    assert buildah.build_command(Path("/ctx"), REF) == [
        "buildah", "--storage-driver", "vfs", "bud", "--isolation", "chroot", "--layers=false",
        "--pull=false", "--tls-verify=false", "--file", "/ctx/Containerfile", "--tag", REF, "/ctx",
    ]  # fmt: skip
    assert buildah.push_command(REF) == [
        "buildah", "--storage-driver", "vfs", "push", "--tls-verify=false", REF, f"docker://{REF}",
    ]  # fmt: skip


def test_docker_commands() -> None:
    docker = backends.Docker()
    assert docker.build_command(Path("/ctx"), REF)[:2] == ["docker", "build"]
    assert docker.push_command(REF) == ["docker", "push", REF]


def test_credentials_go_to_a_private_file_not_argv(tmp_path: Path) -> None:
    settings = Settings(registry="reg.example:443", registry_username="u", registry_password="p")
    chosen = backends.backend_for(settings, base=None, workdir=tmp_path)
    assert isinstance(chosen, backends.Buildah) and chosen.authfile is not None
    command = " ".join(chosen.push_command(REF))
    assert "u:p" not in command and "--tls-verify=true" in command
    auth = Path(chosen.authfile)
    assert auth.stat().st_mode & 0o077 == 0
    assert json.loads(auth.read_text())["auths"]["reg.example:443"]["auth"] == "dTpw"


def test_loopback_registry_is_plain_http() -> None:
    assert Settings(registry="127.0.0.1:5000").registry_plain_http
    assert not Settings(registry="registry.example").registry_plain_http
    assert Settings(registry="registry.example", registry_insecure=True).registry_plain_http


def test_failure_reason_names_a_missing_base() -> None:
    base = "127.0.0.1:5000/nope/base:1"
    lines = [
        "STEP 1/9: FROM 127.0.0.1:5000/nope/base:1\n",
        "Error: creating build container: initializing source docker://127.0.0.1:5000/nope/"
        "base:1: reading manifest 1 in 127.0.0.1:5000/nope/base: name unknown\n",
    ]
    reason = backends.explain_failure("buildah bud", base, lines, 125)
    assert reason.startswith(f"base image {base} does not exist") and "name unknown" in reason
    other = backends.explain_failure("buildah bud", base, ["E: Unable to locate package x\n"], 1)
    assert other == "buildah bud failed (exit 1): E: Unable to locate package x"


def test_run_streamed_logs_and_times_out() -> None:
    lines: list[str] = []
    backends.run_streamed(["sh", "-c", "echo one; echo two"], lines.append, time.monotonic() + 10,
                          tool="sh")  # fmt: skip
    assert lines[1:] == ["one\n", "two\n"]
    with pytest.raises(BuildFailed, match="exit 3"):
        backends.run_streamed(["sh", "-c", "echo error: boom; exit 3"], lines.append,
                              time.monotonic() + 10, tool="sh")  # fmt: skip
    started = time.monotonic()
    with pytest.raises(BuildFailed, match="timed out"):
        backends.run_streamed(["sleep", "30"], lines.append, time.monotonic() + 0.5, tool="sleep")
    assert time.monotonic() - started < 5


def _registry(handler: httpx.MockTransport, **config: object) -> RegistryClient:
    return RegistryClient(RegistryConfig(address="reg.example", **config), transport=handler)  # type: ignore[arg-type]


def test_registry_has_tag() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200 if request.url.path.endswith(f"/{HASH}") else 404)

    client = _registry(httpx.MockTransport(answer))
    assert client.has_tag("tessera/env", HASH) is True
    assert client.has_tag("tessera/env", "d" * 64) is False
    assert asked[0].method == "HEAD" and str(asked[0].url).startswith("https://reg.example/v2/")
    assert "manifest.v2+json" in asked[0].headers["accept"]


def test_registry_bearer_token_flow() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            assert request.headers["authorization"].startswith("Basic ")
            assert request.url.params["scope"] == "repository:tessera/env:pull"
            return httpx.Response(200, json={"token": "T"})
        if request.headers.get("authorization") == "Bearer T":
            return httpx.Response(200)
        challenge = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:tessera/env:pull"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    client = _registry(httpx.MockTransport(answer), username="u", password="p")
    assert client.has_tag("tessera/env", HASH) is True


def test_registry_errors_are_reasons() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(RegistryError, match="connection refused"):
        _registry(httpx.MockTransport(down)).has_tag("r", HASH)
    with pytest.raises(RegistryError, match="500"):
        _registry(httpx.MockTransport(lambda r: httpx.Response(500))).has_tag("r", HASH)


def test_cache_hit_builds_nothing(tmp_path: Path) -> None:
    client = _registry(httpx.MockTransport(lambda r: httpx.Response(200)))
    spec = InspectionSpec.model_validate({"base": "127.0.0.1:5000/debian:bookworm"})
    log: list[str] = []

    def no_lease(*args: object) -> object:
        raise AssertionError("a cache hit takes no lease")

    result = image.build_image(
        spec,
        HASH,
        SETTINGS,
        lease=no_lease,
        log=log.append,
        client=client,  # type: ignore[arg-type]
    )
    assert result == image.ImageResult(f"reg.example/tessera/env:{HASH}", cached=True)
    assert "cache hit" in log[0]


def test_identical_build_found_after_waiting(tmp_path: Path) -> None:
    answers = iter([404, 200])
    client = _registry(httpx.MockTransport(lambda r: httpx.Response(next(answers))))
    spec = InspectionSpec.model_validate({"base": "127.0.0.1:5000/debian:bookworm"})
    log: list[str] = []
    result = image.build_image(spec, HASH, SETTINGS, lease=image.no_lease, log=log.append,
                               client=client)  # fmt: skip
    assert result.cached and "pushed by an identical build" in log[-1]


def test_file_lease_serialises_one_hash(tmp_path: Path) -> None:
    events: list[str] = []

    def hold(name: str) -> None:
        with lease.file_lease(tmp_path, HASH, timeout_s=10,
                              on_wait=lambda: events.append(f"{name} waits")):  # fmt: skip
            events.append(f"{name} in")
            time.sleep(0.8)
            events.append(f"{name} out")

    threads = [threading.Thread(target=hold, args=(n,)) for n in ("a", "b")]
    threads[0].start()
    time.sleep(0.2)
    threads[1].start()
    for thread in threads:
        thread.join()
    assert events == ["a in", "b waits", "a out", "b in", "b out"]
    with open(tmp_path / f"{HASH}.lock", "w") as held:
        import fcntl

        fcntl.flock(held, fcntl.LOCK_EX)
        with (
            pytest.raises(lease.LeaseTimeout),
            lease.file_lease(tmp_path, HASH, timeout_s=0.3, on_wait=lambda: None),
        ):
            pass


def test_advisory_key_is_a_signed_bigint() -> None:
    assert lease.advisory_key("f" * 64) == -1
    assert lease.advisory_key("7" + "f" * 63) == 2**63 - 1


def test_only_backends_that_build_can_be_chosen(tmp_path: Path) -> None:
    """The kaniko stub (it rendered a Job, then always failed) is gone: choosing it is refused
    when the settings load, not at the first build."""
    with pytest.raises(ValidationError, match="buildah"):
        Settings(build_backend="kaniko")
    docker = backends.backend_for(Settings(build_backend="docker"), base=None, workdir=tmp_path)
    assert docker.name == "docker"
