"""builder.executable: an ended build becomes its executable; `package: image` gets its image.

The image is the configuration's base (or TESSERA_APP_IMAGE_BASE for `base: host`) with the
build's artifacts under /opt/tessera/app, tagged by the build's hash (source digest and
configuration): the registry is the cache, as for environments, and identical builds at once
make it once (the same lease).
"""

from __future__ import annotations

import io
import logging
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from services import worker
from services.builder import image
from services.builder.backends import backend_for
from services.builder.base import Log
from services.builder.lease import LeaseTimeout, held
from services.builder.native import BuildFailed
from services.builder.recipe import LABEL_HASH, quote
from shared.applications import settle
from shared.celery_app import celery_app
from shared.config import Settings, get_settings
from shared.db.models import Executable
from shared.schemas import HOST_BASE, check_image
from shared.store import StreamingLog

log = logging.getLogger(__name__)
app = celery_app()

APP_DIR = "/opt/tessera/app"


def executable_reference(settings: Settings, build_hash: str) -> str:
    return f"{settings.registry}/{settings.registry_repository}:exe-{build_hash}"


def containerfile(base: str, build_hash: str) -> str:
    """FROM the base, the artifacts copied in; the base is validated again before it is
    written (it is a user's string)."""
    return (
        f"FROM {check_image(base)}\n"
        f"COPY app/ {APP_DIR}/\n"
        f"LABEL {LABEL_HASH}={quote(build_hash)}\n"
        f"WORKDIR {APP_DIR}\n"
    )


def unpack(archive: bytes, folder: Path) -> None:
    """The executable's tar.gz into `folder`, by the `data` filter (nothing outside it, no
    devices, no setuid bits)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def make_image(
    settings: Settings, base: str, build_hash: str, archive: bytes, log: Log
) -> tuple[str, bool]:
    """The image's reference and whether the registry had it already."""
    client = image.registry_client(image.registry_config(settings))
    reference = executable_reference(settings, build_hash)
    repository, tag = settings.registry_repository, f"exe-{build_hash}"
    if image._in_registry(client, repository, tag):
        log(f"cache hit: {reference} is in the registry\n")
        return reference, True
    deadline = time.monotonic() + settings.build_timeout_s
    with held(build_hash, settings.build_timeout_s, lambda: log("an identical image is made\n")):
        if image._in_registry(client, repository, tag):
            return reference, True
        with tempfile.TemporaryDirectory(prefix="tessera-exe-") as workdir:
            context = Path(workdir) / "context"
            unpack(archive, context / "app")
            recipe = containerfile(base, build_hash)
            (context / "Containerfile").write_text(recipe)
            log("Containerfile:\n" + recipe)
            backend = backend_for(settings, base=base, workdir=Path(workdir))
            backend.build(context, reference, log, deadline)
            backend.push(reference, log, deadline)
        if not image._in_registry(client, repository, tag):
            raise BuildFailed(f"{reference} is not in the registry after the push")
    log(f"pushed {reference}\n")
    return reference, False


def _package(executable_id: uuid.UUID) -> None:
    settings = get_settings()
    store = worker.store()
    with worker.transaction() as session:
        row = session.get(Executable, executable_id)
        if row is None or row.artifact_key is None:
            return
        base = str(row.spec.get("base") or HOST_BASE)
        base = settings.app_image_base if base == HOST_BASE else base
        build_hash, key = row.build_hash, row.artifact_key
    archive = store.get(key)
    sink = StreamingLog(store, settle.package_log_key(executable_id))
    reference: str | None = None
    failure: str | None = None
    try:
        if archive is None:
            raise BuildFailed("the executable's archive is gone from the store")
        reference, _cached = make_image(settings, base, build_hash, archive, sink.write)
    except (BuildFailed, LeaseTimeout) as error:
        failure = str(error)
    except Exception as error:  # an unexpected failure still ends the executable, with why
        log.exception("packaging executable %s failed", executable_id)
        failure = f"internal error: {type(error).__name__}: {error}"
    finally:
        if failure is not None:
            sink.write(f"failed: {failure}\n")
        sink.flush()
    with worker.transaction() as session:
        settle.packaged(session, executable_id, reference, failure)


@app.task(name="builder.executable")
def executable(executable_id: str) -> None:
    """Idempotent: settle the executable from its ended build, then make its image when its
    configuration packages one."""
    found = uuid.UUID(executable_id)
    with worker.transaction() as session:
        settled = settle.settle(session, worker.store(), found)
    if settled is not None and settled.package:
        _package(found)
