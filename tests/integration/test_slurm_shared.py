"""A shared SLURM cluster (scripts/slurm.sh): GPUs held by jobs outside Tessera, and GPU memory
SLURM does not name. The testbed and its sshd are test_slurm.py's fixtures."""

from __future__ import annotations

import subprocess
import time
import uuid
from typing import Any

import httpx
import pytest

from tests import ssh_hosts
from tests.integration.conftest import Stack
from tests.integration.test_slurm import GPU_SCRIPT, NAME, Sshd, _inspect, admin, sshd, testbed

pytestmark = pytest.mark.integration
__all__ = ["admin", "sshd", "testbed"]  # the fixtures this module uses


def _outside_job(gres: str) -> str:
    """A job submitted outside Tessera (root's, not the testbed's account) holding `gres`."""
    job = subprocess.run(
        ["sbatch", "--parsable", "-J", "outside", f"--gres={gres}", "-c1", "--mem=64M",
         "-o", "/dev/null", "--wrap=sleep 300"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    deadline = time.monotonic() + 30
    while _squeue("-j", job) != ["RUNNING"]:
        assert time.monotonic() < deadline, f"the outside job {job} did not start"
        time.sleep(0.2)
    return job


def _squeue(*args: str) -> list[str]:
    found = subprocess.run(
        ["squeue", "-h", "-t", "all", *args, "-o", "%T"], capture_output=True, text=True
    )
    return found.stdout.split()


def _free_h100(stack: Stack, admin: httpx.Client, testbed: Any, free: int) -> None:
    """Refresh the testbed until GET /nodes shows `free` H100s."""
    deadline = time.monotonic() + 60
    while True:
        admin.post(f"/testbeds/{testbed['id']}/refresh").raise_for_status()
        time.sleep(1)
        nodes = admin.get("/nodes", params={"testbed": NAME}).raise_for_status().json()["items"]
        if nodes[0]["accelerators"][0]["free"] == free:
            return
        assert time.monotonic() < deadline, nodes


def test_gpus_held_outside_tessera_make_a_run_wait(
    stack: Stack, client: httpx.Client, admin: httpx.Client, testbed: Any
) -> None:
    """Another user's job holds one of the two H100s: GET /nodes shows 1 free, and a run asking
    H100:2 stays queued (never sent to sbatch) until the job ends, then runs."""
    outside = _outside_job("gpu:h100:1")
    try:
        _free_h100(stack, admin, testbed, 1)
        inspection_id = _inspect(client, "H100:2")
        runs = f"/inspections/{inspection_id}/runs"
        body = stack.wait(
            client,
            runs,
            done=lambda b: "waiting for free accelerators" in (b["items"][0]["state_reason"] or ""),
            timeout=60,
        )
        run = body["items"][0]
        assert run["state"] == "queued" and "has 1 of the 2 asked free" in run["state_reason"]
        time.sleep(8)  # placement is tried again meanwhile, and waits again
        assert client.get(runs).json()["items"][0]["state"] == "queued"
        assert _squeue(f"--name=tessera-{run['id']}") == []  # never sent to sbatch
    finally:
        subprocess.run(["scancel", outside], check=True)
    _free_h100(stack, admin, testbed, 2)
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=120)
    assert final["state"] == "succeeded", final


def test_gpu_memory_requests_are_accepted(stack: Stack, client: httpx.Client, testbed: Any) -> None:
    """SLURM names no memory; the known H100's is what `gpu: 40GB..` is matched against."""
    from shared.db.models import Node
    from shared.db.session import process_sessions

    for hardware in ({"gpu": "40GB.."}, "nvidia:24GB..:1"):
        inspection_id = _inspect(client, hardware)
        final = stack.wait(client, f"/inspections/{inspection_id}", timeout=90)
        assert final["state"] == "succeeded", final
    with process_sessions(stack.env["TESSERA_DATABASE_URL"])() as session:
        node = session.query(Node).filter(Node.testbed_id == uuid.UUID(testbed["id"])).one()
        (gpu,) = node.inventory["accelerators"]
    assert (gpu["memory_bytes"], gpu["memory_source"]) == (80 * 10**9, "table")
    refused = client.post(
        "/inspections",
        json={"base": "host", "script": "true", "testbed": NAME,
              "run": {"requests": {"hardware": {"gpu": "100GB.."}}}},
    )  # fmt: skip
    assert refused.status_code == 422 and "memory" in refused.json()["detail"], refused.text


def test_a_run_pending_past_its_queue_timeout_moves_to_another_testbed(
    stack: Stack,
    client: httpx.Client,
    admin: httpx.Client,
    testbed: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Both H100s held by a job Tessera has not seen yet: its run pends in SLURM's queue
    (Resources). Past its queue_timeout_s it is withdrawn (scancel) and placed on the SSH
    hosts' H100s, which were registered meanwhile; the attempts say so."""
    _free_h100(stack, admin, testbed, 2)
    outside = _outside_job("gpu:h100:2")
    spill: dict[str, Any] | None = None
    try:
        created = client.post(
            "/inspections",
            json={"base": "host", "script": GPU_SCRIPT,
                  "run": {"requests": {"hardware": "H100:1"}, "queue_timeout_s": 6,
                          "retry": {"attempts": 2, "on": ["no_capacity"]}}},
        )  # fmt: skip
        assert created.status_code == 202, created.text
        inspection_id = created.json()["inspection_id"]
        pending = stack.wait(
            client,
            f"/inspections/{inspection_id}/runs",
            done=lambda body: "Resources" in (body["items"][0]["state_reason"] or ""),
            timeout=60,
        )["items"][0]
        assert pending["state"] == "placed" and pending["testbed"] == NAME, pending
        spill = ssh_hosts.register(admin, "ssh-spill", str(tmp_path_factory.mktemp("spill")))
        final = stack.wait(client, f"/inspections/{inspection_id}", timeout=120)
        assert final["state"] == "succeeded", final
        run = client.get(f"/inspections/{inspection_id}/runs").json()["items"][0]
        assert run["testbed"] == "ssh-spill" and run["attempt"] == 2, run
        attempts = client.get(f"/runs/{run['id']}/attempts").json()["items"]
    finally:
        subprocess.run(["scancel", outside], check=True)
        if spill is not None:  # (removing it renames it)
            admin.delete(f"/testbeds/{spill['id']}")
    assert [(a["testbed"], a["state"]) for a in attempts] == [
        (NAME, "withdrawn"),
        ("ssh-spill", "succeeded"),
    ], attempts
    reason = attempts[0]["state_reason"]
    assert "no capacity" in reason and "Resources" in reason, reason
    job = attempts[0]["backend_ref"]
    assert _squeue("-j", job) in ([], ["CANCELLED"]), job  # withdrawn: scancel, never ran
    result = client.get(f"/runs/{run['id']}/result").json()
    assert result["node"] == "tessera-h1" and result["stdout"]["cuda"] in ("0", "1")


def test_a_pending_run_moves_at_once_when_its_cluster_stops_answering(
    stack: Stack,
    client: httpx.Client,
    admin: httpx.Client,
    sshd: Sshd,
    testbed: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A run pending in SLURM's queue (not started) when the cluster's login node goes away is
    placed on another testbed at once, without waiting for the lost timeout; when the login
    node is back, its job, superseded, is fenced: scancel, never run."""
    _free_h100(stack, admin, testbed, 2)
    outside = _outside_job("gpu:h100:2")
    spill: dict[str, Any] | None = None
    try:
        created = client.post(
            "/inspections",
            json={"base": "host", "script": GPU_SCRIPT,
                  "run": {"requests": {"hardware": "H100:1"}}},
        )  # fmt: skip
        inspection_id = created.json()["inspection_id"]
        runs = f"/inspections/{inspection_id}/runs"
        pending = stack.wait(
            client,
            runs,
            done=lambda body: "Resources" in (body["items"][0]["state_reason"] or ""),
            timeout=60,
        )["items"][0]
        assert pending["state"] == "placed" and pending["testbed"] == NAME, pending
        spill = ssh_hosts.register(admin, "ssh-spill", str(tmp_path_factory.mktemp("spill")))
        sshd.stop()
        try:
            moved = stack.wait(
                client, runs, done=lambda body: body["items"][0]["attempt"] == 2, timeout=45
            )["items"][0]
            final = stack.wait(client, f"/inspections/{inspection_id}", timeout=90)
            assert final["state"] == "succeeded", final
        finally:
            sshd.start()
        attempts_path = f"/runs/{moved['id']}/attempts"
        fenced = stack.wait(
            client,
            attempts_path,
            done=lambda body: body["items"][0]["state"] == "superseded",
            timeout=90,
        )["items"]
    finally:
        subprocess.run(["scancel", outside], check=True)
        if spill is not None:
            admin.delete(f"/testbeds/{spill['id']}")
    first, second = fenced
    assert (first["testbed"], second["testbed"]) == (NAME, "ssh-spill"), fenced
    assert "stopped answering before it started" in first["state_reason"], first
    assert second["state"] == "succeeded" and not first["fence_pending"]
    assert _squeue("-j", first["backend_ref"]) in ([], ["CANCELLED"]), first
