"""Build benchmark: an image built from an environment, then the same environment again.

Run from the repository root as `.venv/bin/python bench/build.py` (`make bench`; the registry
and the base image come from `make services`). It calls the builder's image path the way
builder.build does (registry lookup, build lease, recipe, buildah bud, push), first for an
environment no one has built (a fresh variable makes its hash new), then five times more
for the same environment, which the registry already holds. It prints `name=value` lines on
stdout; the build log goes to stderr.

build_first_s: the first build (lookup, recipe, buildah bud, push, lookup).
build_cached_s: the median of the five cached ones (one registry lookup each).
build_cache_speedup: first / cached. Target: >= 50.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.builder import image, lease  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.environment import environment_digest  # noqa: E402
from shared.specs import InspectionSpec  # noqa: E402

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def main() -> int:
    settings = Settings(
        registry=os.environ.get("BENCH_REGISTRY", "127.0.0.1:5000"),
        registry_repository="tessera-bench/env",
        build_ca_bundle=CA_BUNDLE if CA_BUNDLE.exists() else None,
    )
    spec = InspectionSpec.model_validate(
        {
            "base": os.environ.get("BENCH_BASE", "127.0.0.1:5000/debian:bookworm"),
            "packages": ["jq"],
            "python_packages": ["six"],
            "files": [{"path": "data/input.json", "content": '{"number": 41}'}],
            "environment": {"BENCH_ID": uuid.uuid4().hex},
        }
    )
    spec_hash = environment_digest(spec)
    leases = Path(tempfile.mkdtemp(prefix="tessera-bench-"))

    @contextmanager
    def file_lease(key: str, timeout_s: float, on_wait: Callable[[], None]) -> Iterator[None]:
        with lease.file_lease(leases, key, timeout_s=timeout_s, on_wait=on_wait):
            yield

    def build() -> tuple[float, bool]:
        started = time.perf_counter()
        result = image.build_image(
            spec, spec_hash, settings, lease=file_lease, log=sys.stderr.write
        )
        return time.perf_counter() - started, result.cached

    first, first_cached = build()
    if first_cached:
        print("the first build was a cache hit: the benchmark is void", file=sys.stderr)
        return 1
    cached = []
    for _ in range(5):
        seconds, hit = build()
        if not hit:
            print("a repeated build was not a cache hit", file=sys.stderr)
            return 1
        cached.append(seconds)
    median = statistics.median(cached)
    print(f"build_first_s={first:.2f}")
    print(f"build_cached_s={median:.4f}")
    print(f"build_cache_speedup={first / median:.0f}")
    # The bench's image is not needed locally again (the registry keeps it): free the space.
    reference = image.image_reference(settings, spec_hash)
    subprocess.run(
        ["buildah", "--storage-driver", settings.buildah_storage_driver, "rmi", reference],
        capture_output=True,
        check=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
