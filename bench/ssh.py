"""SSH hosts benchmark against the two hosts of scripts/ssh-hosts.sh, all in one run.

Run from the repository root as `.venv/bin/python bench/ssh.py` (`make bench`). Prints
`name=value` lines on stdout, the rest on stderr:

- ssh_place_rps: placements through Tessera's SshConnector.place on one host (one persistent
  SSH connection; each writes the run's folder by SFTP, then one remote command claims and
  starts it), from 4 threads as the deployer runs them
- ssh_naive_rps: the same run started the way a script without a connection pool does it,
  a new `ssh host ...` process per placement, measured in the same run
- ssh_place_ratio: ssh_place_rps / ssh_naive_rps
- ssh_monitor_remote_calls, ssh_monitor_cycle_s: one SshConnector.observe of 200 active runs
  on one host (goal: one remote call per host per cycle)

The runs sleep, and are cancelled and removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATE = Path(os.environ.get("TESSERA_SSH_HOSTS_STATE", "/var/lib/tessera-ssh-hosts"))
PLACES = int(os.environ.get("BENCH_SSH_PLACES", "200"))
NAIVE = int(os.environ.get("BENCH_SSH_NAIVE", "30"))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    subprocess.run([str(ROOT / "scripts" / "ssh-hosts.sh")], check=True, stdout=sys.stderr)
    os.environ["TESSERA_HOME"] = tempfile.mkdtemp(prefix="tessera-bench-ssh-")
    from shared import secrets
    from shared.db.models import Testbed, utcnow
    from shared.testbeds.base import Job, Tracked
    from shared.testbeds.ssh.connector import SshConnector

    hosts = json.loads((STATE / "hosts.json").read_text())
    keep = ("name", "host", "port", "user", "host_key")
    work_dir = tempfile.mkdtemp(prefix="tessera-bench-ssh-hosts-")
    testbed = Testbed(
        id=uuid.uuid4(),
        name="bench-ssh",
        kind="ssh",
        config={"hosts": [{k: h[k] for k in keep} for h in hosts["hosts"]], "work_dir": work_dir},
        credentials=secrets.encrypt(Path(hosts["client_key"]).read_text()),
        state="online",
        refreshed_at=utcnow(),
    )
    connector = SshConnector()
    node = hosts["hosts"][1]["name"]  # the host without GPUs: nothing to wait for
    found = connector.refresh(testbed, {})
    inventory = {n.name: n.inventory for n in found.nodes}[node]
    job = Job(argv=["sleep", "600"], env={"PATH": "/usr/bin:/bin"}, timeout_s=900)
    placed: list[Tracked] = []

    def place(_: object = None) -> None:
        run_id = uuid.uuid4()
        placed.append(Tracked(run_id, connector.place(testbed, node, run_id, job, inventory), node))

    try:
        place()  # warm: connection, shells, lib upload
        started = time.monotonic()
        with ThreadPoolExecutor(4) as threads:
            list(threads.map(place, range(PLACES - 1)))
        threaded = (PLACES - 1) / (time.monotonic() - started)
        naive = _naive(hosts, node, work_dir)
        connector.observe(testbed, placed[:10])  # warm
        calls = connector.ssh.remote_calls
        started = time.monotonic()
        seen = connector.observe(testbed, placed)
        cycle = time.monotonic() - started
        calls = connector.ssh.remote_calls - calls
        states = sorted({o.state for o in seen.values()})
        log(f"observed {len(seen)} runs on {node}: {states}")
    finally:
        for run in placed:
            connector.cancel(testbed, run)
        time.sleep(1)
        shutil.rmtree(work_dir, ignore_errors=True)
    print(f"ssh_place_rps={threaded:.1f}")
    print(f"ssh_naive_rps={naive:.1f}")
    print(f"ssh_place_ratio={threaded / naive:.1f}")
    print(f"ssh_monitor_cycle_s={cycle:.3f}")
    print(f"ssh_monitor_remote_calls={calls}")
    return 0


def _naive(hosts: dict[str, object], node: str, work_dir: str) -> float:
    """A new ssh process per run: make its folder and start a detached `sleep` in it."""
    entry = next(h for h in hosts["hosts"] if h["name"] == node)  # type: ignore[attr-defined]
    ssh = [
        "ssh", "-i", str(hosts["client_key"]), "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={hosts['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
        "-o", "LogLevel=ERROR", f"root@{entry['host']}",
    ]  # fmt: skip
    started = time.monotonic()
    for _ in range(NAIVE):
        folder = f"{work_dir}/naive/{uuid.uuid4()}"
        remote = f"mkdir -p {folder} && cd {folder} && setsid sleep 1 </dev/null >log 2>&1 &"
        subprocess.run([*ssh, remote], check=True, capture_output=True)
    return NAIVE / (time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
