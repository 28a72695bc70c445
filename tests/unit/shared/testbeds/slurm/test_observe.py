"""Monitoring SLURM runs: one command for all runs, and how its output reads."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from shared.config import Settings
from shared.testbeds.base import Observation
from shared.testbeds.slurm import nodes, parse, render

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "slurm"
ROOT = Path(__file__).resolve().parents[5]
RUNS = [uuid.UUID(int=i) for i in range(1, 9)]


def test_one_command_for_every_run() -> None:
    jobs = {run: str(100 + i) for i, run in enumerate(RUNS)}
    command = render.observe_command("/home/u/.tessera", jobs, "jobcomp")
    assert command.count("squeue ") == 1 and command.count("sacct ") == 1
    assert "squeue -h -t all --me" in command
    assert "for __id in 100 101 102 103 104 105 106 107;" in command
    assert "sacct -c" in command and str(RUNS[-1]) in command
    assert "sacct -X" in render.observe_command("/b", jobs, "slurmdbd")
    # The same command reads the nodes as SLURM allocated them, for placement.
    assert command.count("scontrol show node -d -o") == 1


def test_observations_from_real_queue_output() -> None:
    queue = parse.parse_squeue((FIXTURES / "squeue_local.txt").read_text())
    jobs = {RUNS[0]: "41", RUNS[1]: "42", RUNS[2]: "43", RUNS[3]: "39", RUNS[4]: "99999"}
    files = f"E {RUNS[3]}\n120 {RUNS[1]}/log\n"
    seen = parse.read_observation(jobs, queue, {}, files)
    assert seen[RUNS[0]][0] == Observation("pending", None, "SLURM: PENDING (JobHeldUser)")
    assert seen[RUNS[1]][0] == Observation("running", "2026-11-22T02:06:33", None)
    assert seen[RUNS[1]][2] == 120
    assert seen[RUNS[2]][0].reason == "SLURM: PENDING (Resources)"
    assert seen[RUNS[3]][0].state == "ended"  # status.json is there
    assert seen[RUNS[4]][0].state == "gone"  # in neither squeue nor sacct


def test_ended_jobs_found_only_in_accounting() -> None:
    accounting = parse.parse_sacct((FIXTURES / "sacct_local.txt").read_text())
    timed_out = next(j for j in accounting.values() if j.state == "TIMEOUT")
    seen = parse.read_observation({RUNS[0]: timed_out.job_id}, {}, accounting, "")
    observation, job, _ = seen[RUNS[0]]
    assert observation.state == "ended"
    status = parse.ended_without_runner(
        job, b"slurmstepd: error: *** JOB 44 CANCELLED DUE TO TIME LIMIT ***\n"
    )
    assert status["timed_out"] is True and status["error"] is None


def test_ended_without_runner_names_the_state() -> None:
    status = parse.ended_without_runner(parse.JobState("7", "NODE_FAIL", exit_code="0:9"), b"")
    assert status["error"] == "the SLURM job's node failed"
    assert status["exit_code"] == 0 and status["signal"] == "signal 9"
    oom = parse.ended_without_runner(parse.JobState("7", "OUT_OF_MEMORY"), b"oom-kill event")
    assert oom["error"] == "the SLURM job ran out of memory: oom-kill event"
    assert parse.ended_without_runner(None, None)["error"].startswith(
        "the SLURM job ended in state"
    )


def test_job_summary_keeps_the_gres() -> None:
    # Written by a run's sbatch script from inside its running job.
    fields = parse.fields((FIXTURES / "scontrol_show_job_running.txt").read_text())
    summary = parse.job_summary(fields)
    assert summary["gres"] == "gpu:h100:1"
    assert summary["job_id"] == "34" and summary["partition"] == "debug"
    assert summary["nodes"] == "vm" and "account" not in summary  # (null) dropped


def test_sacct_only_for_jobs_squeue_no_longer_lists(tmp_path: Path) -> None:
    """Run by a real bash against the cluster of scripts/slurm.sh."""
    subprocess.run([str(ROOT / "scripts" / "slurm.sh")], check=True, capture_output=True)
    held = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--hold",
            "-J",
            "tessera-test-held",
            "-o",
            "/dev/null",
            "--wrap=true",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        (tmp_path / "runs" / str(RUNS[0])).mkdir(parents=True)
        only_held = render.observe_command(str(tmp_path), {RUNS[0]: held}, "jobcomp")
        text = subprocess.run(["bash", "-c", only_held], capture_output=True, text=True).stdout
        queue, accounting, _, node_text = parse.sections(text)
        assert f"{held}|PENDING|JobHeldUser|" in queue and accounting == ""
        # The same command reads the nodes as SLURM allocated them (GresUsed, from -d).
        usage = nodes.usage(node_text, parse.parse_squeue(queue))
        assert len(usage) == 1 and len(next(iter(usage.values()))) == 1
        both = render.observe_command(str(tmp_path), {RUNS[0]: held, RUNS[1]: "1"}, "jobcomp")
        text = subprocess.run(["bash", "-c", both], capture_output=True, text=True).stdout
        assert set(parse.parse_sacct(parse.sections(text)[1])) <= {"1"}  # asked about job 1 only
    finally:
        subprocess.run(["scancel", held], check=True)


class _Pool:
    """The SSH pool, answering the monitor's one command with captures of the test cluster:
    the account's squeue (a Tessera job holding one H100) and the nodes (both H100s held)."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def run(self, target: object, command: str, timeout: float = 30.0) -> object:
        from shared.remote import ssh

        self.commands.append(command)
        if command.startswith("printf"):
            return ssh.Result(0, b"/home/u", b"")
        queue = (FIXTURES / "squeue_me_shared.txt").read_bytes()
        node = (FIXTURES / "scontrol_show_node_d_shared.txt").read_bytes()
        section = f"{parse.SECTION}\n".encode()
        return ssh.Result(0, queue + section + section + section + node, b"")


def test_the_monitor_call_carries_what_other_work_holds(settings: Settings) -> None:
    from shared.db.models import Testbed
    from shared.secrets import encrypt
    from shared.testbeds.base import Observations, Tracked
    from shared.testbeds.slurm.connector import SlurmConnector

    pool = _Pool()
    connector = SlurmConnector(pool)  # type: ignore[arg-type]
    config = {"host": "login", "user": "u", "host_key": "ssh-ed25519 " + "A" * 68}
    testbed = Testbed(name="lab", kind="slurm", config=config, credentials=encrypt("key"))
    (job,) = parse.parse_squeue((FIXTURES / "squeue_me_shared.txt").read_text()).values()
    run = uuid.UUID((job.name or "").removeprefix("tessera-"))
    seen = connector.observe(testbed, [Tracked(run, job.job_id, "vm")])
    assert isinstance(seen, Observations) and seen[run].state == "running"
    assert seen.held_by_others == {"vm": (1,)}  # two held, one of them Tessera's own
    assert sum(1 for c in pool.commands if not c.startswith("printf")) == 1  # one per cycle
