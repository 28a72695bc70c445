"""The kaniko backend: the build as a Kubernetes Job, its context in a ConfigMap.

Rendering is pure and validated offline against the Kubernetes schemas (kubernetes-validate).
Running it needs a Kubernetes testbed to submit to; until one is configured the backend
renders, validates, logs the manifests and fails the build saying so.
"""

from __future__ import annotations

import base64
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from services.builder.base import Log, authfile_json
from services.builder.native import BuildFailed
from shared.config import Settings
from shared.hardware import HardwareSpec

# A ConfigMap holds at most 1 MiB; the tarred context must fit with base64's overhead.
MAX_CONTEXT_BYTES = 700 * 1024


def context_tarball(context: Path) -> bytes:
    """The build context as a reproducible tar.gz (sorted, no owners, no times)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as tar:
        for path in sorted(p for p in context.rglob("*") if p.is_file()):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(context)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def _name(spec_hash: str) -> str:
    return f"tessera-build-{spec_hash[:20]}"


def _node_selector(hardware: HardwareSpec) -> dict[str, str]:
    selector = dict(hardware.labels)
    if hardware.cpu.arch:
        selector["kubernetes.io/arch"] = {"x86_64": "amd64", "aarch64": "arm64"}.get(
            hardware.cpu.arch, hardware.cpu.arch
        )
    return selector


def _executor(
    reference: str, plain_http: bool, tls_verify: bool, cpu: float | None, memory: int | None
) -> dict[str, Any]:
    """The kaniko container: build the context's Containerfile, push to `reference`."""
    args = [
        "--dockerfile=Containerfile",
        "--context=tar:///context/context.tar.gz",
        f"--destination={reference}",
        "--single-snapshot",
    ]
    if plain_http:
        args.append("--insecure")
    if not tls_verify:
        args.append("--skip-tls-verify")
    container: dict[str, Any] = {"name": "kaniko", "args": args}
    requests = {}
    if cpu is not None:
        requests["cpu"] = f"{int(cpu * 1000)}m"
    if memory is not None:
        requests["memory"] = str(memory)
    if requests:
        container["resources"] = {"requests": requests}
    return container


def _secret(metadata: dict[str, Any], credentials: tuple[str, str, str]) -> dict[str, Any]:
    """The registry credentials as the Docker config kaniko reads."""
    config = authfile_json(*credentials)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {**metadata},
        "type": "Opaque",
        "data": {"config.json": base64.b64encode(config.encode()).decode()},
    }


def render_manifests(
    *,
    spec_hash: str,
    reference: str,
    context: bytes,
    namespace: str,
    executor_image: str,
    plain_http: bool,
    tls_verify: bool,
    credentials: tuple[str, str, str] | None = None,  # (registry, username, password)
    hardware: HardwareSpec | None = None,
    cpu: float | None = None,
    memory: int | None = None,
    deadline_s: int = 1800,
) -> list[dict[str, Any]]:
    """ConfigMap (context), Secret (registry credentials, if any) and the kaniko Job."""
    if len(context) > MAX_CONTEXT_BYTES:
        raise BuildFailed(
            f"the build context is {len(context)} bytes; kaniko builds carry it in a ConfigMap"
            f" of at most {MAX_CONTEXT_BYTES} bytes"
        )
    name = _name(spec_hash)
    metadata = {
        "name": name,
        "namespace": namespace,
        "labels": {
            "app.kubernetes.io/managed-by": "tessera",
            "tessera.io/spec-hash": spec_hash[:63],
        },
    }
    container = {
        "image": executor_image,
        **_executor(reference, plain_http, tls_verify, cpu, memory),
    }
    volumes: list[dict[str, Any]] = [{"name": "context", "configMap": {"name": name}}]
    container["volumeMounts"] = [{"name": "context", "mountPath": "/context"}]
    manifests: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {**metadata},
            "binaryData": {"context.tar.gz": base64.b64encode(context).decode()},
        }
    ]
    if credentials is not None:
        manifests.append(_secret(metadata, credentials))
        volumes.append({"name": "docker-config", "secret": {"secretName": name}})
        container["volumeMounts"].append({"name": "docker-config", "mountPath": "/kaniko/.docker"})
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container], "volumes": volumes}
    selector = _node_selector(hardware) if hardware is not None else {}
    if selector:
        pod["nodeSelector"] = selector
    manifests.append(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {**metadata},
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": deadline_s,
                "ttlSecondsAfterFinished": 3600,
                "template": {"metadata": {"labels": metadata["labels"]}, "spec": pod},
            },
        }
    )
    return manifests


def validate(manifests: list[dict[str, Any]]) -> None:
    """Check each manifest against the Kubernetes schemas (strict: unknown fields refused)."""
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            kind = manifest.get("kind")
            raise BuildFailed(f"the rendered kaniko {kind} is invalid: {error.message}") from None


_REDACT = re.compile(r'("?(?:config\.json|context\.tar\.gz)"?:\s*)\S+')


@dataclass(frozen=True)
class Kaniko:
    """Renders and validates the Job; submitting it needs a Kubernetes testbed."""

    name: ClassVar[str] = "kaniko"
    settings: Settings
    base: str | None = None
    spec_hash: str = "0" * 64
    hardware: HardwareSpec | None = None

    def manifests(self, context: Path, reference: str) -> list[dict[str, Any]]:
        settings = self.settings
        credentials = (
            (settings.registry, settings.registry_username, settings.registry_password or "")
            if settings.registry_username is not None
            else None
        )
        return render_manifests(
            spec_hash=reference.rsplit(":", 1)[-1] if ":" in reference else self.spec_hash,
            reference=reference,
            context=context_tarball(context),
            namespace=settings.kaniko_namespace,
            executor_image=settings.kaniko_image,
            plain_http=settings.registry_plain_http,
            tls_verify=settings.registry_tls_verify,
            credentials=credentials,
            hardware=self.hardware,
            deadline_s=int(settings.build_timeout_s),
        )

    def build(self, context: Path, reference: str, log: Log, deadline: float) -> None:
        manifests = self.manifests(context, reference)
        validate(manifests)
        text = yaml.safe_dump_all(manifests, sort_keys=False)
        log("kaniko manifests (validated):\n" + _REDACT.sub(r"\1<elided>", text))
        raise BuildFailed(
            "the kaniko backend needs a Kubernetes testbed to run its Job, and none is configured"
        )

    def push(self, reference: str, log: Log, deadline: float) -> None:
        """kaniko pushes as part of the build (--destination)."""
