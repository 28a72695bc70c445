"""Image builds: the tag is the environment's content hash; the registry is the cache.

Ask the registry for the tag first (present: a cache hit, nothing built); otherwise take the
build lease of that hash, ask again (an identical build may have just pushed it), render the
recipe, build with the configured backend and push.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from services.builder import recipe
from services.builder.backends import backend_for
from services.builder.base import Log
from services.builder.native import BuildFailed
from services.builder.registry import RegistryClient, RegistryConfig, RegistryError
from shared import hwinfo
from shared.config import Settings
from shared.specs import InspectionSpec

# (spec hash, timeout, on_wait) -> the lease held while building that hash
Lease = Callable[[str, float, Callable[[], None]], AbstractContextManager[None]]


@dataclass(frozen=True)
class ImageResult:
    reference: str
    cached: bool


def registry_config(settings: Settings) -> RegistryConfig:
    return RegistryConfig(
        address=settings.registry,
        insecure=settings.registry_plain_http,
        tls_verify=settings.registry_tls_verify,
        ca_file=str(settings.registry_ca_file) if settings.registry_ca_file else None,
        username=settings.registry_username,
        password=settings.registry_password,
        timeout_s=settings.registry_timeout_s,
    )


@functools.lru_cache(maxsize=8)
def registry_client(config: RegistryConfig) -> RegistryClient:
    """One client per registry settings and process: its connections are reused."""
    return RegistryClient(config)


def image_reference(settings: Settings, spec_hash: str) -> str:
    return f"{settings.registry}/{settings.registry_repository}:{spec_hash}"


def _in_registry(client: RegistryClient, repository: str, tag: str) -> bool:
    try:
        return client.has_tag(repository, tag)
    except RegistryError as error:
        raise BuildFailed(f"cannot ask the registry for the cached image: {error}") from None


def build_image(
    spec: InspectionSpec,
    spec_hash: str,
    settings: Settings,
    *,
    lease: Lease,
    log: Log,
    client: RegistryClient | None = None,
) -> ImageResult:
    """The image of this environment, from the registry's cache or built and pushed now."""
    client = client or registry_client(registry_config(settings))
    reference = image_reference(settings, spec_hash)
    repository, tag = settings.registry_repository, spec_hash
    if _in_registry(client, repository, tag):
        log(f"cache hit: {reference} is in the registry; nothing to build\n")
        return ImageResult(reference, cached=True)
    deadline = time.monotonic() + settings.build_timeout_s

    def waiting() -> None:
        log("an identical build is running elsewhere; waiting for it\n")

    with lease(spec_hash, settings.build_timeout_s, waiting):
        if _in_registry(client, repository, tag):
            log(f"cache hit: {reference} was pushed by an identical build\n")
            return ImageResult(reference, cached=True)
        probe = Path(hwinfo.__file__).read_bytes()
        ca_bundle = settings.build_ca_bundle
        rendered = recipe.render(
            spec,
            spec_hash,
            probe=probe,
            pip_index_url=settings.pip_index_url,
            ca_bundle=ca_bundle.read_bytes() if ca_bundle else None,
        )
        with tempfile.TemporaryDirectory(prefix="tessera-build-") as workdir:
            context = Path(workdir) / "context"
            rendered.write(context)
            log("Containerfile:\n" + rendered.containerfile)
            backend = backend_for(settings, base=spec.base, workdir=Path(workdir))
            log(f"building {reference} with {backend.name}\n")
            backend.build(context, reference, log, deadline)
            log(f"pushing {reference}\n")
            backend.push(reference, log, deadline)
        if not _in_registry(client, repository, tag):
            raise BuildFailed(f"{reference} is not in the registry after the push")
        log(f"pushed {reference}\n")
    return ImageResult(reference, cached=False)


def no_lease(
    spec_hash: str, timeout_s: float, on_wait: Callable[[], None]
) -> AbstractContextManager[None]:
    """For tests and single-builder setups: no coordination."""
    return contextlib.nullcontext()
