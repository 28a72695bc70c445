"""Pure parsers of SLURM's text output: scontrol show node/job -o, sinfo, squeue, sacct."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MiB = 1024 * 1024

# A key starts a field when it follows whitespace: values such as OS=Linux 6.1 #1 SMP hold spaces.
_FIELD_RE = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=")
_GRES_RE = re.compile(
    r"(?P<name>[A-Za-z0-9_.-]+)"
    r"(?::(?P<type>[A-Za-z0-9_.-]+?))??"
    r"(?::(?P<count>[0-9]+[KMGTP]?))?"
    r"(?:\((?P<where>[^)]*)\))?"
    r"(?:,|$)"
)
_MULTIPLIERS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
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


@dataclass(frozen=True)
class Gres:
    """One generic resource of a node: `gpu:h100:4(S:0-1)` is name gpu, type h100, count 4."""

    name: str
    type: str | None
    count: int
    sockets: str | None = None


def parse_gres(text: str) -> list[Gres]:
    """A node's Gres= (or sinfo %G) value: several entries, types, counts, socket suffixes."""
    text = text.strip()
    if text in NULL:
        return []
    found = []
    for match in _GRES_RE.finditer(text):
        if not match.group(0):
            continue
        count_text = match.group("count")
        gres_type = match.group("type")
        if count_text is None and gres_type is not None and gres_type.isdigit():
            # `gpu:2`: the lazy type group took the count
            count_text, gres_type = gres_type, None
        count = 1
        if count_text:
            count = int(count_text.rstrip("KMGTP")) * _MULTIPLIERS[count_text.lstrip("0123456789")]
        where = match.group("where")
        sockets = where[2:] if where and where.startswith("S:") else None
        found.append(Gres(match.group("name"), gres_type, count, sockets))
    return found


def _split_gres_entries(text: str) -> list[str]:
    """Commas inside `(S:0,2)` belong to the entry, not to the list."""
    entries, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            entries.append(current)
            current = ""
        else:
            current += char
    return [*entries, current] if current else entries


def gres_list(text: str) -> list[Gres]:
    """parse_gres over entries split at top-level commas."""
    return [g for entry in _split_gres_entries(text.strip()) for g in parse_gres(entry)]


# Node states in which the node takes work (flags such as DRAIN or NOT_RESPONDING stop it).
_USABLE = {"IDLE", "MIXED", "ALLOCATED", "COMPLETING", "PLANNED"}
_BLOCKING_FLAGS = {
    "DRAIN",
    "DRAINED",
    "DRAINING",
    "DOWN",
    "FAIL",
    "FAILING",
    "NOT_RESPONDING",
    "MAINTENANCE",
    "MAINT",
    "REBOOT_ISSUED",
    "REBOOT_REQUESTED",
    "POWERED_DOWN",
    "POWER_DOWN",
    "POWERING_DOWN",
    "INVALID_REG",
    "FUTURE",
    "INVAL",
}


def node_online(state: str) -> bool:
    """Whether a node in this scontrol state (IDLE, MIXED+DRAIN, DOWN*...) can take runs."""
    state = state.strip().upper()
    if state.endswith(("*", "%")):
        return False  # sinfo/scontrol suffixes: not responding, powering down
    parts = state.rstrip("~#!$@^-").replace("+", " ").split()
    if not parts:
        return False
    return parts[0] in _USABLE and not (_BLOCKING_FLAGS & set(parts[1:]))


@dataclass(frozen=True)
class SlurmNode:
    name: str
    arch: str | None
    cpus: int | None
    memory_bytes: int | None
    gres: tuple[Gres, ...]
    features: tuple[str, ...]
    state: str
    reason: str | None
    partitions: tuple[str, ...]

    @property
    def online(self) -> bool:
        return node_online(self.state)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _words(value: str | None) -> tuple[str, ...]:
    if value is None or value in NULL:
        return ()
    return tuple(word for word in value.split(",") if word)


def parse_nodes(text: str) -> list[SlurmNode]:
    """`scontrol show node -o`: one node per line."""
    nodes = []
    for record in records(text):
        if "NodeName" not in record:
            continue
        memory = _int(record.get("RealMemory"))
        reason = record.get("Reason")
        nodes.append(
            SlurmNode(
                name=record["NodeName"],
                arch=None if record.get("Arch") in NULL else record.get("Arch"),
                cpus=_int(record.get("CPUTot")) or _int(record.get("CPUEfctv")),
                memory_bytes=memory * MiB if memory else None,
                gres=tuple(gres_list(record.get("Gres", ""))),
                features=_words(record.get("AvailableFeatures")),
                state=record.get("State", "UNKNOWN"),
                reason=None if reason in NULL else reason,
                partitions=_words(record.get("Partitions")),
            )
        )
    return nodes


@dataclass(frozen=True)
class SinfoRow:
    node: str
    partition: str
    default: bool
    state: str
    reason: str | None


SINFO_FORMAT = "%N|%P|%T|%c|%m|%f|%G|%E"


def parse_sinfo(text: str) -> list[SinfoRow]:
    """`sinfo -h -N -o '%N|%P|%T|%c|%m|%f|%G|%E'`: one row per node and partition."""
    rows = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 8:
            continue
        partition = parts[1]
        reason = parts[7].strip()
        rows.append(
            SinfoRow(
                node=parts[0],
                partition=partition.rstrip("*"),
                default=partition.endswith("*"),
                state=parts[2],
                reason=None if reason in (*NULL, "none") else reason,
            )
        )
    return rows


@dataclass(frozen=True)
class JobState:
    """A job as squeue or sacct reports it."""

    job_id: str
    state: str
    reason: str | None = None
    start: str | None = None
    exit_code: str | None = None
    name: str | None = None


SQUEUE_FORMAT = "%i|%T|%r|%S|%j"


def parse_squeue(text: str) -> dict[str, JobState]:
    """`squeue -h -t all -o '%i|%T|%r|%S|%j'` by job id."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 5 or not parts[0]:
            continue
        reason, start = parts[2], parts[3]
        jobs[parts[0]] = JobState(
            job_id=parts[0],
            state=parts[1].upper(),
            reason=None if reason in NULL else reason,
            start=None if start in NULL else start,
            name=parts[4],
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
    return _int(code), _int(signal)
