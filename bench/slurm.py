"""SLURM benchmark against the test cluster of scripts/slurm.sh, all in one run.

Run from the repository root as `.venv/bin/python bench/slurm.py` (`make bench`). Prints
`name=value` lines on stdout, the rest on stderr:

- slurm_submit_rps: placements through Tessera's SlurmConnector.place (one persistent SSH
  connection; each placement writes the run's folder and submits, in one remote command),
  from 4 threads as the deployer runs them (`--pool threads -c 4`)
- slurm_submit_rps_sequential: the same from one thread
- slurm_local_sbatch_rps: `sbatch --parsable --wrap=true` on the host, one after another
- slurm_naive_ssh_rps: one `ssh host sbatch ...` per job (a new connection each, as ALDE does)
- slurm_submit_ratio: slurm_submit_rps / slurm_local_sbatch_rps
- slurm_monitor_cycle_s, slurm_monitor_remote_calls: one SlurmConnector.observe of 1000
  tracked jobs held with --hold

While it runs the partition is set DOWN so that no submitted job starts (they queue with
reason PartitionDown); it is set UP again and every job it made is cancelled at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATE = Path(os.environ.get("TESSERA_SLURM_STATE", "/var/lib/tessera-slurm"))
PORT = int(os.environ.get("TESSERA_TEST_SSH_PORT", "2222"))
USER = os.environ.get("TESSERA_TEST_SSH_USER", "tessera-ci")
SUBMITS = int(os.environ.get("BENCH_SLURM_SUBMITS", "200"))
NAIVE = int(os.environ.get("BENCH_SLURM_NAIVE", "30"))
TRACKED = int(os.environ.get("BENCH_SLURM_TRACKED", "1000"))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sh(command: str) -> str:
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
    return done.stdout


def partition(state: str) -> None:
    sh(f"scontrol update PartitionName=debug State={state}")


def main() -> int:
    subprocess.run([str(ROOT / "scripts" / "slurm.sh")], check=True, stdout=sys.stderr)
    home = tempfile.mkdtemp(prefix="tessera-bench-slurm-")
    os.environ["TESSERA_HOME"] = home
    os.environ.pop("TESSERA_DATABASE_URL", None)
    from services.monitor.inventory import store
    from shared import secrets
    from shared.config import get_settings
    from shared.db.migrate import upgrade
    from shared.db.models import Node, Testbed
    from shared.db.session import process_sessions, unit_of_work
    from shared.hardware import parse_spec
    from shared.testbeds.base import Job, Tracked
    from shared.testbeds.slurm.connector import SlurmConnector

    settings = get_settings()
    upgrade(settings.db_url)
    connector = SlurmConnector()
    factory = process_sessions(settings.db_url)
    with unit_of_work(factory) as session:
        testbed = Testbed(
            id=uuid.uuid4(),
            name="bench",
            kind="slurm",
            config={
                "host": "127.0.0.1",
                "port": PORT,
                "user": USER,
                "host_key": (STATE / "ssh" / "host_ed25519_key.pub").read_text().strip(),
                "gres_types": {"H100": "h100"},
                "accounting": "jobcomp",
                "work_dir": ".tessera-bench",
            },
            credentials=secrets.encrypt((STATE / "ssh" / "id_ed25519").read_text()),
        )
        session.add(testbed)
    found = connector.refresh(testbed, {})
    assert found.offline is None, found.offline
    with unit_of_work(factory) as session:
        store(session, testbed.id, found)
        row = session.get(Testbed, testbed.id)
        assert row is not None
        assert row.state == "online", row.state_reason
        node_inventory = session.query(Node.inventory).filter(Node.testbed_id == row.id).scalar()
    node = sh("hostname -s").strip()
    job = Job(
        argv=[],
        env={"PATH": "/usr/bin:/bin"},
        script=("script", b"#!/bin/sh\necho hi\n"),
        hardware=parse_spec("H100:1"),
        cpu=1,
        memory=128 * 2**20,
        timeout_s=60,
    )
    key = STATE / "ssh" / "id_ed25519"
    made: list[str] = []  # every job this benchmark submitted, cancelled at the end

    def place(_: object = None) -> None:
        made.append(connector.place(testbed, node, uuid.uuid4(), job, node_inventory))

    partition("DOWN")
    try:
        place()  # warm: connection, shell, lib upload

        started = time.monotonic()
        for _ in range(SUBMITS):
            place()
        sequential = SUBMITS / (time.monotonic() - started)

        started = time.monotonic()
        with ThreadPoolExecutor(4) as threads:
            list(threads.map(place, range(SUBMITS)))
        threaded = SUBMITS / (time.monotonic() - started)

        started = time.monotonic()
        one = "sbatch --parsable -J bench-local -o /dev/null --wrap=true >/dev/null"
        sh(f"for i in $(seq {SUBMITS}); do {one}; done")
        local = SUBMITS / (time.monotonic() - started)

        started = time.monotonic()
        for _ in range(NAIVE):
            sh(
                f"ssh -i {key} -p {PORT} -o BatchMode=yes -o StrictHostKeyChecking=no "
                f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR {USER}@127.0.0.1 "
                "sbatch --parsable -J bench-naive -o /dev/null --wrap=true"
            )
        naive = NAIVE / (time.monotonic() - started)

        log(f"submitting {TRACKED} held jobs")
        ids = sh(
            f"su {USER} -c 'for i in $(seq {TRACKED}); do "
            "sbatch --parsable --hold -J bench-held -o /dev/null --wrap=true; done'"
        ).split()
        made += ids
        tracked = [Tracked(uuid.uuid4(), job_id, node) for job_id in ids]
        connector.observe(testbed, tracked[:10])  # warm
        calls = connector.ssh.remote_calls
        started = time.monotonic()
        seen = connector.observe(testbed, tracked)
        cycle = time.monotonic() - started
        calls = connector.ssh.remote_calls - calls
        pending = sum(1 for o in seen.values() if o.state == "pending")
        log(f"observed {len(seen)} runs, {pending} pending ({next(iter(seen.values())).reason})")
    finally:
        # Cancelled before the partition is up again, so that none of them starts.
        for start in range(0, len(made), 500):
            sh("scancel " + " ".join(j for j in made[start : start + 500] if j.isdigit()))
        sh("scancel -n bench-local; scancel -n bench-naive")
        partition("UP")

    print(f"slurm_submit_rps={threaded:.1f}")
    print(f"slurm_submit_rps_sequential={sequential:.1f}")
    print(f"slurm_local_sbatch_rps={local:.1f}")
    print(f"slurm_naive_ssh_rps={naive:.1f}")
    print(f"slurm_submit_ratio={threaded / local:.2f}")
    print(f"slurm_monitor_cycle_s={cycle:.3f}")
    print(f"slurm_monitor_remote_calls={calls}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
