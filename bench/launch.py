"""Launch latency: from a deployment's 202 to its command starting, on the local, SLURM and
Kubernetes testbeds (`make bench-scale`; bench/README.md).

A real stack (PostgreSQL, Redis, the API, the deployer and monitor workers, beat), the real
SLURM test cluster over sshd (scripts/slurm.sh), and the Kubernetes API server test double
with its kubelet on (the command runs as a process on this host). The command is
`date +%s.%N`: the first thing it does is print the time, read back from the run's result.
Runs go one after another, each on an idle stack, the median over RUNS of each.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

RUNS = int(os.environ.get("BENCH_LAUNCH_RUNS", "50"))
PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres:tessera@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379") + "/15"
SLURM_STATE = Path(os.environ.get("TESSERA_SLURM_STATE", "/var/lib/tessera-slurm"))
SLURM_PORT = int(os.environ.get("TESSERA_TEST_SSH_PORT", "2222"))
SLURM_USER = os.environ.get("TESSERA_TEST_SSH_USER", "tessera-ci")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Stack:
    """Tessera's processes on a fresh database, as tests/integration/conftest.py starts them."""

    def __init__(self) -> None:
        import socket

        self.home = Path(tempfile.mkdtemp(prefix="tessera-bench-launch-"))
        self.database = f"tessera_bench_launch_{uuid.uuid4().hex[:8]}"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        self.env |= {
            "TESSERA_HOME": str(self.home),
            "TESSERA_DATABASE_URL": f"{PG}/{self.database}",
            "TESSERA_BROKER_URL": REDIS,
            "TESSERA_API_PORT": str(self.port),
            "TESSERA_POLL_INTERVAL_S": "0.5",
            "TESSERA_INVENTORY_CACHE_S": "0.5",
            "TESSERA_RATE_LIMIT_PER_S": "0",
        }
        os.environ.update(self.env)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> tuple[str, str]:
        """(API URL, admin token)."""
        import httpx
        import psycopg
        import redis

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{self.database}"')
        redis.Redis.from_url(REDIS).flushdb()
        subprocess.run(
            [sys.executable, "-m", "services.cli", "migrate"],
            env=self.env,
            check=True,
            capture_output=True,
        )
        from services.cli.server import _register_local, create_token
        from shared.config import get_settings

        get_settings.cache_clear()
        _register_local(get_settings())
        token = create_token("launch", admin=True)
        worker = ["--pool", "threads", "-c", "4", "--loglevel", "WARNING"]
        for args in (
            ["worker", "deployer", *worker],
            ["worker", "monitor", *worker],
            ["beat"],
            ["api"],
        ):
            out = (self.home / f"{args[0]}-{args[1] if len(args) > 1 else ''}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.cli", *args],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return url, token
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        import psycopg
        import redis

        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        redis.Redis.from_url(REDIS).flushdb()


def wait_online(http: Any, testbed_id: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        body = http.get(f"/testbeds/{testbed_id}").json()
        if body.get("state") == "online":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"testbed {testbed_id} not online: {body}")
        time.sleep(0.5)


def launches(http: Any, testbed: str) -> list[float]:
    """RUNS launches on `testbed`: seconds from the 202 to the command's first instruction."""
    found: list[float] = []
    for _ in range(RUNS):
        body = {"command": ["date", "+%s.%N"], "testbed": testbed}
        response = http.post("/deployments", json=body)
        accepted = time.time()
        if response.status_code != 202:
            raise RuntimeError(f"{testbed}: {response.status_code} {response.text[:300]}")
        deployment = response.json()["deployment_id"]
        deadline = time.monotonic() + 120
        while True:
            state = http.get(f"/deployments/{deployment}").json()["state"]
            if state in ("succeeded", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{testbed}: deployment {deployment} still {state}")
            time.sleep(0.1)
        result = http.get(f"/deployments/{deployment}/runs/0/result").json()
        if state != "succeeded":
            raise RuntimeError(f"{testbed}: {state}: {result}")
        found.append(float(str(result["stdout"]).strip()) - accepted)
    return found


def main() -> int:
    import httpx

    from tests.kubeapi import KubeApi, node

    stack = Stack()
    cluster = KubeApi([node("kube-0", cpu="64", memory="256Gi")]).start()
    try:
        url, token = stack.start()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=60) as http:
            slurm = http.post(
                "/testbeds",
                json={
                    "name": "launch-slurm",
                    "kind": "slurm",
                    "config": {
                        "host": "127.0.0.1",
                        "port": SLURM_PORT,
                        "user": SLURM_USER,
                        "host_key": (SLURM_STATE / "ssh" / "host_ed25519_key.pub")
                        .read_text()
                        .strip(),
                        "accounting": "jobcomp",
                    },
                    "credentials": (SLURM_STATE / "ssh" / "id_ed25519").read_text(),
                },
            )
            kube = http.post(
                "/testbeds",
                json={
                    "name": "launch-k8s",
                    "kind": "kubernetes",
                    "config": {"namespace": "launch", "host_image": "python:3.12-slim"},
                    "credentials": cluster.kubeconfig(),
                },
            )
            for created in (slurm, kube):
                if created.status_code != 201:
                    raise RuntimeError(f"testbed: {created.status_code} {created.text[:300]}")
                wait_online(http, created.json()["id"])
            figures: dict[str, float] = {}
            for name, testbed in (
                ("local", "local"),
                ("slurm", "launch-slurm"),
                ("k8s", "launch-k8s"),
            ):
                taken = launches(http, testbed)
                figures[name] = statistics.median(taken)
                log(f"{name}: p50 {figures[name]:.3f} s, max {max(taken):.3f} s over {len(taken)}")
        for name, value in figures.items():
            print(f"launch_{name}_p50_s={value:.3f}")
        return 0
    finally:
        cluster.stop()
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
