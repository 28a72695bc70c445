"""Applications benchmark: compile the C program once, then again (cached); upload 100 MiB.

Run from the repository root as `.venv/bin/python bench/app.py` (`make bench`). It makes a
fresh PostgreSQL database, migrates it, registers the local testbed and starts the real API,
builder (it settles executables), deployer, monitor and beat (Redis DB 10 as the broker), then:

app_build_first_s: POST /applications/{id}/builds for the C program (make, one
  configuration) until the executable is `compiled`: placement, the run, collection.
app_build_cached_s: the same source and configuration again: the answer (`cached: true`,
  no rebuild), median of five. Target: under 1% of app_build_first_s.
app_upload_mb_s: a 100 MiB zip streamed through PUT /applications/{id}/source (to a file,
  checked for safe extraction, kept in the store), in MiB/s.
app_upload_ref_mb_s: the same bytes POSTed to a minimal Starlette endpoint that writes them
  to disk, in the same run.

It prints `name=value` lines on stdout; everything else goes to stderr. Every process
started is stopped and the database dropped, whatever happens.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres:tessera@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_APP_REDIS_URL", "redis://127.0.0.1:6379/10")
UPLOAD_MIB = 100
HELLO_C = b'#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
MAKEFILE = b"bin/hello: hello.c\n\tmkdir -p bin\n\t$(CC) -O2 -o $@ hello.c\n"
CONFIGURATION = {"name": "generic", "build_script": ["make"], "artifacts": ["bin/hello"]}
REFERENCE = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
import os

async def upload(request):
    size = 0
    with open(os.path.join(os.environ["BENCH_REF_DIR"], "upload"), "wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            out.write(chunk)
    return JSONResponse({"size": size})

app = Starlette(routes=[Route("/upload", upload, methods=["PUT"])])
"""


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


@contextmanager
def database() -> Iterator[str]:
    name = f"tessera_bench_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG}/{name}"
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def process(argv: list[str], env: dict[str, str], logfile: Path) -> Iterator[None]:
    with logfile.open("wb") as handle:
        child = subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


def stack(exits: ExitStack, home: Path) -> tuple[str, str]:
    """The API's address and a token, with the workers running."""
    db_url = exits.enter_context(database())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_HOME=str(home),
        TESSERA_DATABASE_URL=db_url,
        TESSERA_BROKER_URL=REDIS,
        TESSERA_API_PORT=str(port),
        TESSERA_POLL_INTERVAL_S="0.5",
        TESSERA_RATE_LIMIT_PER_S="0",
        TESSERA_INVENTORY_CACHE_S="0.5",
    )
    tessera = [sys.executable, "-m", "services.cli"]
    subprocess.run([*tessera, "migrate"], env=env, check=True, capture_output=True)
    os.environ.update(env)
    from services.cli.server import _register_local, create_token
    from shared.config import get_settings

    get_settings.cache_clear()
    _register_local(get_settings())
    token = create_token("bench", admin=False)
    for name in ("builder", "deployer", "monitor"):
        argv = [*tessera, "worker", name, "--pool", "threads", "-c", "4"]
        exits.enter_context(process(argv, env, home / f"{name}.log"))
    exits.enter_context(process([*tessera, "beat"], env, home / "beat.log"))
    exits.enter_context(process([*tessera, "api"], env, home / "api.log"))
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/readyz")
    return url, token


def source_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("hello.c", HELLO_C)
        archive.writestr("Makefile", MAKEFILE)
    return buffer.getvalue()


def big_zip(path: Path) -> None:
    """100 MiB that do not compress, as one stored entry per MiB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(UPLOAD_MIB):
            archive.writestr(f"blob/{index:03}", os.urandom(1024 * 1024))


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            yield chunk


def put_timed(http: httpx.Client, url: str, path: Path, media: str) -> float:
    size = path.stat().st_size
    started = time.perf_counter()
    response = http.put(
        url, content=chunks(path), headers={"content-type": media, "content-length": str(size)}
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return size / (1024 * 1024) / elapsed


def builds(http: httpx.Client, app: str) -> tuple[float, float]:
    body = {"configurations": [CONFIGURATION]}
    started = time.perf_counter()
    first = http.post(f"/api/v1/applications/{app}/builds", json=body).raise_for_status().json()
    executable = first["items"][0]["executable_id"]
    while True:
        state = http.get(f"/api/v1/executables/{executable}").json()["state"]
        if state not in ("not_compiled", "compiling"):
            break
        time.sleep(0.05)
    first_s = time.perf_counter() - started
    if state != "compiled":
        raise RuntimeError(f"the build ended {state}")
    cached = []
    for _ in range(5):
        started = time.perf_counter()
        again = http.post(f"/api/v1/applications/{app}/builds", json=body).raise_for_status()
        cached.append(time.perf_counter() - started)
        assert again.json()["items"][0]["cached"] is True
    return first_s, statistics.median(cached)


def main() -> int:
    with ExitStack() as exits, tempfile.TemporaryDirectory(prefix="tessera-bench-app-") as tmp:
        home = Path(tmp)
        url, token = stack(exits, home / "home")
        headers = {"Authorization": f"Bearer {token}"}
        http = exits.enter_context(httpx.Client(base_url=url, headers=headers, timeout=600))
        app = http.post("/api/v1/applications", json={"name": "bench"}).json()["application_id"]
        http.put(
            f"/api/v1/applications/{app}/source",
            content=source_zip(),
            headers={"content-type": "application/zip"},
        ).raise_for_status()
        log("building")
        first_s, cached_s = builds(http, app)
        print(f"app_build_first_s={first_s:.3f}")
        print(f"app_build_cached_s={cached_s:.4f}")
        print(f"app_build_cached_ratio={cached_s / first_s:.4f}")
        log("uploading")
        archive = home / "big.zip"
        big_zip(archive)
        ref_port = free_port()
        (home / "ref").mkdir()
        (home / "reference_upload.py").write_text(REFERENCE)
        ref_argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(home),
            "--port",
            str(ref_port),
            "--log-level",
            "warning",
            "reference_upload:app",
        ]
        ref_env = dict(os.environ, BENCH_REF_DIR=str(home / "ref"))
        exits.enter_context(process(ref_argv, ref_env, home / "ref.log"))
        with httpx.Client(timeout=600) as plain:
            wait_for_port(ref_port)
            api, ref = [], []
            for _ in range(3):
                api.append(
                    put_timed(
                        http, f"/api/v1/applications/{app}/source", archive, "application/zip"
                    )
                )
                ref.append(
                    put_timed(
                        plain, f"http://127.0.0.1:{ref_port}/upload", archive, "application/zip"
                    )
                )
        print(f"app_upload_mb_s={statistics.median(api):.1f}")
        print(f"app_upload_ref_mb_s={statistics.median(ref):.1f}")
    return 0


def wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the reference endpoint did not start")


if __name__ == "__main__":
    sys.exit(main())
