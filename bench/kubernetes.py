"""Kubernetes benchmark against the API server test double (tests/kubeapi), all in one run.

Run from the repository root as `.venv/bin/python bench/kubernetes.py` (`make bench`). Prints
`name=value` lines on stdout, the rest on stderr:

- k8s_place_rps: placements through Tessera's KubernetesConnector (render the Job and its
  ConfigMap, then POST the Job and POST the ConfigMap through the official client), from 4
  threads as the deployer runs them (`--pool threads -c 4`)
- k8s_place_rps_sequential: the same from one thread
- k8s_place_calls_per_run: API calls per placement
- k8s_monitor_calls_per_cycle: API calls of one KubernetesConnector.observe of every tracked
  run (target <= 2: one label-selected list of Jobs, one of pods)
- k8s_monitor_cycle_s: how long that observe took
- k8s_live_log_calls_per_cycle: the most live-log fetches one monitor cycle makes with every
  tracked run running (bounded by the testbed's live_logs_per_cycle, default 20)

The double's kubelet is off here (`run_containers=False`): pods are bound by its scheduler
and reported Running without starting 500 processes, so the numbers are the API path's.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file's name would shadow the `kubernetes` package: take its folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

TRACKED = int(os.environ.get("BENCH_K8S_TRACKED", "500"))
SEQUENTIAL = int(os.environ.get("BENCH_K8S_SEQUENTIAL", "100"))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    import tempfile

    os.environ.setdefault("TESSERA_HOME", tempfile.mkdtemp(prefix="tessera-bench-k8s-"))
    from shared.db.models import Testbed
    from shared.hardware import parse_spec
    from shared.secrets import encrypt
    from shared.testbeds.base import Job, Tracked
    from shared.testbeds.kubernetes import render as kj
    from shared.testbeds.kubernetes.connector import KubernetesConnector
    from shared.testbeds.kubernetes.schedule import Target
    from tests.kubeapi import KubeApi, node

    nodes = [
        node(
            f"gpu-{i}",
            labels={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            cpu="1000",
            memory="4Ti",
            extended={"nvidia.com/gpu": "1000"},
        )
        for i in range(4)
    ]
    job = Job(
        argv=[],
        env={"TESSERA_RUN_INDEX": "0", "LANG": "C.UTF-8"},
        script=("script", b"#!/usr/bin/env python3\nprint('hello')\n"),
        hardware=parse_spec("H100:1"),
        cpu=1,
        memory=2**30,
    )
    with KubeApi(nodes, run_containers=False) as api:
        testbed = Testbed(
            id=uuid.uuid4(),
            name="bench",
            kind="kubernetes",
            config={"namespace": "bench", "host_image": "python:3.12-slim"},
            credentials=encrypt(api.kubeconfig()),
            state="online",
            refreshed_at=datetime.now(UTC),
        )
        connector = KubernetesConnector()
        config = connector.client(testbed).config
        target = Target("gpu-0", "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu", {}, [])

        def place(run_id: uuid.UUID) -> Tracked:
            manifest, configmap = kj.render(job, run_id, testbed.id, target, config)
            return Tracked(run_id, connector.submit(testbed, manifest, configmap), target.node)

        place(uuid.uuid4())  # warm the connection pool
        before = connector.calls
        started = time.perf_counter()
        sequential = [place(uuid.uuid4()) for _ in range(SEQUENTIAL)]
        sequential_rps = SEQUENTIAL / (time.perf_counter() - started)
        calls_per_run = (connector.calls - before) / SEQUENTIAL
        log(f"{SEQUENTIAL} sequential placements: {sequential_rps:.0f}/s")

        rest = TRACKED - SEQUENTIAL
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            threaded = list(pool.map(place, [uuid.uuid4() for _ in range(rest)]))
        place_rps = rest / (time.perf_counter() - started)
        log(f"{rest} placements from 4 threads: {place_rps:.0f}/s")
        runs = sequential + threaded
        errors = [r.backend_ref for r in runs if (r.backend_ref or "").startswith("error:")]
        if errors:
            log(f"refused placements: {errors[:3]}")
            return 1

        deadline = time.monotonic() + 60
        while sum(1 for p in api.pods.values() if p["status"].get("phase") == "Running") < len(
            runs
        ):
            if time.monotonic() > deadline:
                log("not every pod was bound in time")
                break
            time.sleep(0.1)
        connector.observe(testbed, runs)  # warm
        before = connector.calls
        served_before = sum(api.calls.values())
        started = time.perf_counter()
        seen = connector.observe(testbed, runs)
        cycle_s = time.perf_counter() - started
        monitor_calls = connector.calls - before
        served = sum(api.calls.values()) - served_before
        states = {o.state for o in seen.values()}
        log(f"observe of {len(runs)} runs: {cycle_s:.3f} s, {monitor_calls} calls, "
            f"{served} requests served, states {sorted(states)}")  # fmt: skip

        # A monitor cycle's live logs: every run is running and none was fetched yet.
        fast = Testbed(
            id=testbed.id,
            name=testbed.name,
            kind=testbed.kind,
            config=testbed.config | {"live_log_interval_s": 0.001},
            credentials=testbed.credentials,
            state="online",
            refreshed_at=testbed.refreshed_at,
        )
        connector.observe(fast, runs)
        before = connector.calls
        for run in runs:
            connector.live_log(fast, run, None)
        live_calls = connector.calls - before

    print(f"k8s_place_rps={place_rps:.1f}")
    print(f"k8s_place_rps_sequential={sequential_rps:.1f}")
    print(f"k8s_place_calls_per_run={calls_per_run:.1f}")
    print(f"k8s_monitor_calls_per_cycle={monitor_calls}")
    print(f"k8s_monitor_cycle_s={cycle_s:.3f}")
    print(f"k8s_live_log_calls_per_cycle={live_calls}")
    return 0 if monitor_calls <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
