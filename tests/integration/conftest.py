"""A real Tessera for the integration tests: a fresh Postgres database, Redis as the broker,
the API under uvicorn and the builder, deployer and monitor workers and beat as processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from tests.conftest import reset_settings

PG_ADMIN = os.environ.get("TESSERA_TEST_PG", "postgresql://postgres:tessera@127.0.0.1:5432")
REDIS_URL = os.environ.get("TESSERA_TEST_REDIS", "redis://127.0.0.1:6379/13")
TERMINAL = {"succeeded", "failed", "cancelled"}
AICOE_INDEX = "https://tensorflow.pypi.thoth-station.ninja/index/manylinux2010/AVX2/simple/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    home: Path
    admin_token: str
    token: str
    other_token: str
    processes: dict[str, subprocess.Popen[bytes]]
    # Where Prometheus finds each process's metrics (host:port; the API's on its own port).
    metrics: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)

    def wait(
        self,
        client: httpx.Client,
        path: str,
        *,
        timeout: float = 120,
        done: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Poll GET path until done(body) (default: a terminal state)."""
        check = done or (lambda body: body["state"] in TERMINAL)
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = client.get(path).raise_for_status().json()
            if check(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} still {body.get('state')} after {timeout} s: {body}")
            time.sleep(0.3)


def _create_database() -> str:
    name = f"tessera_it_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_database(name: str) -> None:
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _tessera(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", *args],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(url: str, processes: dict[str, subprocess.Popen[bytes]], home: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                log = (home / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited {process.returncode}:\n{log}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not become ready")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("tessera-home")
    database = _create_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TESSERA_")}
    env.update(
        {
            "TESSERA_HOME": str(home),
            "TESSERA_DATABASE_URL": f"{PG_ADMIN}/{database}",
            "TESSERA_BROKER_URL": REDIS_URL,
            "TESSERA_API_PORT": str(port),
            "TESSERA_POLL_INTERVAL_S": "0.5",
            "TESSERA_RECONCILE_INTERVAL_S": "5",
            "TESSERA_RECONCILE_AFTER_S": "20",
            "TESSERA_LOST_AFTER_S": "10",
            "TESSERA_SSH_KEEPALIVE_S": "2",  # a cut host is noticed in ~6 s
            "TESSERA_RECHECK_INTERVAL_S": "5",  # and one that is back within 5 s
            "TESSERA_MAX_SCRIPT_BYTES": "65536",
            "TESSERA_INVENTORY_CACHE_S": "0.5",
            "TESSERA_RATE_LIMIT_PER_S": "0",  # the burst tests send hundreds at once
            # Image builds (test_builds.py): scripts/registry.sh serves it; a fresh repository
            # per session, so the first build of a session really builds.
            "TESSERA_REGISTRY": "127.0.0.1:5000",
            "TESSERA_APP_IMAGE_BASE": "127.0.0.1:5000/debian:bookworm",
            "TESSERA_REGISTRY_REPOSITORY": f"tessera-it-{uuid.uuid4().hex[:8]}/env",
            # Amun's example inspection (test_amun.py) names the AICoE index, and its script
            # is served from loopback by the test.
            "TESSERA_PIP_ALLOWED_INDEX_URLS": json.dumps([AICOE_INDEX]),
            "TESSERA_SCRIPT_URL_PREFIXES": json.dumps(["http://127.0.0.1:"]),
        }
    )
    if Path("/etc/ssl/certs/ca-certificates.crt").exists():  # pip behind a TLS-inspecting proxy
        env["TESSERA_BUILD_CA_BUNDLE"] = "/etc/ssl/certs/ca-certificates.crt"
    saved = dict(os.environ)
    os.environ.update(env)
    reset_settings()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    exporters = {name: free_port() for name in ("builder", "deployer", "monitor", "beat")}
    try:
        subprocess.run(
            [sys.executable, "-m", "services.cli", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        from services.cli.server import _register_local, create_token
        from shared.config import get_settings

        _register_local(get_settings())
        admin = create_token("admin", admin=True)
        token = create_token("alpha", admin=False)
        other = create_token("beta", admin=False)
        for name in ("builder", "deployer", "monitor"):
            processes[name] = _tessera(
                "worker",
                name,
                "--pool",
                "threads",
                "-c",
                "4",
                "--loglevel",
                "INFO",
                env=env | {"TESSERA_METRICS_PORT": str(exporters[name])},
                log=home / f"{name}.log",
            )
        beat_env = env | {"TESSERA_METRICS_PORT": str(exporters["beat"])}
        processes["beat"] = _tessera("beat", env=beat_env, log=home / "beat.log")
        processes["api"] = _tessera("api", env=env, log=home / "api.log")
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, processes, home)
        yield Stack(
            url=url,
            env=env,
            home=home,
            admin_token=admin,
            token=token,
            other_token=other,
            processes=processes,
            metrics={name: f"127.0.0.1:{p}" for name, p in exporters.items()}
            | {"api": f"127.0.0.1:{port}"},
        )
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
        _drop_database(database)


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as http:
        yield http
