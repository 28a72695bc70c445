"""Render a run as an sbatch script and the one remote command that places it (pure functions).

Every user string is either quoted with shlex.quote, written into a file (scripts, files,
job.json) or refused; `#SBATCH` values are checked against a strict pattern because sbatch
reads them without a shell.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import shlex
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.hardware import HardwareSpec, model_matches
from shared.testbeds import containers
from shared.testbeds.base import Job, RenderError
from shared.testbeds.slurm import images, nodes, parse
from shared.testbeds.slurm.config import SAFE_VALUE
from shared.testbeds.slurm.parse import SECTION

# What sbatch options may hold: names of partitions, accounts, qos, gres types, features.
TIME_MARGIN_S = 120  # the runner enforces the run's timeout; SLURM's limit comes after it
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# The runtimes a SLURM job runs images with, the first a node offers taken: pyxis (srun's own
# --container-image, which hands the job's GPUs over itself), then the node's own tools.
CONTAINER_RUNTIMES = ("pyxis", "apptainer", "enroot", "podman")
INLINE_MAX_BYTES = 256 * 1024  # larger files go by SFTP
FILE_END = "TESSERA_FILE_END"  # cannot be a line of base64
# A claimed placement with no job yet may be inside sbatch (MessageTimeout is 10 s by default).
CLAIM_WAIT_S = 15
q = shlex.quote


def safe(value: str, what: str) -> str:
    if not SAFE_VALUE.match(value):
        raise RenderError(f"{what} {value!r} holds characters sbatch options may not carry")
    return value


def job_name(run_id: uuid.UUID) -> str:
    """The SLURM job name: the placement's idempotency key."""
    return f"tessera-{run_id}"


@dataclass(frozen=True)
class Cluster:
    """What rendering needs from the testbed's config and the chosen node's inventory."""

    base: str  # absolute folder of Tessera's files on the cluster
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gres_types: Mapping[str, str] = field(default_factory=dict)  # model -> gres type
    node_features: frozenset[str] = frozenset()
    node_gres_types: tuple[str, ...] = ()
    node_runtimes: frozenset[str] = frozenset()
    accounting: str = "slurmdbd"  # or "jobcomp": where sacct finds ended jobs
    gpu_vendor: str = "nvidia"  # whose GPUs the gpu gres are

    def run_dir(self, run_id: uuid.UUID) -> str:
        return f"{self.base}/runs/{run_id}"


def gres_type(model: str, cluster: Cluster) -> str | None:
    """The gres type of an accelerator model: the testbed's map first, then the node's types."""
    for known, gres in cluster.gres_types.items():
        if known.lower() == model.lower():
            return gres
    for candidate in cluster.node_gres_types:
        if model_matches(model, candidate.replace("_", " ")):
            return candidate
    return None


def gres_option(spec: HardwareSpec, cluster: Cluster) -> tuple[str | None, bool]:
    """`gpu:h100:1` (or `gpu:1`) for the spec's GPUs, and whether the node must be pinned."""
    parts, pin = [], False
    for accelerator in spec.accelerators:
        if accelerator.kind != "gpu":
            pin = True  # no standard gres name for FPGAs: the chosen node has them
            continue
        types = {gres_type(model, cluster) for model in accelerator.models}
        if len(types) == 1 and None not in types:
            parts.append(f"gpu:{safe(types.pop() or '', 'gres type')}:{accelerator.count}")
        else:
            parts.append(f"gpu:{accelerator.count}")
            pin = pin or bool(accelerator.models) or accelerator.vendor is not None
        pin = pin or accelerator.memory.bounded
    return (",".join(parts) or None), pin


def constraint_option(spec: HardwareSpec, cluster: Cluster) -> tuple[str | None, bool]:
    """`--constraint` from the spec's features and the CPU flags the cluster knows as features."""
    wanted = [safe(f, "feature") for f in spec.features]
    pin = False
    for flag in spec.cpu.flags:
        if flag in cluster.node_features:
            wanted.append(safe(flag, "cpu flag"))
        else:
            pin = True  # the probe saw the flag on the chosen node; SLURM cannot ask for it
    return ("&".join(dict.fromkeys(wanted)) or None), pin


def options(job: Job, run_id: uuid.UUID, node: str, cluster: Cluster) -> list[str]:
    """The `#SBATCH` options of the run, in a stable order."""
    folder = cluster.run_dir(run_id)
    found = [
        f"--job-name={job_name(run_id)}",
        f"--comment=tessera-run-{run_id}",
        f"--output={folder}.out",
        f"--error={folder}.out",
        # The run's folder is made by the job itself: the runs folder always exists.
        f"--chdir={cluster.base}/runs",
        "--nodes=1",
        "--ntasks=1",
    ]
    for option, value in (
        ("partition", job.slurm.get("partition") or cluster.partition),
        ("account", job.slurm.get("account") or cluster.account),
        ("qos", job.slurm.get("qos") or cluster.qos),
        ("reservation", job.slurm.get("reservation")),
    ):
        if value:
            found.append(f"--{option}={safe(value, option)}")
    spec = job.hardware
    gres, pin_gres = gres_option(spec, cluster)
    if gres:
        found.append(f"--gres={gres}")
    constraint, pin_flags = constraint_option(spec, cluster)
    if constraint:
        found.append(f"--constraint={constraint}")
    cpus = job.cpu if job.cpu is not None else spec.cpu.cores.min
    if cpus:
        found.append(f"--cpus-per-task={max(1, math.ceil(cpus))}")
    memory = job.memory if job.memory is not None else spec.memory.min
    if memory:
        found.append(f"--mem={max(1, math.ceil(memory / 2**20))}M")
    minutes = max(1, math.ceil((job.timeout_s + TIME_MARGIN_S) / 60))
    found.append(f"--time={minutes}")
    unexpressed = spec.cpu.model or spec.cpu.vendor or spec.cpu.arch or spec.labels
    if spec.node or pin_gres or pin_flags or unexpressed:
        found.append(f"--nodelist={safe(node, 'node')}")
    return found


def venv_dir(cluster: Cluster, requirements: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:16]
    return f"{cluster.base}/venvs/{digest}"


def script(
    job: Job, run_id: uuid.UUID, node: str, cluster: Cluster, lib: str, inline: bool = True
) -> str:
    """The sbatch script: it writes the run's folder, then runs the runner in it.

    The run's files travel inside the script as base64 (no user string is ever shell text);
    files over INLINE_MAX_BYTES, or all of them with inline=False, are uploaded beforehand.
    """
    folder = q(cluster.run_dir(run_id))
    files = [("job.in.json", json.dumps(runner_job(job, run_id, cluster)).encode(), False)]
    files += _payload(job)
    dirs = {"work", "tmp"}
    for path, _, _ in files:
        parts = path.split("/")[:-1]
        dirs |= {"/".join(parts[: i + 1]) for i in range(len(parts))}
    lines = ["#!/bin/bash"] + [f"#SBATCH {o}" for o in options(job, run_id, node, cluster)]
    lines += [
        f"mkdir -p {folder} && cd {folder} || exit 1",
        "mkdir -p -- " + " ".join(q(d) for d in sorted(dirs)) + " || exit 1",
    ]
    for path, content, _ in files:
        if inline and len(content) <= INLINE_MAX_BYTES:
            lines += [f"base64 -d > {q(path)} <<'{FILE_END}' || exit 1"]
            lines += [base64.encodebytes(content).decode().rstrip("\n"), FILE_END]
    executables = [path for path, _, executable in files if executable]
    if executables:
        lines.append("chmod 755 -- " + " ".join(q(p) for p in executables))
    lines += [
        f"cp {q(lib)}/runner.py {q(lib)}/hwinfo.py . || exit 1",
        # The job's gres and TRES as SLURM granted them, for the result.
        'scontrol show job -o "$SLURM_JOB_ID" > slurm_job.txt 2>&1',
    ]
    if job.python_requirements:
        venv = q(venv_dir(cluster, job.python_requirements))
        lines += [
            f"V={venv}",
            'if [ ! -x "$V/bin/python" ]; then',
            '  mkdir -p "$(dirname "$V")"',
            '  ( flock 9 && { [ -x "$V/bin/python" ] || { rm -rf "$V.tmp" &&'
            ' python3 -m venv "$V.tmp" && "$V.tmp/bin/pip" install -q -r requirements.txt'
            ' && mv "$V.tmp" "$V"; }; } ) 9>"$V.lock"'
            ' || { echo "venv build failed" >&2; exit 97; }',
            "fi",
        ]
    # SLURM's variables (job id, CUDA_VISIBLE_DEVICES...) join the run's own environment.
    lines += [
        'python3 -c \'import json,os;j=json.load(open("job.in.json"));'
        '[j["env"].setdefault(k,v) for k,v in os.environ.items()'
        ' if k.startswith(("SLURM_","CUDA_","ROCR_","HIP_","GPU_DEVICE_ORDINAL"))];'
        'json.dump(j,open("job.json","w"))\' || exit 1',
        f"exec python3 runner.py {folder}",
    ]
    return "\n".join(lines) + "\n"


def runner_job(job: Job, run_id: uuid.UUID, cluster: Cluster) -> dict[str, object]:
    """job.in.json: what the runner runs, in the shape shared/runner.py reads."""
    folder = cluster.run_dir(run_id)
    argv = list(job.argv)
    script_name = None
    if job.script is not None:
        script_name, content = job.script
        path = f"{folder}/{script_name}"
        argv = [path] if content.startswith(b"#!") else ["/bin/sh", path]
    container: dict[str, Any] = {}
    if job.image is not None:
        runtime = next((r for r in CONTAINER_RUNTIMES if r in cluster.node_runtimes), None)
        if runtime is None:
            raise RenderError(f"the node offers no container runtime to run image {job.image!r}")
        vendor = containers.gpu_vendor(job.hardware, [cluster.gpu_vendor])
        argv, container = images.command(runtime, job.image, folder, argv, vendor, run_id)
    env = {"PATH": DEFAULT_PATH} | dict(job.env)
    env["PATH"] = env["PATH"] if "PATH" in job.env else DEFAULT_PATH
    if job.python_requirements:
        venv = venv_dir(cluster, job.python_requirements)
        env["VIRTUAL_ENV"] = venv
        env["PATH"] = f"{venv}/bin:{env['PATH']}"
    env.setdefault("HOME", f"{folder}/work")
    env.setdefault("TMPDIR", f"{folder}/tmp")
    env["TESSERA_HWINFO"] = f"{folder}/hwinfo.json"
    found: dict[str, object] = {
        "argv": argv,
        "env": env,
        "timeout": job.timeout_s,
        "log_cap": job.log_cap,
        "script": script_name,
    }
    if container:
        found["container"] = container
    return found


def uploads(job: Job, run_id: uuid.UUID, cluster: Cluster) -> dict[str, bytes]:
    """Files too large to travel inside the sbatch script: remote path -> content."""
    files = [("job.in.json", json.dumps(runner_job(job, run_id, cluster)).encode(), False)]
    return {
        f"{cluster.run_dir(run_id)}/{path}": content
        for path, content, _ in files + _payload(job)
        if len(content) > INLINE_MAX_BYTES
    }


def _payload(job: Job) -> list[tuple[str, bytes, bool]]:
    """The run's own files: its script, requirements and files, relative to its folder."""
    files = []
    if job.script is not None:
        files.append((job.script[0], job.script[1], True))
    if job.python_requirements:
        files.append(("requirements.txt", "\n".join(job.python_requirements).encode(), False))
    for relative, content, executable in job.files:
        if relative.startswith("/") or ".." in relative.split("/"):
            raise RenderError(f"file path {relative!r} leaves the run's folder")
        files.append((f"work/{relative}", content, executable))
    return files


def place_command(run_id: uuid.UUID, cluster: Cluster, sbatch_script: str) -> str:
    """One remote command: adopt the run's job if it exists, else submit the script.

    The claim is `RUN.claim`, created with noclobber (O_EXCL): the first attempt makes it and
    submits, with sbatch as the only process started. A later attempt finds the claim, looks
    the job up (job id file, squeue and sacct by job name) and adopts it; when nothing is
    found and the claim is younger than CLAIM_WAIT_S, the first attempt may still be in
    sbatch, so it waits that long before submitting. Prints `adopt ID` or `new ID`.
    """
    runs = f"{cluster.base}/runs"
    claim, jobid = q(f"{runs}/{run_id}.claim"), q(f"{runs}/{run_id}.jobid")
    name = q(job_name(run_id))
    sacct = "sacct -c" if cluster.accounting == "jobcomp" else "sacct -X"
    by_name = f"-n -P --name={name} -o JobID 2>/dev/null | grep -v '\\.' | tail -n 1"
    recent = f"[ $(( $(date +%s) - $(stat -c %Y {claim}) )) -lt {CLAIM_WAIT_S} ]"
    end = f"TESSERA_SBATCH_{secrets.token_hex(8)}"
    if end in sbatch_script:
        raise RenderError("the sbatch script holds its own end marker")
    lines = [
        "__tessera_place() {",
        "local - id i",
        "set -C",
        f"if ! {{ : > {claim}; }} 2>/dev/null; then",
        f"  for i in $(seq {CLAIM_WAIT_S}); do",
        f"    if [ -s {jobid} ]; then",
        f'      read -r id < {jobid}; echo "adopt ${{id%%;*}}"; return 0',
        "    fi",
        f"    id=$(squeue -h -t all --name={name} -o %i | head -n 1)",
        f'    [ -n "$id" ] || id=$({sacct} {by_name})',
        f'    if [ -n "$id" ]; then echo "$id" >| {jobid}; echo "adopt $id"; return 0; fi',
        f"    {recent} || break",
        "    sleep 1",
        "  done",
        "fi",
        f"sbatch --parsable >| {jobid} <<'{end}' || return 1",
        sbatch_script.rstrip("\n"),
        end,
        f'read -r id < {jobid}; echo "new ${{id%%;*}}"',
        "}",
        "__tessera_place",
    ]
    return "\n".join(lines)


def observe_command(base: str, jobs: Mapping[uuid.UUID, str], accounting: str) -> str:
    """One squeue (the account's jobs); one sacct for the jobs squeue no longer lists (ended
    more than MinJobAge ago), skipped when there are none; which folders hold status.json;
    then the nodes as the scheduler allocated them (`scontrol show node -d`: GresUsed)."""
    ids = sorted({j for j in jobs.values() if j})
    runs = " ".join(str(run_id) for run_id in jobs)
    sacct = "sacct -c" if accounting == "jobcomp" else "sacct -X"
    fmt, fields = shlex.quote(parse.SQUEUE_FORMAT), parse.SACCT_FIELDS
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
        f"stat -c '%s %n' -- " + " ".join(f"{r}/log" for r in jobs) + " 2>/dev/null; }; "
        f"echo {SECTION}; scontrol show node -d -o 2>/dev/null; true"
    )


def discover_command() -> str:
    """One command for a refresh: every node as scontrol sees it (with -d, what its jobs
    hold), sinfo's view, the account's jobs (what Tessera's own hold), then what runs may
    ask of the cluster: the user's associations (account, qos; where sacctmgr answers) and
    the reservations."""
    return (
        f"scontrol show node -d -o && echo {SECTION} && "
        f"sinfo -h -N -o {shlex.quote(nodes.SINFO_FORMAT)} && echo {SECTION} && "
        f"{{ squeue -h --me -o {shlex.quote(parse.SQUEUE_FORMAT)} 2>/dev/null; true; }} && "
        f"echo {SECTION} && "
        f'{{ sacctmgr -n -P show assoc user="$(id -un)" format=account,qos 2>/dev/null '
        f"|| echo {parse.UNREADABLE}; }} && echo {SECTION} && "
        f"{{ scontrol show reservation -o 2>/dev/null || echo {parse.UNREADABLE}; }} && "
        f"echo {SECTION} && "
        "{ srun --help 2>/dev/null | grep -q -- --container-image && echo pyxis; true; }"
    )
