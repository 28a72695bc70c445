"""The workflow engine's overhead over plain runs (`make bench`; bench/README.md).

A real stack (PostgreSQL, Redis DB 12, the API, the deployer and monitor workers, beat) on the
local testbed. In the same run: a deployment of TASKS runs of `true`, then a one-stage
workflow of TASKS copies of `true`, each timed from its 202 to its end; then ROUNDS two-stage
workflows (a -> b, one `true` each) for the dispatch latency, from a's attempt ending (as the
monitor recorded it) to b's attempt being placed. Prints only these lines on stdout:
workflow_tasks_per_s=, deployment_runs_per_s=, workflow_dispatch_latency_p50_s=.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

TASKS = int(os.environ.get("BENCH_WORKFLOW_TASKS", "1000"))
ROUNDS = int(os.environ.get("BENCH_WORKFLOW_ROUNDS", "10"))
PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres:tessera@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379") + "/12"
TIMEOUT_S = float(os.environ.get("BENCH_WORKFLOW_TIMEOUT_S", "1200"))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Stack:
    """Tessera's processes on a fresh database, as tests/integration/conftest.py starts them."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="tessera-bench-workflow-"))
        self.database = f"tessera_bench_wf_{uuid.uuid4().hex[:8]}"
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
            "TESSERA_MAX_BATCH_SIZE": str(max(TASKS, 100)),
        }
        os.environ.update(self.env)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> tuple[str, str]:
        """(API URL, token)."""
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
            timeout=300,
        )
        from services.cli.server import _register_local, create_token
        from shared.config import get_settings

        get_settings.cache_clear()
        _register_local(get_settings())
        token = create_token("bench-workflow", admin=False)
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
        deadline = time.monotonic() + 90
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


def until_ended(http: Any, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        body: dict[str, Any] = http.get(path).raise_for_status().json()
        if body["state"] in ("succeeded", "failed", "cancelled"):
            if body["state"] != "succeeded":
                raise RuntimeError(f"{path} ended {body['state']}: {body.get('state_reason')}")
            return body
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} still {body['state']} after {TIMEOUT_S} s")
        time.sleep(0.5)


def deployment_rate(http: Any) -> float:
    body = {"command": ["true"], "batch_size": TASKS, "testbed": "local"}
    began = time.monotonic()
    created = http.post("/deployments", json=body).raise_for_status().json()
    until_ended(http, f"/deployments/{created['deployment_id']}")
    return TASKS / (time.monotonic() - began)


def workflow_rate(http: Any) -> float:
    body = {
        "name": "bench-flat",
        "testbeds": ["local"],
        "stages": [{"name": "only", "tasks": [{"name": "t", "count": TASKS, "command": ["true"]}]}],
    }
    began = time.monotonic()
    created = http.post("/workflows", json=body).raise_for_status().json()
    until_ended(http, f"/workflows/{created['workflow_id']}")
    return TASKS / (time.monotonic() - began)


def dispatch_latencies(http: Any) -> list[float]:
    body = {
        "name": "bench-chain",
        "testbeds": ["local"],
        "stages": [
            {"name": "a", "tasks": [{"name": "t", "command": ["true"]}]},
            {"name": "b", "depends_on": ["a"], "tasks": [{"name": "t", "command": ["true"]}]},
        ],
    }
    found: list[float] = []
    for _ in range(ROUNDS):
        created = http.post("/workflows", json=body).raise_for_status().json()
        workflow = f"/workflows/{created['workflow_id']}"
        until_ended(http, workflow)
        entries = http.get(f"{workflow}/timeline").raise_for_status().json()["entries"]
        ended = max(_at(e["finished_at"]) for e in entries if e["stage"] == "a")
        placed = min(_at(e["queued_at"]) for e in entries if e["stage"] == "b")
        found.append(placed - ended)
    return found


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def main() -> int:
    import httpx

    stack = Stack()
    try:
        url, token = stack.start()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=60) as http:
            runs = deployment_rate(http)
            log(f"deployment: {TASKS} runs at {runs:.1f}/s")
            tasks = workflow_rate(http)
            log(f"workflow: {TASKS} copies at {tasks:.1f}/s (ratio {tasks / runs:.2f})")
            latencies = dispatch_latencies(http)
            log(f"dispatch: {', '.join(f'{x:.3f}' for x in latencies)} s")
        print(f"workflow_tasks_per_s={tasks:.1f}")
        print(f"deployment_runs_per_s={runs:.1f}")
        print(f"workflow_dispatch_latency_p50_s={statistics.median(latencies):.3f}")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
