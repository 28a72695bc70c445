"""The slurm testbed against the real cluster of scripts/slurm.sh, through a real sshd.

The module starts its own sshd (the cluster's host key and the tests' user key, on a free
loopback port) so it can stop and start it; the testbed is registered through the admin API
and removed at the end, so the other modules' runs never go to the cluster.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest

from shared.hardware import parse_spec
from shared.testbeds.base import Job
from tests.integration.conftest import Stack, free_port

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("TESSERA_SLURM_STATE", "/var/lib/tessera-slurm"))
USER = os.environ.get("TESSERA_TEST_SSH_USER", "tessera-ci")
NAME = "slurm-test"
GPU_SCRIPT = """#!/usr/bin/env python3
import json, os, time
time.sleep(float(os.environ.get("NAP", "0")))
print(json.dumps({"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                  "job": os.environ.get("SLURM_JOB_ID")}))
"""

pytestmark = pytest.mark.integration


class Sshd:
    """An sshd of our own: stop() also ends its open connections, as a crashed host would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-f",
                str(STATE / "ssh" / "sshd_config"),
                "-p",
                str(self.port),
                "-o",
                f"PidFile={STATE / 'ssh' / f'sshd-{self.port}.pid'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start")

    def stop(self) -> None:
        if self.process is None:
            return
        # Each connection is served by descendants of the listener: end them all.
        for pid in _descendants(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.kill()
        self.process.wait()
        self.process = None


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    subprocess.run([str(ROOT / "scripts" / "slurm.sh")], check=True, capture_output=True)
    server = Sshd()
    server.start()
    yield server
    server.stop()


def _config(port: int, host_key: str | None = None) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "user": USER,
        "host_key": host_key or (STATE / "ssh" / "host_ed25519_key.pub").read_text().strip(),
        "gres_types": {"H100": "h100"},
        "accounting": "jobcomp",
    }


def _private_key() -> str:
    return (STATE / "ssh" / "id_ed25519").read_text()


def _wait_testbed(admin: httpx.Client, testbed_id: str, state: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        body = admin.get(f"/testbeds/{testbed_id}").raise_for_status().json()
        if body["state"] == state and (state != "online" or body["nodes"] >= 1):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"testbed still {body['state']}: {body}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.admin_token) as client:
        yield client


@pytest.fixture(scope="module")
def testbed(stack: Stack, admin: httpx.Client, sshd: Sshd) -> Iterator[dict[str, Any]]:
    created = admin.post(
        "/testbeds",
        json={
            "name": NAME,
            "kind": "slurm",
            "config": _config(sshd.port),
            "credentials": _private_key(),
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert "credentials" not in body and body["has_credentials"] is True
    yield _wait_testbed(admin, body["id"], "online", timeout=90)
    # Removing it keeps the other modules' runs on the local testbed.
    admin.delete(f"/testbeds/{body['id']}")


def _inspect(client: httpx.Client, hardware: Any, batch: int = 1, nap: float = 0) -> str:
    response = client.post(
        "/inspections",
        json={
            "base": "host",
            "script": GPU_SCRIPT,
            "batch_size": batch,
            "testbed": NAME,
            "environment": {"NAP": str(nap)},
            "run": {"requests": {"hardware": hardware, "cpu": 1, "memory": "128MiB"}},
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["inspection_id"])


def _sbatch_of(job_id: str) -> str:
    """The script SLURM holds for the job, as submitted."""
    return subprocess.run(
        ["scontrol", "write", "batch_script", job_id, "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_nodes_discovered_with_gres_and_features(admin: httpx.Client, testbed: Any) -> None:
    nodes = admin.get("/nodes", params={"testbed": NAME}).raise_for_status().json()["items"]
    assert nodes, nodes
    node = nodes[0]
    assert node["accelerators"][0]["model"] == "H100"
    assert node["accelerators"][0]["count"] == 2
    # The probe sees no GPU on the fake devices: the known H100's memory, marked as the table's.
    assert node["accelerators"][0]["memory_bytes"] == 80 * 10**9
    assert {"avx2", "cuda"} <= set(node["features"])
    assert node["cpu_flags"], "cpu flags come from the hwinfo probe run on the node"


def test_h100_runs_with_gres_and_hwinfo(stack: Stack, client: httpx.Client, testbed: Any) -> None:
    inspection_id = _inspect(client, "H100:1")
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=90)
    assert final["state"] == "succeeded", final
    run = client.get(f"/inspections/{inspection_id}/runs").json()["items"][0]
    assert run["testbed"] == NAME
    result = client.get(f"/inspections/{inspection_id}/runs/0/result").json()
    script = _sbatch_of(result["hwinfo"]["scheduler"]["job"]["job_id"])
    for flag in (
        f"--job-name=tessera-{run['id']}",
        f"--comment=tessera-run-{run['id']}",
        "--gres=gpu:h100:1",
        "--cpus-per-task=1",
        "--mem=128M",
        "--time=",
        "exec python3 runner.py",
    ):
        assert flag in script, (flag, script)
    assert result["exit_code"] == 0
    assert result["stdout"]["cuda"] == "0" and result["stdout"]["job"].isdigit()
    scheduler = result["hwinfo"]["scheduler"]
    assert scheduler["kind"] == "slurm"
    assert scheduler["job"]["gres"] == "gpu:h100:1"
    assert scheduler["variables"]["CUDA_VISIBLE_DEVICES"] == "0"
    assert result["hwinfo"]["cpu"]["flags"]


def test_cancel_goes_through_scancel(stack: Stack, client: httpx.Client, testbed: Any) -> None:
    inspection_id = _inspect(client, "H100:1", nap=120)
    stack.wait(
        client,
        f"/inspections/{inspection_id}/runs",
        done=lambda body: body["items"][0]["state"] == "running",
        timeout=60,
    )
    cancelled = client.delete(f"/inspections/{inspection_id}")
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_runs"] == 1
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=60)
    assert final["state"] == "cancelled", final
    result = client.get(f"/inspections/{inspection_id}/runs/0/result").json()
    assert result["cancelled"] is True  # the runner saw SLURM's SIGTERM and recorded it


def test_a100_is_refused_naming_it(client: httpx.Client, testbed: Any) -> None:
    response = client.post(
        "/inspections",
        json={
            "base": "host",
            "script": "true",
            "testbed": NAME,
            "run": {"requests": {"hardware": "A100:1"}},
        },
    )
    assert response.status_code == 422, response.text
    assert "A100" in response.json()["detail"]


def test_wrong_host_key_is_refused(admin: httpx.Client, sshd: Sshd, testbed: Any) -> None:
    wrong = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    created = (
        admin.post(
            "/testbeds",
            json={
                "name": "slurm-wrong-key",
                "kind": "slurm",
                "config": _config(sshd.port, wrong),
                "credentials": _private_key(),
            },
        )
        .raise_for_status()
        .json()
    )
    try:
        body = _wait_testbed(admin, created["id"], "offline")
        assert "host key" in body["state_reason"] and "does not match" in body["state_reason"]
    finally:
        admin.delete(f"/testbeds/{created['id']}")


def test_bad_config_names_the_field(admin: httpx.Client) -> None:
    response = admin.post(
        "/testbeds",
        json={
            "name": "slurm-bad",
            "kind": "slurm",
            "config": {"host": "x", "user": "u", "port": 0},
        },
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("config.port")


def test_sshd_outage_loses_no_run(
    stack: Stack, client: httpx.Client, admin: httpx.Client, sshd: Sshd, testbed: Any
) -> None:
    # Two runs for the two H100s: a third would wait in Tessera's queue, not in SLURM's.
    inspection_id = _inspect(client, "H100:1", batch=2, nap=4)
    stack.wait(
        client,
        f"/inspections/{inspection_id}/runs",
        done=lambda body: (
            len(body["items"]) == 2
            and all(r["state"] in ("placed", "running") for r in body["items"])
        ),
        timeout=60,
    )
    sshd.stop()
    try:
        down = _wait_testbed(admin, testbed["id"], "offline", timeout=30)
        assert "unreachable" in down["state_reason"], down
        # Long enough for the runs to end on the cluster and to pass TESSERA_LOST_AFTER_S.
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            runs = client.get(f"/inspections/{inspection_id}/runs").json()["items"]
            assert all(r["state"] in ("placed", "running") for r in runs), runs
            time.sleep(0.5)
    finally:
        sshd.start()
    final = stack.wait(client, f"/inspections/{inspection_id}", timeout=90)
    assert final["state"] == "succeeded", final
    _wait_testbed(admin, testbed["id"], "online", timeout=60)


def test_killed_placement_redelivered_makes_one_job(stack: Stack, testbed: Any) -> None:
    """A placer killed at several points, then the placement done again: exactly one job."""
    from shared.db.models import Node, Testbed
    from shared.db.session import process_sessions
    from shared.testbeds.slurm.connector import SlurmConnector

    with process_sessions(stack.env["TESSERA_DATABASE_URL"])() as session:
        row = session.get(Testbed, uuid.UUID(testbed["id"]))
        assert row is not None
        found = session.query(Node).filter(Node.testbed_id == row.id).one()
        node, inventory = found.name, found.inventory
        session.expunge_all()
    connector = SlurmConnector()
    # Killed once connected, from before the remote command to after sbatch has answered.
    for delay in (0.0, 0.005, 0.015, 0.05):
        run_id = uuid.uuid4()
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-c", PLACE, testbed["id"], str(run_id)],
            env=stack.env | {"PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        time.sleep(delay)
        child.kill()
        child.wait()
        first = connector.place(row, node, run_id, HELD, inventory)
        second = connector.place(row, node, run_id, HELD, inventory)
        assert first == second and first.isdigit(), (first, second)
        listed = subprocess.run(
            ["squeue", "-h", "-t", "all", f"--name=tessera-{run_id}", "-o", "%i"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert listed.stdout.split() == [first], (delay, listed.stdout)
        subprocess.run(["scancel", first], check=True)
        print(f"delay {delay}: {time.monotonic() - started:.2f} s")


HELD = Job(argv=["true"], env={}, hardware=parse_spec("H100:1"), timeout_s=60, cpu=1.0)
# Places a run's job as a deployer would; the test kills it part way.
PLACE = """
import sys, uuid
from shared.config import get_settings
from shared.db.models import Node, Testbed
from shared.db.session import process_sessions
from shared.hardware import parse_spec
from shared.testbeds.base import Job
from shared.testbeds.slurm.connector import SlurmConnector
with process_sessions(get_settings().db_url)() as session:
    testbed = session.get(Testbed, uuid.UUID(sys.argv[1]))
    found = session.query(Node).filter(Node.testbed_id == testbed.id).one()
    node, inventory = found.name, found.inventory
    session.expunge_all()
job = Job(argv=["true"], env={}, hardware=parse_spec("H100:1"), timeout_s=60, cpu=1.0)
connector = SlurmConnector()
target = connector.target(testbed)
connector.lib(target, connector.base(testbed, target))
print("ready", flush=True)
print(connector.place(testbed, node, uuid.UUID(sys.argv[2]), job, inventory))
"""


def test_a_runs_partition_and_reservation_are_its_own_and_checked(
    stack: Stack, client: httpx.Client, admin: httpx.Client, testbed: Any
) -> None:
    """`run.requests.slurm` picks the partition and reservation of one run; a name the
    refresh did not find is refused naming the field, before anything is sent."""
    from shared.db.models import Node
    from shared.db.session import process_sessions

    def inspect(slurm: dict[str, str]) -> httpx.Response:
        return client.post(
            "/inspections",
            json={"base": "host", "script": GPU_SCRIPT, "testbed": NAME,
                  "run": {"requests": {"cpu": 1, "memory": "128MiB", "slurm": slurm}}},
        )  # fmt: skip

    refused = inspect({"partition": "nope"})
    assert refused.status_code == 422, refused.text
    assert "run.requests.slurm.partition" in refused.text and "debug" in refused.text
    assert inspect({"reservation": "tessera-res"}).status_code == 422  # none made yet
    subprocess.run(
        ["scontrol", "create", "reservation", "ReservationName=tessera-res", "StartTime=now",
         "Duration=30", f"Users={USER}", "Nodes=ALL", "Flags=IGNORE_JOBS"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # the next refresh lists it
            admin.post(f"/testbeds/{testbed['id']}/refresh").raise_for_status()
            time.sleep(1)
            with process_sessions(stack.env["TESSERA_DATABASE_URL"])() as session:
                node = session.query(Node).filter(Node.testbed_id == uuid.UUID(testbed["id"])).one()
                if "tessera-res" in (node.inventory["slurm"].get("reservations") or []):
                    break
            assert time.monotonic() < deadline, node.inventory["slurm"]
        time.sleep(1)  # the API's inventory cache
        created = inspect({"partition": "debug", "reservation": "tessera-res"})
        assert created.status_code == 202, created.text
        inspection_id = created.json()["inspection_id"]
        final = stack.wait(client, f"/inspections/{inspection_id}", timeout=90)
        assert final["state"] == "succeeded", final
        result = client.get(f"/inspections/{inspection_id}/runs/0/result").json()
        script = _sbatch_of(result["hwinfo"]["scheduler"]["job"]["job_id"])
        assert "--partition=debug" in script and "--reservation=tessera-res" in script, script
    finally:
        subprocess.run(["scontrol", "delete", "ReservationName=tessera-res"], check=False)
