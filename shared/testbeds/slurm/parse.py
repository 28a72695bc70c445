"""Pure: what SLURM prints about jobs (squeue, sacct, scontrol show job) read as observations.

The record readers (`fields`, `records`) serve nodes.py too."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.testbeds.base import Observation

# A key starts a field when it follows whitespace: values such as OS=Linux 6.1 #1 SMP hold spaces.
_FIELD_RE = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=")
NULL = ("", "(null)", "N/A", "None", "n/a")


def fields(line: str) -> dict[str, str]:
    """`Key=Value Key2=Value with spaces` as a dict (one record of `scontrol show ... -o`)."""
    found = list(_FIELD_RE.finditer(line))
    record: dict[str, str] = {}
    if not found:
        return record  # "=" alone, or text with no Key= at all
    for here, after in zip(found, [*found[1:], None], strict=True):
        end = after.start() if after is not None else len(line)
        record[here.group(1)] = line[here.end() : end].strip()
    return record


def records(text: str) -> list[dict[str, str]]:
    """The records of `scontrol show node|job`: one per line with -o, else indented blocks."""
    found, current = [], ""
    for line in text.splitlines():
        if line[:1].isspace() and current and line.strip():
            current += " " + line.strip()
            continue
        if "=" in current:
            found.append(fields(current))
        current = line
    if "=" in current:
        found.append(fields(current))
    return found


SECTION = "__tessera_section__"


def integer(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def sections(text: str) -> list[str]:
    """The parts of a combined command's output, split at `echo SECTION` lines."""
    return text.split(SECTION + "\n")


# What a refresh prints where sacctmgr or scontrol cannot say (no slurmdbd, no permission).
UNREADABLE = "__tessera_unreadable__"


def allowed(association_text: str, reservation_text: str) -> dict[str, list[str] | None]:
    """What runs may ask of the cluster, from a refresh: the accounts and qos of the user's
    associations (`sacctmgr -n -P show assoc format=account,qos`: `account|qos,qos`) and the
    reservations (`scontrol show reservation -o`); None where SLURM could not say (then
    sbatch is the judge)."""
    found: dict[str, list[str] | None] = {"accounts": None, "qos": None, "reservations": None}
    if UNREADABLE not in association_text:
        accounts: dict[str, None] = {}
        qos: dict[str, None] = {}
        for line in association_text.splitlines():
            account, _, names = line.strip().partition("|")
            if account:
                accounts[account] = None
            qos.update((name, None) for name in names.split(",") if name)
        if accounts:  # a user without associations on a cluster with accounting: unknown
            found["accounts"], found["qos"] = list(accounts), list(qos)
    if UNREADABLE not in reservation_text:
        found["reservations"] = [
            record["ReservationName"]
            for record in records(reservation_text)
            if record.get("ReservationName")
        ]
    return found


@dataclass(frozen=True)
class JobState:
    """A job as squeue or sacct reports it."""

    job_id: str
    state: str
    reason: str | None = None
    start: str | None = None
    exit_code: str | None = None
    name: str | None = None
    node: str | None = None  # where it runs (Tessera's jobs take one node)
    gres: str | None = None  # what it asks per node: `gres:gpu:h100:1` (squeue's %b)


SQUEUE_FORMAT = "%i|%T|%r|%S|%j|%N|%b"


def parse_squeue(text: str) -> dict[str, JobState]:
    """`squeue -h -t all -o '%i|%T|%r|%S|%j|%N|%b'` by job id (the last two may be absent)."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 5 or not parts[0]:
            continue
        reason, start = parts[2], parts[3]
        node, gres = (parts[5:7] + ["", ""])[:2]
        jobs[parts[0]] = JobState(
            job_id=parts[0],
            state=parts[1].upper(),
            reason=None if reason in NULL else reason,
            start=None if start in NULL else start,
            name=parts[4],
            node=None if node in NULL else node,
            gres=None if gres in NULL else gres,
        )
    return jobs


SACCT_FIELDS = "JobID,State,ExitCode,Start,End,JobName"


def parse_sacct(text: str) -> dict[str, JobState]:
    """`sacct -n -P -o JobID,State,ExitCode,Start,End,JobName` by job id (steps dropped)."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 6 or not parts[0] or "." in parts[0]:
            continue
        # slurmdbd writes "CANCELLED by 1001"; the word is the state
        state = parts[1].split()[0].upper() if parts[1].strip() else "UNKNOWN"
        start = parts[3]
        jobs[parts[0]] = JobState(
            job_id=parts[0],
            state=state,
            start=None if start in (*NULL, "Unknown") else start,
            exit_code=parts[2] or None,
            name=parts[5],
        )
    return jobs


# How each SLURM job state reads to the monitor.
PENDING_STATES = frozenset(
    {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING"}
)
RUNNING_STATES = frozenset(
    {"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT"}
)
ENDED_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)
# Why a job ended before its runner could record an end, in words.
END_REASONS: Mapping[str, str] = {
    "COMPLETED": "the SLURM job completed without the runner recording an end",
    "FAILED": "the SLURM job failed before the runner recorded an end",
    "CANCELLED": "the SLURM job was cancelled",
    "TIMEOUT": "the SLURM job hit its time limit",
    "NODE_FAIL": "the SLURM job's node failed",
    "PREEMPTED": "the SLURM job was preempted",
    "OUT_OF_MEMORY": "the SLURM job ran out of memory",
    "BOOT_FAIL": "the SLURM job's node failed to boot",
    "DEADLINE": "the SLURM job missed its deadline",
    "REVOKED": "the SLURM job was revoked (federation)",
    "SPECIAL_EXIT": "the SLURM job ended in SPECIAL_EXIT",
}


def job_phase(state: str) -> str:
    """`pending`, `running` or `ended` for a SLURM job state; `unknown` for one never seen."""
    state = state.upper().split()[0] if state.strip() else ""
    if state in PENDING_STATES:
        return "pending"
    if state in RUNNING_STATES:
        return "running"
    if state in ENDED_STATES:
        return "ended"
    return "unknown"


def pending_reason(job: JobState) -> str | None:
    """What the monitor shows for a job that waits: `SLURM: PENDING (Resources)`."""
    if job.state == "SUSPENDED":
        return "SLURM: SUSPENDED"
    if job_phase(job.state) != "pending":
        return None
    return f"SLURM: {job.state}" + (f" ({job.reason})" if job.reason else "")


def exit_status(text: str | None) -> tuple[int | None, int | None]:
    """sacct's `3:0` ExitCode as (exit code, signal)."""
    if not text or ":" not in text:
        return None, None
    code, _, signal = text.partition(":")
    return integer(code), integer(signal)


def read_observation(
    jobs: Mapping[uuid.UUID, str],
    queue: dict[str, JobState],
    accounting: dict[str, JobState],
    files_text: str,
) -> dict[uuid.UUID, tuple[Observation, JobState | None, int | None]]:
    """Observations from squeue, sacct and the run folders (pure)."""
    ended: set[str] = set()
    sizes: dict[str, int] = {}
    for line in files_text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "E":
            ended.add(words[1])
        elif len(words) == 2 and words[0].isdigit() and words[1].endswith("/log"):
            sizes[words[1][: -len("/log")]] = int(words[0])
    seen = {}
    for run_id, job_id in jobs.items():
        job = queue.get(job_id or "") or accounting.get(job_id or "")
        size = sizes.get(str(run_id))
        start = job.start if job else None
        if str(run_id) in ended:
            observation = Observation("ended", start)
        elif job is None:
            observation = Observation("gone")
        else:
            phase = job_phase(job.state)
            reason = pending_reason(job)
            if phase == "unknown":
                observation = Observation("running", start, f"SLURM: {job.state}")
            else:
                observation = Observation(phase, start if phase != "pending" else None, reason)
        seen[run_id] = (observation, job, size)
    return seen


def ended_without_runner(job: JobState | None, slurm_out: bytes | None) -> dict[str, Any]:
    """A status for a job that ended before its runner wrote one (cancelled, timed out...)."""
    state = job.state if job else "UNKNOWN"
    code, signal = exit_status(job.exit_code if job else None)
    tail = (slurm_out or b"")[-400:].decode(errors="replace").strip()
    reason = END_REASONS.get(state, f"the SLURM job ended in state {state}")
    if tail:
        reason += f": {tail}"
    return {
        "exit_code": code,
        "signal": f"signal {signal}" if signal else None,
        "timed_out": state in ("TIMEOUT", "DEADLINE"),
        "cancelled": False,
        "error": None if state in ("TIMEOUT", "DEADLINE") else reason,
        "slurm_state": state,
    }


def job_summary(fields: dict[str, str]) -> dict[str, Any]:
    """What the result keeps of `scontrol show job -o`: id, gres, TRES, where it ran."""
    keep = {
        "JobId": "job_id",
        "JobName": "name",
        "Partition": "partition",
        "NodeList": "nodes",
        "TresPerNode": "gres",
        "TRES": "tres",
        "Features": "features",
        "Account": "account",
        "QOS": "qos",
        "NumCPUs": "cpus",
        "MinMemoryNode": "memory",
        "TimeLimit": "time_limit",
    }
    summary = {
        name: fields[key] for key, name in keep.items() if key in fields and fields[key] not in NULL
    }
    if "gres" in summary:
        summary["gres"] = summary["gres"].removeprefix("gres:")
    return summary


def json_object(data: bytes | None) -> dict[str, Any] | None:
    if not data:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
