"""Pure pieces of SLURM monitoring: the one command per cycle, and reading what it printed."""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Mapping
from typing import Any

from shared.testbeds import slurm_parse
from shared.testbeds.base import Observation

SECTION = "__tessera_section__"


def sections(text: str) -> list[str]:
    """The parts of a combined command's output, split at `echo SECTION` lines."""
    return text.split(SECTION + "\n")


def observe_command(base: str, jobs: Mapping[uuid.UUID, str], accounting: str) -> str:
    """One squeue (the account's jobs); one sacct for the jobs squeue no longer lists (ended
    more than MinJobAge ago), skipped when there are none; then which folders hold status.json."""
    ids = sorted({j for j in jobs.values() if j})
    runs = " ".join(str(run_id) for run_id in jobs)
    sacct = "sacct -c" if accounting == "jobcomp" else "sacct -X"
    fmt, fields = shlex.quote(slurm_parse.SQUEUE_FORMAT), slurm_parse.SACCT_FIELDS
    return (
        # All of the account's jobs: squeue's own -j filter costs ~5x more for 1000 ids.
        f"__q=$(squeue -h -t all --me -o {fmt} 2>/dev/null); "
        '[ -n "$__q" ] && printf \'%s\\n\' "$__q"; '
        # Which ids squeue did not list, with bash builtins only (no process per job).
        "unset __seen; declare -A __seen; __m=; "
        "while IFS='|' read -r __id __rest; do __seen[$__id]=1; done <<< \"$__q\"; "
        f"for __id in {' '.join(ids)}; do "
        '[ -n "${__seen[$__id]}" ] || __m="$__m,$__id"; done; '
        f"echo {SECTION}; "
        f'[ -n "$__m" ] && {sacct} -n -P -j "${{__m#,}}" -o {fields} 2>/dev/null; '
        f"echo {SECTION}; "
        f"cd {shlex.quote(base)}/runs 2>/dev/null && {{ "
        f'for d in {runs}; do [ -e "$d/status.json" ] && echo "E $d"; done; '
        f"stat -c '%s %n' -- " + " ".join(f"{r}/log" for r in jobs) + " 2>/dev/null; }; true"
    )


def read_observation(
    jobs: Mapping[uuid.UUID, str],
    queue: dict[str, slurm_parse.JobState],
    accounting: dict[str, slurm_parse.JobState],
    files_text: str,
) -> dict[uuid.UUID, tuple[Observation, slurm_parse.JobState | None, int | None]]:
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
            phase = slurm_parse.job_phase(job.state)
            reason = slurm_parse.pending_reason(job)
            if phase == "unknown":
                observation = Observation("running", start, f"SLURM: {job.state}")
            else:
                observation = Observation(phase, start if phase != "pending" else None, reason)
        seen[run_id] = (observation, job, size)
    return seen


def ended_without_runner(
    job: slurm_parse.JobState | None, slurm_out: bytes | None
) -> dict[str, Any]:
    """A status for a job that ended before its runner wrote one (cancelled, timed out...)."""
    state = job.state if job else "UNKNOWN"
    code, signal = slurm_parse.exit_status(job.exit_code if job else None)
    tail = (slurm_out or b"")[-400:].decode(errors="replace").strip()
    reason = slurm_parse.END_REASONS.get(state, f"the SLURM job ended in state {state}")
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
        name: fields[key]
        for key, name in keep.items()
        if key in fields and fields[key] not in slurm_parse.NULL
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
