"""Pure: a run on an SSH host as the files of its folder, and the commands that drive it.

The folder is BASE/runs/<run id> on the host (BASE is the config's work_dir under the user's
home, then the node's name). It holds job.json (what the runner runs), request.json (what
host.py claims before it starts the run: GPUs by eligible index, cores, memory), the script,
the run's files under work/, and start.sh when the run needs a venv built on the host.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import uuid
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from shared import hardware
from shared.config import Settings
from shared.testbeds import containers
from shared.testbeds.base import Job, RenderError
from shared.testbeds.local import render as local_render

HOST_PATH = "/usr/local/bin:/usr/bin:/bin"


def run_folder(base: str, run_id: uuid.UUID) -> str:
    return f"{base}/runs/{run_id}"


def venv_dir(base: str, requirements: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:16]
    return f"{base}/venvs/{digest}"


def gpu_request(job: Job, gpus: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per accelerator the run asks for: how many, and the host's devices that fit it
    (`hardware.fits`: the model, vendor and memory the spec names), as CUDA_VISIBLE_DEVICES
    names them (an index, a MIG slice's UUID)."""
    groups = []
    for spec in job.hardware.accelerators:
        eligible = [
            str(gpu.get("device", gpu["index"]))
            for gpu in gpus
            if hardware.fits(
                spec,
                hardware.NodeAccelerator(
                    "gpu", str(gpu["vendor"]), str(gpu["model"]), gpu.get("memory_bytes"), 1
                ),
            )
        ]
        if len(eligible) < spec.count:
            raise RenderError(
                f"the host has {len(eligible)} GPUs that fit, the run asks {spec.count}"
            )
        groups.append({"count": spec.count, "eligible": eligible})
    return groups


def start_script(base: str, folder: str, requirements: Sequence[str]) -> str:
    """Build the run's venv once per set of requirements (under a lock), then run the
    runner; a failed build is recorded as the run's end."""
    venv = shlex.quote(venv_dir(base, requirements))
    failed = json.dumps({"exit_code": 97, "error": "venv build failed", "timed_out": False,
                         "cancelled": False, "signal": None})  # fmt: skip
    here = shlex.quote(folder)
    return "\n".join(
        [
            "#!/bin/sh",
            f"cd {here} || exit 1",
            f"V={venv}",
            'if [ ! -x "$V/bin/python" ]; then',
            '  mkdir -p "$(dirname "$V")"',
            '  ( flock 9 && { [ -x "$V/bin/python" ] || { rm -rf "$V.tmp" &&'
            ' python3 -m venv "$V.tmp" && "$V.tmp/bin/pip" install -q -r requirements.txt'
            ' > venv.log 2>&1 && mv "$V.tmp" "$V"; }; } ) 9>"$V.lock"'
            f" || {{ printf '%s' {shlex.quote(failed)} > status.json; exit 97; }}",
            "fi",
            f"exec python3 -I {here}/runner.py {here}",
            "",
        ]
    )


def files(
    job: Job,
    run_id: uuid.UUID,
    base: str,
    inventory: Mapping[str, Any],
    settings: Settings,
) -> dict[str, bytes]:
    """Every file of the run's folder on the host, by absolute path."""
    folder = run_folder(base, run_id)
    where = PurePosixPath(folder)
    runtimes = set(inventory.get("runtimes") or ())
    vendor = containers.gpu_vendor(job.hardware, containers.node_vendors(inventory))
    if job.image is not None:
        if "podman" not in runtimes:
            raise RenderError(
                f"image {job.image!r} needs podman on the host; it offers {sorted(runtimes)}"
            )
        spec = local_render.image_job(where, job, "podman", HOST_PATH, settings, vendor)
    else:
        spec = local_render.host_job(where, job)
        spec["env"].setdefault("PATH", HOST_PATH)
    gpus = (inventory.get("ssh") or {}).get("gpus") or []
    request = {
        "gpus": gpu_request(job, gpus),
        "gpu_vendor": vendor,
        "cpu": job.cpu,
        "memory": job.memory,
    }
    out = {
        f"{folder}/job.json": json.dumps(spec).encode(),
        f"{folder}/request.json": json.dumps(request).encode(),
    }
    for relative, content, _ in job.files:
        out[f"{folder}/work/{relative}"] = content
    if job.script is not None:
        out[f"{folder}/{job.script[0]}"] = job.script[1]
    if job.python_requirements and job.image is None:
        venv = venv_dir(base, job.python_requirements)
        spec["env"]["VIRTUAL_ENV"] = venv
        spec["env"]["PATH"] = f"{venv}/bin:{spec['env']['PATH']}"
        out[f"{folder}/job.json"] = json.dumps(spec).encode()
        out[f"{folder}/requirements.txt"] = "\n".join(job.python_requirements).encode() + b"\n"
        out[f"{folder}/start.sh"] = start_script(base, folder, job.python_requirements).encode()
    return out


def executable_modes(job: Job, run_id: uuid.UUID, base: str) -> list[str]:
    """The paths among the run's files that must be executable (its script and files)."""
    folder = run_folder(base, run_id)
    paths = [f"{folder}/work/{relative}" for relative, _, executable in job.files if executable]
    if job.script is not None:
        paths.append(f"{folder}/{job.script[0]}")
    return paths


def host_command(lib: str, *words: str) -> str:
    """`python3 LIB/host.py WORDS...`, every word quoted."""
    return " ".join(["python3", "-I", shlex.quote(f"{lib}/host.py"), *map(shlex.quote, words)])


def place_command(lib: str, base: str, run_id: uuid.UUID, executable: Sequence[str]) -> str:
    """Once the files are there: the run's scratch folders, its executables marked so, then
    host.py place (which claims what the run asks and starts it, or says wait)."""
    folder = shlex.quote(run_folder(base, run_id))
    parts = [f"mkdir -p {folder}/work {folder}/tmp {shlex.quote(base)}/claims"]
    if executable:
        parts.append("chmod 755 " + " ".join(shlex.quote(p) for p in executable))
    parts.append(host_command(lib, "place", base, str(run_id)))
    return " && ".join(parts)
